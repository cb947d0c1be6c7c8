// Logins and ACLs in the engine: password checks (async, off the event loop), Mosquitto 2's refusal
// codes, failed-login bans (a user name's only for addresses that failed themselves), Server busy
// beyond the login bounds, and ACL checks on PUBLISH, SUBSCRIBE, wills and every delivery.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AccessControl } from '../../src/auth/access-control.js';
import { AclFile } from '../../src/auth/acl-file.js';
import { formatPasswordHash, hashPassword, PasswordFile } from '../../src/auth/password-file.js';
import type { BrokerOptions } from '../../src/broker/options.js';
import type { ProtocolVersion } from '../../src/codec/types.js';
import type { Broker } from '../../src/broker/broker.js';
import { connect, duplexPair, open, startBroker, TestClient } from './helper.js';

/** A password file with these users (few PBKDF2 iterations: the tests are about the rules, not the cost). */
async function passwords(users: Record<string, string>, iterations = 1000): Promise<PasswordFile> {
  const lines: string[] = [];
  for (const [user, password] of Object.entries(users)) lines.push(`${user}:${formatPasswordHash(await hashPassword(password, { iterations }))}`);
  return PasswordFile.parse(`${lines.join('\n')}\n`, 'passwd');
}

async function brokerWith(users: Record<string, string>, acl: string | undefined, options: BrokerOptions = {}) {
  const control = AccessControl.of(await passwords(users), acl === undefined ? undefined : AclFile.parse(acl, 'acl'));
  return { broker: startBroker({ allowAnonymous: false, accessControl: control, ...options }), control };
}

/** A raw connection from `address` (the helper's open() always uses 127.0.0.1). */
function openFrom(broker: Broker, address: string, version: ProtocolVersion = 4): TestClient {
  const [clientEnd, brokerEnd] = duplexPair();
  broker.handle(brokerEnd, { remoteAddress: address });
  return new TestClient(clientEnd, version);
}

/** CONNECT from `address`; resolves with the CONNACK's reason code. */
async function connectFrom(broker: Broker, address: string, clientId: string, credentials: ReturnType<typeof login>, version: ProtocolVersion = 5): Promise<number> {
  const client = openFrom(broker, address, version);
  client.send({ type: 'connect', protocolName: 'MQTT', protocolVersion: version, clean: true, keepalive: 0, clientId, ...credentials });
  return (await client.next('connack', () => true, 10_000)).reasonCode;
}

function login(username: string | undefined, password?: string) {
  return {
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password: Buffer.from(password) }),
  };
}

for (const [version, wrong, anonymous] of [
  [5, 0x86, 0x87],
  [4, 4, 5],
] as const) {
  test(`v${version}: right password accepted; wrong password or unknown user → ${wrong}; anonymous → ${anonymous}`, async () => {
    const { broker } = await brokerWith({ alice: 'secret' }, undefined);
    assert.equal((await connect(broker, 'a1', login('alice', 'secret'), version)).connack.reasonCode, 0);
    const refused = await connect(broker, 'a2', login('alice', 'wrong'), version);
    assert.equal(refused.connack.reasonCode, wrong);
    assert.equal(await refused.client.waitClosed(), true);
    const unknown = await connect(broker, 'a3', login('mallory', 'secret'), version);
    assert.equal(unknown.connack.reasonCode, wrong);
    // The same words for both: which of the two was wrong would tell whether the user name exists.
    if (version === 5) {
      assert.equal(refused.connack.properties?.reasonString, 'bad user name or password');
      assert.equal(unknown.connack.properties?.reasonString, 'bad user name or password');
    }
    assert.equal((await connect(broker, 'a4', login('alice'), version)).connack.reasonCode, wrong);
    assert.equal((await connect(broker, 'a5', {}, version)).connack.reasonCode, anonymous);
    broker.close();
  });
}

