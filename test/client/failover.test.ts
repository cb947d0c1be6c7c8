// Failover between broker URLs (issue 13): connect() given a list tries each in a round, the URL
// that last worked first; a URL that fails, or refuses as one node may (0x97 Quota exceeded, 3
// Server unavailable, 0x88, 0x9C with a Server Reference), hands over to the next at once; bad
// credentials stop; the back-off comes only between rounds. Real `moat broker` processes, killed
// with SIGKILL and restarted on the same port; the scripted fake server only for CONNACK codes no
// broker here sends on demand (0x88 Server unavailable, 0x9C Use another server).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatPasswordHash, hashPassword } from '../../src/auth/password-file.js';
import { connect, parseClientOptions, type DisconnectReason, type FailoverEvent, type MqttClient } from '../../src/client/index.js';
import { isNodeRefusal, parseBrokerUrls, resolveServerReference, roundError, ServerList } from '../../src/client/failover.js';
import { parseBrokerUrl } from '../../src/client/transport.js';
import type { ConnackPacket } from '../../src/codec/types.js';
import { startMoat, type RunningMoat } from '../kit/moat.js';
import { freePort } from '../kit/ports.js';
import { until } from '../kit/wait.js';
import { delay, startFakeServer, within } from './helper.js';

function next<T>(register: (resolve: (value: T) => void) => () => void): Promise<T> {
  return new Promise((resolve) => {
    const remove = register((value) => {
      remove();
      resolve(value);
    });
  });
}

const moatAt = (port: number, extra = ''): Promise<RunningMoat> => startMoat({ config: `listener ${port} 127.0.0.1\nallow_anonymous true\n${extra}` });

test('a list of broker URLs is validated: an empty list, a bad entry (named by its place), a bad onFailover', async () => {
  await assert.rejects(connect([]), { code: 'MOAT_ERR_INVALID_URL', message: /list of broker URLs is empty/ });
  await assert.rejects(connect(['mqtt://127.0.0.1:1883', 'not a url']), { code: 'MOAT_ERR_INVALID_URL', message: /^Broker URL 2 of 2 \(urls\[1\]\): "not a url" is not a URL/ });
  await assert.rejects(connect(['http://127.0.0.1', 'mqtt://127.0.0.1']), { code: 'MOAT_ERR_UNSUPPORTED_SCHEME', message: /^Broker URL 1 of 2 \(urls\[0\]\): "http:\/\/" is not an MQTT URL scheme/ });
  await assert.rejects(connect(['mqtt://127.0.0.1', 'mqtt://']), { code: 'MOAT_ERR_INVALID_URL', message: /urls\[1\]/ });
  await assert.rejects(connect(['mqtt://127.0.0.1', 7 as never]), { code: 'MOAT_ERR_INVALID_URL', message: /urls\[1\]\): The broker URL must be a string/ });
  // The options are checked first, as with one URL.
  await assert.rejects(connect(['mqtt://127.0.0.1', 'nope'], { onFailover: 'log' as never }), { code: 'MOAT_ERR_INVALID_OPTION', message: /onFailover must be a function/ });
  assert.equal(typeof parseClientOptions({ onFailover: () => undefined }).callbacks.onFailover, 'function');
  // Mixed schemes are fine; one string is still one URL.
  assert.deepEqual(parseBrokerUrls(['mqtt://a:1', 'mqtts://b', 'ws://c:8080/mqtt', 'wss://d']).map((a) => `${a.scheme} ${a.host} ${a.port} ${a.path}`), ['mqtt a 1 ', 'mqtts b 8883 ', 'ws c 8080 /mqtt', 'wss d 443 ']);
  assert.equal(parseBrokerUrls('mqtt://a:1').length, 1);
});

