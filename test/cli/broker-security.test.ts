// `moat broker` as a real process, secure by default: it refuses to start a listener others can
// reach with no way to log in (and says how to fix it), warns loudly — in its log and in $SYS — when
// allow_anonymous true is explicit there, and on SIGHUP re-reads the password and ACL files: changed
// or removed users are disconnected, others stay; new rules apply to new subscriptions, to retained
// messages and to live deliveries; a broken file keeps the old rules and is named in the log.
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import { formatPasswordHash, hashPassword } from '../../src/auth/password-file.js';
import { moatCommand, repoRoot, spawnTracked, startMoat, until, type RunningMoat } from '../kit/index.js';

const dir = mkdtempSync(join(tmpdir(), 'moat-broker-security-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A password file; few iterations, the tests are about the rules. */
async function writePasswords(file: string, users: Record<string, string>): Promise<void> {
  const lines = await Promise.all(Object.entries(users).map(async ([user, pw]) => `${user}:${formatPasswordHash(await hashPassword(pw, { iterations: 1000 }))}`));
  writeFileSync(file, `${lines.join('\n')}\n`);
}

/** The SUBACK reason codes, refusals included (MQTT.js rejects a SUBACK with any refusal). */
async function subscribeCodes(client: mqtt.MqttClient, topics: string | string[]): Promise<number[]> {
  try {
    return (await client.subscribeAsync(topics)).map((grant) => grant.qos);
  } catch (error) {
    const granted = (error as { packet?: { granted?: number[] } }).packet?.granted;
    if (granted === undefined) throw error;
    return granted;
  }
}

async function runBroker(config: string): Promise<{ code: number | null; output: string }> {
  const file = join(dir, `refused-${Math.random().toString(36).slice(2)}.conf`);
  writeFileSync(file, config);
  const { command, args } = moatCommand(['broker', '-c', file]);
  const child = await spawnTracked(command, args, { name: 'moat', cwd: repoRoot });
  const { code } = await child.exited;
  return { code, output: child.logs.join('\n') };
}

test('a listener on all interfaces with no password file and no allow_anonymous refuses to start, naming file:line and the fix', async () => {
  const { code, output } = await runBroker('# production\nlistener 0 0.0.0.0\n');
  assert.equal(code, 2);
  assert.match(output, /refusing to start: listener 0\.0\.0\.0:any free port \(.*refused-.*\.conf:2\) can be reached from other machines/);
  assert.match(output, /password_file/);
  assert.match(output, /moat passwd -c/);
  assert.match(output, /127\.0\.0\.1/);
});

test('allow_anonymous true on all interfaces starts with a loud warning, also retained in $SYS/broker/security/warnings', async () => {
  // Bound to all interfaces, but the test only ever connects to 127.0.0.1.
  const moat = await startMoat({ config: 'listener 0 0.0.0.0\nallow_anonymous true\nsys_interval 1\n' });
  try {
    assert.ok(moat.logs.some((l) => l.includes('"event":"insecure_listener"') && l.includes('INSECURE')), moat.logs.join('\n'));
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${moat.port}`, { protocolVersion: 5, reconnectPeriod: 0 });
    const warning = new Promise<string>((resolve) => client.on('message', (topic, payload) => topic === '$SYS/broker/security/warnings' && resolve(payload.toString())));
    await client.subscribeAsync('$SYS/broker/security/warnings');
    assert.match(await warning, /INSECURE: listener 0\.0\.0\.0:any free port lets anyone who can reach it connect/);
    await client.endAsync();
  } finally {
    await moat.stop();
  }
});

describe('SIGHUP reloads the password and ACL files', () => {
  const passwd = join(dir, 'passwd');
  const acl = join(dir, 'acl');
  let moat: RunningMoat;
  const clients: mqtt.MqttClient[] = [];
  const count = (event: string): number => moat.logs.filter((l) => l.includes(`"event":"${event}"`)).length;

  async function login(username: string, password: string, clientId = `${username}-${clients.length}`): Promise<mqtt.MqttClient> {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${moat.port}`, { protocolVersion: 5, reconnectPeriod: 0, clientId, username, password });
    clients.push(client);
    return client;
  }

  /** The CONNACK reason code a login gets (0 = accepted); username undefined = anonymous. */
  async function loginCode(username: string | undefined, password: string | undefined, protocolVersion: 4 | 5 = 5): Promise<number> {
    try {
      const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${moat.port}`, { protocolVersion, reconnectPeriod: 0, ...(username === undefined ? {} : { username, password: password ?? '' }) });
      await client.endAsync();
      return 0;
    } catch (error) {
      return (error as { code?: number }).code ?? -1;
    }
  }

  async function reload(): Promise<void> {
    const before = count('auth_reloaded') + count('auth_reload_failed');
    process.kill(moat.pid, 'SIGHUP');
    await until(() => count('auth_reloaded') + count('auth_reload_failed') > before, 5000, 'the reload log line');
  }

  function messages(client: mqtt.MqttClient): { topic: string; payload: string; retain: boolean }[] {
    const seen: { topic: string; payload: string; retain: boolean }[] = [];
    client.on('message', (topic, payload, packet) => seen.push({ topic, payload: payload.toString(), retain: packet.retain }));
    return seen;
  }

  before(async () => {
    await writePasswords(passwd, { alice: 'alice-pw', bob: 'bob-pw', admin: 'admin-pw' });
    writeFileSync(acl, ['user admin', 'topic readwrite #', 'user alice', 'topic read news/#', 'topic deny news/secret', 'user bob', 'topic read news/#', ''].join('\n'));
    moat = await startMoat({ config: `listener 0 127.0.0.1\npassword_file ${passwd}\nacl_file ${acl}\n` });
    const admin = await login('admin', 'admin-pw', 'admin');
    await admin.publishAsync('news/public', 'retained public', { qos: 1, retain: true });
    await admin.publishAsync('news/secret', 'retained secret', { qos: 1, retain: true });
    await admin.publishAsync('ops/status', 'retained ops', { qos: 1, retain: true });
  });

  after(async () => {
    for (const client of clients) client.end(true);
    await moat?.stop();
  });

  test('wrong passwords get 0x86 (v5) / 4 (3.1.1); anonymous clients are refused by default: 0x87 / 5', async () => {
    assert.equal(await loginCode('alice', 'wrong', 5), 0x86);
    assert.equal(await loginCode('alice', 'wrong', 4), 4);
    assert.equal(await loginCode(undefined, undefined, 5), 0x87);
    assert.equal(await loginCode(undefined, undefined, 4), 5);
    assert.equal(await loginCode('alice', 'alice-pw', 4), 0);
    assert.ok(moat.logs.some((l) => l.includes('"event":"auth_failed"') && l.includes('"address":"127.0.0.1"') && l.includes('wrong password')));
  });

  test('before: alice reads news/# but not news/secret, and not ops/#', async () => {
    const alice = await login('alice', 'alice-pw');
    const seen = messages(alice);
    assert.deepEqual(await subscribeCodes(alice, ['news/#', 'ops/#']), [0, 0x87]);
    await until(() => seen.length >= 1, 2000, 'the retained news');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(seen, [{ topic: 'news/public', payload: 'retained public', retain: true }]);
    await alice.endAsync();
  });

  test('after: removed and changed users are disconnected (0x87), unchanged ones stay; new rules apply to retained and live messages', async () => {
    const alice = await login('alice', 'alice-pw', 'alice-kept');
    const aliceSeen = messages(alice);
    await alice.subscribeAsync('news/#');
    const bob = await login('bob', 'bob-pw', 'bob-changed');
    const admin = await login('admin', 'admin-pw', 'admin-removed');
    const disconnects = new Map<string, number | undefined>();
    for (const [name, client] of [['alice', alice], ['bob', bob], ['admin', admin]] as const) {
      client.on('disconnect', (packet) => disconnects.set(name, packet.reasonCode));
    }
    await until(() => aliceSeen.length >= 1, 2000, 'alice: the retained news');

    // bob's password changes, admin is removed; alice may now read ops/# but no longer news/#.
    // As `moat passwd` edits a file: alice's line stays as it was (a new hash of the same password would
    // count as a change: the broker compares entries, it keeps no passwords).
    const aliceLine = readFileSync(passwd, 'utf8').split('\n').find((line) => line.startsWith('alice:'));
    await writePasswords(passwd, { bob: 'bob-new' });
    appendFileSync(passwd, `${aliceLine}\n`);
    // admin keeps its ACL write rights: with check_retain_source (on by default) the retained ops message
    // goes to new subscribers only while its publisher may still write it.
    writeFileSync(acl, ['user alice', 'topic read ops/#', 'user bob', 'topic readwrite news/#', 'user admin', 'topic write ops/#', 'topic write news/#', ''].join('\n'));
    await reload();

    await until(() => disconnects.size >= 2, 3000, 'bob and admin disconnected');
    assert.equal(disconnects.get('bob'), 0x87);
    assert.equal(disconnects.get('admin'), 0x87);
    assert.equal(disconnects.has('alice'), false);
    assert.ok(alice.connected, 'alice, whose entry did not change, stays connected');
    // bob, and admin's two connections (this one and the publisher from before()).
    assert.ok(moat.logs.some((l) => l.includes('"event":"auth_reloaded"') && l.includes('"revoked":3')), moat.logs.join('\n'));

    // Retained: ops/# is readable now, and its retained message is delivered on SUBSCRIBE.
    const before = aliceSeen.length;
    assert.deepEqual(await subscribeCodes(alice, 'ops/#'), [0]);
    await until(() => aliceSeen.length > before, 2000, 'the retained ops message');
    assert.deepEqual(aliceSeen.at(-1), { topic: 'ops/status', payload: 'retained ops', retain: true });
    // Live: the news/# subscription alice made under the old rules delivers no more; bob's new one does.
    const newsBefore = aliceSeen.length;
    const publisher = await login('bob', 'bob-new', 'bob-new');
    const bobSeen = messages(publisher);
    await publisher.subscribeAsync('news/#');
    await until(() => bobSeen.length >= 2, 2000, 'bob: both retained news');
    await publisher.publishAsync('news/live', 'live news', { qos: 1 });
    await until(() => bobSeen.some((m) => m.topic === 'news/live'), 2000, 'bob: the live news');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(aliceSeen.length, newsBefore, JSON.stringify(aliceSeen));

    assert.equal(await loginCode('bob', 'bob-pw'), 0x86);
    assert.equal(await loginCode('admin', 'admin-pw'), 0x86);
    assert.equal(await loginCode('alice', 'alice-pw'), 0);
  });

  test('a broken ACL file on reload is named with its line and the rules in force stay', async () => {
    writeFileSync(acl, ['user alice', 'topic read ops/#', 'topic sometimes news/#', ''].join('\n'));
    await reload();
    const failure = moat.logs.find((l) => l.includes('"event":"auth_reload_failed"')) ?? '';
    assert.match(failure, /acl:3: invalid access \\"sometimes\\"/);
    const alice = await login('alice', 'alice-pw');
    assert.deepEqual(await subscribeCodes(alice, ['ops/#', 'news/#']), [0, 0x87]);
    await alice.endAsync();
  });
});