test('allow_anonymous true with a password file: anonymous clients get in, a wrong password still does not', async () => {
  const { broker } = await brokerWith({ alice: 'secret' }, undefined, { allowAnonymous: true });
  assert.equal((await connect(broker, 'anon', {}, 5)).connack.reasonCode, 0);
  assert.equal((await connect(broker, 'bad', login('alice', 'nope'), 5)).connack.reasonCode, 0x86);
  broker.close();
});

test('a user name with no password file: refused unless anonymous clients are allowed (Mosquitto 2)', async () => {
  const closed = startBroker({ allowAnonymous: false });
  assert.equal((await connect(closed, 'u', login('alice', 'x'), 5)).connack.reasonCode, 0x87);
  closed.close();
  const openBroker = startBroker({ allowAnonymous: true });
  assert.equal((await connect(openBroker, 'u', login('alice', 'x'), 5)).connack.reasonCode, 0);
  openBroker.close();
});

test('packets sent right behind CONNECT wait for the password check and are handled in order', async () => {
  const { broker } = await brokerWith({ alice: 'secret' }, undefined);
  const client = open(broker, 5);
  client.send({ type: 'connect', protocolName: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: 'pipelined', ...login('alice', 'secret') });
  client.send({ type: 'subscribe', packetId: 1, subscriptions: [{ filter: 'pipe/#', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 }] });
  client.send({ type: 'publish', topic: 'pipe/a', payload: Buffer.from('one'), qos: 1, retain: false, dup: false, packetId: 2 });
  client.send({ type: 'publish', topic: 'pipe/b', payload: Buffer.from('two'), qos: 0, retain: false, dup: false });
  assert.equal((await client.next('connack')).reasonCode, 0);
  assert.deepEqual((await client.next('suback')).reasonCodes, [1]);
  assert.equal((await client.next('puback')).packetId, 2);
  const first = await client.next('publish');
  const second = await client.next('publish');
  assert.deepEqual([first.topic, second.topic], ['pipe/a', 'pipe/b']);
  broker.close();
});

test('a client that disconnects while its password is checked leaves nothing behind', async () => {
  const { broker } = await brokerWith({ alice: 'secret' }, undefined);
  const client = open(broker, 4);
  client.send({ type: 'connect', protocolName: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: 'gone', ...login('alice', 'secret') });
  client.close();
  await client.waitClosed();
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(broker.connectedCount, 0);
  assert.equal(broker.getSession('gone'), undefined);
  broker.close();
});

for (const version of [5, 4] as ProtocolVersion[]) {
  test(`v${version}: repeated failures from one address ban it for a while (${version === 5 ? '0x8A' : 'code 5'}), the right password included`, async () => {
    const { broker } = await brokerWith({ alice: 'secret' }, undefined, { authFailureLimit: 3, authBanMs: 400 });
    for (let i = 0; i < 3; i++) assert.equal((await connect(broker, `f${i}`, login('alice', 'guess'), version)).connack.reasonCode, version === 5 ? 0x86 : 4);
    const banned = await connect(broker, 'ok', login('alice', 'secret'), version);
    assert.equal(banned.connack.reasonCode, version === 5 ? 0x8a : 5);
    if (version === 5) assert.match(banned.connack.properties?.reasonString ?? '', /too many failed logins from 127\.0\.0\.1; try again in 1 s/);
    await new Promise((resolve) => setTimeout(resolve, 450));
    assert.equal((await connect(broker, 'ok', login('alice', 'secret'), version)).connack.reasonCode, 0);
    broker.close();
  });
}