test('round order: the URL that last worked first, then the others as given; a Server Reference goes next, once', () => {
  const [a, b, c] = ['mqtt://a:1', 'mqtt://b:1', 'mqtt://c:1'].map(parseBrokerUrl) as [ReturnType<typeof parseBrokerUrl>, ReturnType<typeof parseBrokerUrl>, ReturnType<typeof parseBrokerUrl>];
  const list = new ServerList([a, b, c]);
  const round = (): string[] => {
    const urls: string[] = [];
    for (let address = list.next(); address !== undefined; address = list.next()) urls.push(address.host);
    return urls;
  };
  list.startRound();
  assert.deepEqual(round(), ['a', 'b', 'c']);
  list.worked(b);
  list.startRound();
  assert.deepEqual(round(), ['b', 'a', 'c']);
  list.startRound();
  assert.equal(list.next()?.host, 'b');
  list.refer(c);
  assert.equal(list.peek()?.host, 'c');
  assert.deepEqual(round(), ['c', 'a'], 'the reference is not tried twice');
  list.startRound();
  list.next();
  list.refer(b);
  assert.deepEqual(round(), ['a', 'c'], 'a reference to a URL tried in this round is ignored');
  // References: a URL as it is; host[:port] with the scheme and path of the server that sent it.
  const from = parseBrokerUrl('ws://a:8080/mqtt');
  assert.equal(resolveServerReference('other:9001', from)?.url, 'ws://other:9001/mqtt');
  assert.equal(resolveServerReference('other', from)?.url, 'ws://other:8080/mqtt');
  assert.equal(resolveServerReference('mqtts://x:8884 y:1', from)?.url, 'mqtts://x:8884');
  assert.equal(resolveServerReference('a:b:c', from), undefined);
  assert.equal(resolveServerReference('gopher://x', from), undefined);
  // Refusals another node may not repeat; the rest (credentials, client id, version) stop.
  for (const code of [0x88, 0x89, 0x97, 0x9c, 0x9d, 0x9f]) assert.equal(isNodeRefusal(code, 5), true, `0x${code.toString(16)}`);
  for (const code of [0x84, 0x85, 0x86, 0x87, 0x8a, 0x8c]) assert.equal(isNodeRefusal(code, 5), false, `0x${code.toString(16)}`);
  assert.equal(isNodeRefusal(3, 4), true);
  for (const code of [1, 2, 4, 5]) assert.equal(isNodeRefusal(code, 4), false);
  // One URL: its own error unchanged; several: MOAT_ERR_NO_BROKER listing each.
  const one = new Error('refused');
  assert.equal(roundError([{ url: 'mqtt://a:1', error: one }]), one);
  const all = roundError([{ url: 'mqtt://a:1', error: one }, { url: 'mqtt://b:1', error: new Error('timed out') }]);
  assert.equal((all as { code?: string }).code, 'MOAT_ERR_NO_BROKER');
  assert.equal(all.message, 'None of the 2 broker URLs accepted the connection: 1) mqtt://a:1: refused 2) mqtt://b:1: timed out');
});

test('first URL a closed port, second a running moat: connect() goes on to the second at once (no back-off), client.url says which', async () => {
  const closed = `mqtt://127.0.0.1:${await freePort()}`;
  const moat = await startMoat();
  const failovers: FailoverEvent[] = [];
  let reconnecting = 0;
  const client = await connect([closed, moat.url], { reconnect: { initialDelayMs: 60_000 }, onFailover: (event) => failovers.push(event), onReconnecting: () => reconnecting++ });
  try {
    assert.equal(client.connected, true);
    assert.equal(client.url, moat.url);
    assert.deepEqual(client.urls, [closed, moat.url]);
    assert.equal(failovers.length, 1);
    assert.equal(failovers[0]?.from, closed);
    assert.equal(failovers[0]?.to, moat.url);
    assert.match(failovers[0]?.error.message ?? '', /Could not connect to mqtt:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    assert.equal(reconnecting, 0, 'no back-off within a round');
  } finally {
    await client.end();
    await moat.stop();
  }
  // Every URL fails: one error naming each, after one round (the first connect never retries).
  const other = `mqtt://127.0.0.1:${await freePort()}`;
  await assert.rejects(connect([closed, other], { onReconnecting: () => reconnecting++ }), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'MOAT_ERR_NO_BROKER');
    assert.ok(error.message.includes(`1) ${closed}: Could not connect`) && error.message.includes(`2) ${other}: Could not connect`), error.message);
    return true;
  });
  assert.equal(reconnecting, 0);
});

test('connected to moat A of [A, B]; A killed: the client reconnects to B, resubscribes and gets a message published on B; A back is not switched to while B works; B killed: back to A', async () => {
  const [portA, portB] = [await freePort(), await freePort()];
  let a = await moatAt(portA);
  let b = await moatAt(portB);
  const failovers: FailoverEvent[] = [];
  const client = await connect([a.url, b.url], { clean: false, properties: { sessionExpiryInterval: 300 }, reconnect: { initialDelayMs: 50, maxDelayMs: 200 }, onFailover: (event) => failovers.push(event) });
  let disconnects = 0;
  client.onDisconnect(() => disconnects++);
  try {
    assert.equal(client.url, a.url);
    assert.deepEqual(await client.subscribe('f/#', { qos: 1 }), [1]);
    const messages = client.messages('f/#');
    const onB = next<ConnackPacket>((resolve) => client.onConnect(resolve));
    await a.kill();
    const connack = await within(10_000, onB, 'the reconnect to B');
    assert.equal(client.url, b.url);
    // Two separate brokers: B has no session, so the client subscribed again (a cluster would say sessionPresent).
    assert.equal(connack.sessionPresent, false);
    assert.deepEqual(failovers.map((f) => `${f.from} -> ${f.to}`), [`${a.url} -> ${b.url}`]);
    const publisher = await connect(b.url);
    await publisher.publish('f/1', 'via B', { qos: 1 });
    const got = await within(2000, messages.next(), 'the message published on B');
    assert.equal(got.value?.payload.toString(), 'via B');

    // A is back on its port: the client stays on B, which works.
    a = await moatAt(portA);
    await publisher.publish('f/2', 'still B', { qos: 1 });
    assert.equal((await within(2000, messages.next(), 'the second message on B')).value?.payload.toString(), 'still B');
    await delay(300);
    assert.equal(client.url, b.url);
    assert.equal(disconnects, 1);
    await publisher.end();

    // B killed: the round starts with B (the URL that last worked), then A.
    const onA = next<ConnackPacket>((resolve) => client.onConnect(resolve));
    await b.kill();
    await within(10_000, onA, 'the reconnect to A');
    assert.equal(client.url, a.url);
    assert.deepEqual(failovers.map((f) => `${f.from} -> ${f.to}`).slice(1), [`${b.url} -> ${a.url}`]);
    const publisherA = await connect(a.url);
    await publisherA.publish('f/3', 'via A again', { qos: 1 });
    assert.equal((await within(2000, messages.next(), 'the message published on A')).value?.payload.toString(), 'via A again');
    await publisherA.end();
  } finally {
    await client.end();
    await Promise.all([a.stop(), b.stop()]);
  }
});

test('a moat at max_connections (0x97 Quota exceeded; 3.1.1: 3 Server unavailable) hands over to the next URL; so do 0x88 and a 0x9C Server Reference', async () => {
  const full = await startMoat({ config: 'listener 0 127.0.0.1\nallow_anonymous true\nmax_connections 1\n' });
  const open = await startMoat();
  const holder = await connect(full.url, { reconnect: false });
  try {
    for (const [protocolVersion, code] of [[5, 0x97], [4, 3]] as const) {
      const failovers: FailoverEvent[] = [];
      const client = await connect([full.url, open.url], { protocolVersion, onFailover: (event) => failovers.push(event) });
      assert.equal(client.url, open.url, `protocol ${protocolVersion}`);
      assert.equal(failovers.length, 1);
      assert.equal((failovers[0]?.error as { reasonCode?: number }).reasonCode, code);
      assert.match(failovers[0]?.error.message ?? '', protocolVersion === 5 ? /Quota exceeded/i : /Server unavailable/i);
      await client.end();
    }
  } finally {
    await holder.end();
  }
  // No broker here answers 0x88 or 0x9C on demand: the fake server does. The reference (a URL) is
  // tried before the rest of the list (a closed port).
  const unavailable = await startFakeServer((packet, connection) => {
    if (packet.type === 'connect') connection.send({ type: 'connack', sessionPresent: false, reasonCode: 0x88 });
  });
  const mover = await startFakeServer((packet, connection) => {
    if (packet.type === 'connect') connection.send({ type: 'connack', sessionPresent: false, reasonCode: 0x9c, properties: { serverReference: open.url } });
  });
  const closed = `mqtt://127.0.0.1:${await freePort()}`;
  try {
    const failovers: FailoverEvent[] = [];
    const client = await connect([unavailable.url, mover.url, closed], { onFailover: (event) => failovers.push(event) });
    assert.equal(client.url, open.url);
    assert.deepEqual(failovers.map((f) => `${f.from} -> ${f.to}`), [`${unavailable.url} -> ${mover.url}`, `${mover.url} -> ${open.url}`]);
    assert.match(failovers[0]?.error.message ?? '', /0x88 Server unavailable/i);
    await client.end();
  } finally {
    await Promise.all([unavailable.close(), mover.close(), full.stop(), open.stop()]);
  }
});