test("a user name's ban refuses only addresses that failed themselves; a remembered login gets through it (issue 9)", async () => {
  const { broker } = await brokerWith({ alice: 'secret' }, undefined, { authFailureLimit: 3, authBanMs: 60_000 });
  // Three guesses for alice from three addresses: the name is banned, no address is.
  for (const address of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) assert.equal(await connectFrom(broker, address, `g-${address}`, login('alice', 'guess')), 0x86);
  // A guessing address is refused for the name's ban, even with the right password (not remembered yet)...
  assert.equal(await connectFrom(broker, '10.0.0.1', 'again', login('alice', 'secret')), 0x8a);
  // ...and that refusal counts against it, so it cannot guess on for free.
  assert.equal(await connectFrom(broker, '10.0.0.1', 'again', login('alice', 'guess')), 0x8a);
  assert.equal(await connectFrom(broker, '10.0.0.1', 'again', login('alice', 'secret')), 0x8a);
  // A clean address is not refused for someone else's failures: the real alice logs in.
  assert.equal(await connectFrom(broker, '10.0.0.9', 'alice-home', login('alice', 'secret')), 0);
  // Now remembered, the right password gets through the name's ban from an address that failed once...
  assert.equal(await connectFrom(broker, '10.0.0.2', 'alice-phone', login('alice', 'secret')), 0);
  // ...a wrong one from such an address does not, and the address that kept guessing stays banned itself.
  assert.equal(await connectFrom(broker, '10.0.0.3', 'g', login('alice', 'guess2')), 0x8a);
  assert.equal(await connectFrom(broker, '10.0.0.1', 'again', login('alice', 'secret')), 0x8a);
  broker.close();
});

test('a third login in progress from one address is refused at once: v5 CONNACK 0x89 Server busy, 3.1.1 code 3; counted', async () => {
  const control = AccessControl.of(await passwords({ alice: 'secret', bob: 'pw' }, 100_000), undefined);
  const broker = startBroker({ allowAnonymous: false, accessControl: control });
  const slow = [connectFrom(broker, '10.0.0.1', 's1', login('alice', 'secret')), connectFrom(broker, '10.0.0.1', 's2', login('bob', 'pw'))];
  const started = performance.now();
  assert.equal(await connectFrom(broker, '10.0.0.1', 'busy5', login('alice', 'secret'), 5), 0x89);
  assert.equal(await connectFrom(broker, '10.0.0.1', 'busy4', login('alice', 'secret'), 4), 3);
  assert.ok(performance.now() - started < 100, 'the busy refusals waited for the checks');
  assert.deepEqual(await Promise.all(slow), [0, 0]);
  assert.equal(broker.authenticator.stats.busyRefusals, 2);
  assert.equal(await connectFrom(broker, '10.0.0.1', 'later', login('alice', 'secret')), 0);
  broker.close();
});

test('the login bounds are broker options with range checks that name the option', () => {
  for (const [name, value] of [['authQueueLimit', 0], ['authQueueMaxWaitMs', 0], ['authAddressLimit', 0], ['authHashWorkers', 65], ['authHashWorkers', 1.5]] as const) {
    assert.throws(() => startBroker({ [name]: value }), new RegExp(`Broker option ${name} must be a whole number`));
  }
  const broker = startBroker({ authHashWorkers: 0 });
  assert.ok(broker.options.authHashWorkers >= 1 && broker.options.authHashWorkers <= 4, '0 means one per core, at most 4');
  assert.deepEqual([broker.options.authQueueLimit, broker.options.authQueueMaxWaitMs, broker.options.authAddressLimit], [256, 1000, 2]);
  broker.close();
});