test('a bad password stops connect() with the reason in words: the next URL is not tried', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'moat-failover-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const passwords = join(dir, 'passwd');
  await writeFile(passwords, `alice:${formatPasswordHash(await hashPassword('alice-pw', { iterations: 1000 }))}\n`);
  const guarded = await startMoat({ config: `listener 0 127.0.0.1\npassword_file ${passwords}\n` });
  const open = await startMoat();
  t.after(() => Promise.all([guarded.stop(), open.stop()]));
  for (const protocolVersion of [5, 4] as const) {
    let failovers = 0;
    // The open broker would accept: connect() rejecting shows it was not tried.
    await assert.rejects(connect([guarded.url, open.url], { protocolVersion, username: 'alice', password: 'wrong', onFailover: () => failovers++ }), (error: Error & { code?: string; reasonCode?: number }) => {
      assert.equal(error.code, 'MOAT_ERR_CONNACK');
      assert.equal(error.reasonCode, protocolVersion === 5 ? 0x86 : 4);
      assert.match(error.message, /Bad user name or password/i);
      return true;
    });
    assert.equal(failovers, 0);
  }
  // The right password connects to the first.
  const client = await connect([guarded.url, open.url], { username: 'alice', password: 'alice-pw' });
  assert.equal(client.url, guarded.url);
  await client.end();

  // Reconnecting: [A, guarded, open]; A killed: A refuses the TCP connection, the guarded broker
  // the password, and the round stops there (the open broker, which would accept, is not tried).
  const a = await startMoat();
  t.after(() => a.stop());
  const failovers: FailoverEvent[] = [];
  const reconnecting = await connect([a.url, guarded.url, open.url], { username: 'alice', password: 'wrong', reconnect: { initialDelayMs: 20, maxDelayMs: 50 }, onFailover: (event) => failovers.push(event) });
  const final = new Promise<DisconnectReason>((resolve) => reconnecting.onDisconnect((reason) => reason.reconnecting !== true && resolve(reason)));
  await a.kill();
  const reason = await within(10_000, final, 'the client to stop');
  assert.equal(reason.reasonCode, 0x86);
  assert.match(reason.message, new RegExp(`^The server at ${guarded.url} refused the reconnect: .*Bad User Name or Password.*Not reconnecting: `, 'i'));
  assert.deepEqual(failovers.map((f) => `${f.from} -> ${f.to}`), [`${a.url} -> ${guarded.url}`]);
  assert.equal(reconnecting.connected, false);
  assert.equal(reconnecting.url, a.url);
  await reconnecting.end();
});

test('all URLs down: rounds over both with the back-off between them, each round one error naming both; then one comes up and the client is back', async () => {
  const [portA, portB] = [await freePort(), await freePort()];
  const a = await moatAt(portA);
  let b = await moatAt(portB);
  const rounds: Array<{ attempt: number; error: Error | undefined }> = [];
  const failovers: FailoverEvent[] = [];
  const client: MqttClient = await connect([a.url, b.url], {
    reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
    onReconnecting: (attempt, _delayMs, error) => rounds.push({ attempt, error }),
    onFailover: (event) => failovers.push(event),
  });
  try {
    await client.subscribe('down/#', { qos: 1 });
    await Promise.all([a.kill(), b.kill()]);
    await until(() => rounds.length >= 3, 10_000, 'three reconnect rounds');
    assert.deepEqual(rounds.slice(0, 3).map((r) => r.attempt), [1, 2, 3]);
    // Round 1 is announced for the lost connection; rounds 2 and 3 for a round where both failed.
    for (const round of rounds.slice(1, 3)) {
      assert.equal((round.error as { code?: string } | undefined)?.code, 'MOAT_ERR_NO_BROKER');
      assert.ok(round.error?.message.includes(a.url) && round.error.message.includes(b.url), round.error?.message);
    }
    // Each round: A (the URL that last worked) first, then B; no failover from the last URL of a round.
    assert.deepEqual(failovers.slice(0, 2).map((f) => `${f.from} -> ${f.to}`), [`${a.url} -> ${b.url}`, `${a.url} -> ${b.url}`]);
    const back = next<ConnackPacket>((resolve) => client.onConnect(resolve));
    b = await moatAt(portB);
    await within(10_000, back, 'the reconnect to B');
    assert.equal(client.url, b.url);
    assert.equal(client.connected, true);
    const publisher = await connect(b.url);
    const messages = client.messages('down/#');
    await publisher.publish('down/x', 'up again', { qos: 1 });
    assert.equal((await within(2000, messages.next(), 'the message after the rounds')).value?.payload.toString(), 'up again');
    await publisher.end();
  } finally {
    await client.end();
    await Promise.all([a.stop(), b.stop()]);
  }
});