test('password checks run off the event loop: a connected client is served while 16 slow logins are checked', async (t) => {
  // 210,000 PBKDF2-SHA512 iterations per login (moat passwd's default): hundreds of ms each in the hashing pool.
  const users = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`user${i}`, `pw${i}`]));
  const control = AccessControl.of(await passwords(users, 210_000), undefined);
  // Room for all 16 in the queue: this test is about the event loop, not the bounds.
  const broker = startBroker({ allowAnonymous: true, accessControl: control, authQueueMaxWaitMs: 60_000 });
  const { client } = await connect(broker, 'bystander', {}, 4);
  // Each user logs in twice at once, from 16 addresses: one check per user name runs, the twin waits and finds it remembered.
  const logins = Array.from({ length: 16 }, (_, i) => {
    const storm = openFrom(broker, `10.0.1.${i + 1}`, 4);
    storm.send({ type: 'connect', protocolName: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: `storm${i}`, ...login(`user${i % 8}`, `pw${i % 8}`) });
    return storm.next('connack', () => true, 60_000);
  });
  const gaps: number[] = [];
  let pending = true;
  // allSettled: a failed login must end the loop too (the assertion below reports it).
  void Promise.allSettled(logins).then(() => (pending = false));
  // Each round waits on a timer first: the in-memory pair answers within microtasks, and a loop of
  // those alone would starve the I/O phase that delivers the finished password checks.
  const TICK_MS = 5;
  while (pending) {
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, TICK_MS));
    client.send({ type: 'pingreq' });
    await client.next('pingresp');
    gaps.push(performance.now() - started - TICK_MS);
  }
  const results = await Promise.all(logins);
  assert.ok(results.every((connack) => connack.reasonCode === 0), JSON.stringify(results.map((c) => c.reasonCode)));
  assert.equal(broker.authenticator.stats.checks, 8, 'one hash per user name');
  assert.equal(broker.authenticator.stats.remembered, 8);
  const worst = Math.max(...gaps);
  const sorted = [...gaps].sort((a, b) => a - b);
  t.diagnostic(`PINGREQ round trips during 16 logins at 210,000 iterations: n=${gaps.length} median=${(sorted[sorted.length >> 1] ?? 0).toFixed(2)} ms worst=${worst.toFixed(2)} ms`);
  // Checked on the loop, 8 checks would hold it for the sum of their costs (well over a second here).
  assert.ok(worst < 250, `a PINGREQ waited ${worst.toFixed(1)} ms behind the logins`);
  assert.ok(gaps.length >= 3, `only ${gaps.length} round trips happened during the logins`);
  broker.close();
});

test('a reloaded password file takes effect for the next login, even for a remembered password', async () => {
  const { broker, control } = await brokerWith({ alice: 'old' }, undefined);
  assert.equal((await connect(broker, 'a', login('alice', 'old'), 5)).connack.reasonCode, 0);
  control.passwords = await passwords({ alice: 'new' });
  assert.equal((await connect(broker, 'b', login('alice', 'old'), 5)).connack.reasonCode, 0x86);
  assert.equal((await connect(broker, 'c', login('alice', 'new'), 5)).connack.reasonCode, 0);
  broker.close();
});

const ACL = ['user alice', 'topic readwrite alice/#', 'topic read shared/#', 'topic deny shared/secret', 'pattern write devices/%c/status', ''].join('\n');

test('ACL: PUBLISH to a topic the user may not write → v5 PUBACK/PUBREC 0x87, 3.1.1 acknowledged and dropped', async () => {
  const { broker } = await brokerWith({ alice: 'a' }, ACL, { allowAnonymous: true });
  const watcher = (await connect(broker, 'watch', {}, 5)).client;
  watcher.send({ type: 'subscribe', packetId: 1, subscriptions: [{ filter: '#', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 }] });
  // The anonymous watcher has no rule at all: its SUBSCRIBE is refused.
  assert.deepEqual((await watcher.next('suback')).reasonCodes, [0x87]);

  const v5 = (await connect(broker, 'alice5', login('alice', 'a'), 5)).client;
  v5.send({ type: 'publish', topic: 'shared/news', payload: Buffer.from('x'), qos: 1, retain: false, dup: false, packetId: 7 });
  assert.equal((await v5.next('puback')).reasonCode, 0x87);
  v5.send({ type: 'publish', topic: 'shared/news', payload: Buffer.from('x'), qos: 2, retain: false, dup: false, packetId: 8 });
  assert.equal((await v5.next('pubrec')).reasonCode, 0x87);
  v5.send({ type: 'publish', topic: 'devices/alice5/status', payload: Buffer.from('up'), qos: 1, retain: false, dup: false, packetId: 9 });
  assert.equal((await v5.next('puback')).reasonCode ?? 0, 0x10); // allowed by the %c pattern; nobody subscribed

  const v4 = (await connect(broker, 'alice4', login('alice', 'a'), 4)).client;
  v4.send({ type: 'subscribe', packetId: 1, subscriptions: [{ filter: 'alice/#', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 }] });
  await v4.next('suback');
  v4.send({ type: 'publish', topic: 'shared/news', payload: Buffer.from('x'), qos: 1, retain: false, dup: false, packetId: 3 });
  assert.equal((await v4.next('puback')).packetId, 3);
  v4.send({ type: 'publish', topic: 'alice/ok', payload: Buffer.from('y'), qos: 0, retain: false, dup: false });
  assert.equal((await v4.next('publish')).topic, 'alice/ok');
  await v4.nothing('publish', 50);
  broker.close();
});

test('ACL: SUBSCRIBE per filter → v5 0x87, 3.1.1 0x80; granted filters still work in the same packet', async () => {
  const { broker } = await brokerWith({ alice: 'a' }, ACL);
  for (const [version, refused] of [
    [5, 0x87],
    [4, 0x80],
  ] as const) {
    const { client } = await connect(broker, `s${version}`, login('alice', 'a'), version);
    const subscriptions = ['alice/+', 'bob/#', 'shared/#', '$SYS/#'].map((filter) => ({ filter, qos: 1 as const, noLocal: false, retainAsPublished: false, retainHandling: 0 as const }));
    client.send({ type: 'subscribe', packetId: 4, subscriptions });
    assert.deepEqual((await client.next('suback')).reasonCodes, [1, refused, 1, refused]);
  }
  broker.close();
});

test('ACL: retained messages and live messages are checked at delivery (deny inside a readable subtree)', async () => {
  const { broker } = await brokerWith({ alice: 'a' }, ACL, { allowAnonymous: true });
  broker.publishSimple('shared/secret', 'hidden', 1, true);
  broker.publishSimple('shared/open', 'visible', 1, true);
  const { client } = await connect(broker, 'reader', login('alice', 'a'), 5);
  client.send({ type: 'subscribe', packetId: 1, subscriptions: [{ filter: 'shared/#', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 }] });
  await client.next('suback');
  const retained = await client.next('publish');
  assert.equal(retained.topic, 'shared/open');
  broker.publishSimple('shared/secret', 'live hidden', 0, false);
  broker.publishSimple('shared/open', 'live visible', 0, false);
  assert.equal((await client.next('publish')).payload.toString(), 'live visible');
  await client.nothing('publish', 50);
  broker.close();
});

test('ACL: a will to a topic the client may not write refuses the CONNECT (0x87 / 5)', async () => {
  const { broker } = await brokerWith({ alice: 'a' }, ACL);
  const will = { topic: 'shared/will', payload: Buffer.from('bye'), qos: 0 as const, retain: false };
  assert.equal((await connect(broker, 'w5', { ...login('alice', 'a'), will }, 5)).connack.reasonCode, 0x87);
  assert.equal((await connect(broker, 'w4', { ...login('alice', 'a'), will }, 4)).connack.reasonCode, 5);
  const allowed = { ...will, topic: 'alice/will' };
  assert.equal((await connect(broker, 'w', { ...login('alice', 'a'), will: allowed }, 5)).connack.reasonCode, 0);
  broker.close();
});

test('ACL: a reload that removes read access stops deliveries on existing subscriptions', async () => {
  const { broker, control } = await brokerWith({ alice: 'a' }, ACL);
  const { client } = await connect(broker, 'r', login('alice', 'a'), 5);
  client.send({ type: 'subscribe', packetId: 1, subscriptions: [{ filter: 'shared/#', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 }] });
  await client.next('suback');
  broker.publishSimple('shared/x', 'before');
  assert.equal((await client.next('publish')).payload.toString(), 'before');
  control.acl = AclFile.parse('user alice\ntopic readwrite alice/#\n', 'acl');
  broker.publishSimple('shared/x', 'after');
  await client.nothing('publish', 50);
  broker.close();
});
