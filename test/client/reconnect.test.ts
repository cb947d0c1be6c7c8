// Reconnect: the back-off law, reason-aware retry, resubscribe, in-flight resend with DUP, the
// offline queue, Server Reference. Real sockets: the in-process broker and the scripted fake server
// for flows a broker does not show on demand, `moat broker` processes for restarts and refusals.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Broker } from '../../src/broker/broker.js';
import { connect, parseClientOptions, type DisconnectReason, type MqttClient } from '../../src/client/index.js';
import { adviseRetry, backoffCap, backoffDelay, parseServerReference } from '../../src/client/reconnect.js';
import type { ConnackPacket, Packet, PublishPacket } from '../../src/codec/types.js';
import { listenTcp } from '../../src/transport/tcp.js';
import { startMoat } from '../kit/moat.js';
import { freePort } from '../kit/ports.js';
import { acceptConnect, delay, startBroker, startFakeServer, within } from './helper.js';

const LAW = { initialDelayMs: 1000, maxDelayMs: 60_000, multiplier: 2 };
const POLICY = { ...LAW, retryOnAuthFailure: false };

function until<T>(register: (resolve: (value: T) => void) => void): Promise<T> {
  return new Promise((resolve) => register(resolve));
}

test('backoffDelay: full jitter in [0, min(max, initial × multiplier^(n-1))]', () => {
  assert.equal(backoffDelay(1, LAW, () => 0), 0);
  assert.equal(backoffDelay(5, LAW, () => 0), 0);
  // random → 1: the cap itself (attempt 1: 1000, 2: 2000, 3: 4000, ...).
  for (const [attempt, cap] of [[1, 1000], [2, 2000], [3, 4000], [6, 32_000], [7, 60_000], [40, 60_000], [5000, 60_000]] as const) {
    assert.equal(backoffCap(attempt, LAW), cap, `cap of attempt ${attempt}`);
    const top = backoffDelay(attempt, LAW, () => 0.999_999);
    assert.ok(top <= cap && top >= cap * 0.999, `attempt ${attempt}: ${top} near ${cap}`);
  }
  assert.equal(backoffDelay(3, LAW, () => 0.5), 2000);
  // "back off hard": the maximum delay is the cap from the first attempt.
  assert.equal(backoffCap(1, { ...LAW, hard: true }), 60_000);
  assert.ok(backoffDelay(1, { ...LAW, hard: true }, () => 0.999_999) >= 59_900);
  // Math.random: every draw within the cap.
  for (let i = 0; i < 1000; i++) {
    const d = backoffDelay(4, LAW);
    assert.ok(d >= 0 && d <= 8000 && Number.isInteger(d));
  }
});

test('the broker reason decides: stop on 0x86/0x87/0x8A (3.1.1: 4/5), back off hard on 0x97/0x9F and DISCONNECT 0x89, normally on CONNACK 0x89 (3.1.1: 3), follow 0x9C/0x9D', () => {
  for (const code of [0x86, 0x87, 0x8a]) assert.equal(adviseRetry('connack', code, 5, POLICY).action, 'stop', `0x${code.toString(16)}`);
  for (const code of [4, 5]) assert.equal(adviseRetry('connack', code, 4, POLICY).action, 'stop', `3.1.1 ${code}`);
  assert.deepEqual(adviseRetry('connack', 0x87, 5, { ...POLICY, retryOnAuthFailure: true }), { action: 'retry', hard: true });
  assert.deepEqual(adviseRetry('connack', 5, 4, { ...POLICY, retryOnAuthFailure: true }), { action: 'retry', hard: true });
  for (const code of [0x97, 0x9f]) assert.deepEqual(adviseRetry('connack', code, 5, POLICY), { action: 'retry', hard: true });
  for (const code of [0x89, 0x97, 0x9f]) assert.deepEqual(adviseRetry('disconnect', code, 5, POLICY), { action: 'retry', hard: true });
  // A broker refusing logins as busy (a login storm) answers at once: the normal back-off gets a client in soon after (issue 9).
  assert.deepEqual(adviseRetry('connack', 0x89, 5, POLICY), { action: 'retry', hard: false });
  assert.deepEqual(adviseRetry('connack', 3, 4, POLICY), { action: 'retry', hard: false });
  assert.deepEqual(adviseRetry('disconnect', 0x8b, 5, POLICY), { action: 'retry', hard: false });
  assert.equal(adviseRetry('disconnect', 0x8e, 5, POLICY).action, 'stop');
  assert.deepEqual(adviseRetry('disconnect', 0x9d, 5, POLICY, { serverReference: 'other:1884' }), { action: 'retry', hard: false, serverReference: 'other:1884' });
  assert.deepEqual(parseServerReference('other:1884', 1883), { host: 'other', port: 1884 });
  assert.deepEqual(parseServerReference('other', 1883), { host: 'other', port: 1883 });
  assert.deepEqual(parseServerReference('[::1]:9 b:2', 1883), { host: '::1', port: 9 });
  assert.equal(parseServerReference('a:b:c', 1883), undefined);
});

test('reconnect and offlineQueue options: defaults, and a bad value names the option', () => {
  const resolved = parseClientOptions({});
  assert.deepEqual(resolved.reconnect, { initialDelayMs: 1000, maxDelayMs: 60_000, multiplier: 2, retryOnAuthFailure: false });
  assert.deepEqual(resolved.offlineQueue, { maxMessages: 1000, maxBytes: 1024 * 1024, overflow: 'drop-oldest' });
  assert.equal(parseClientOptions({ reconnect: false }).reconnect, undefined);
  assert.throws(() => parseClientOptions({ reconnect: { initialDelayMs: -1 } }), { code: 'MOAT_ERR_INVALID_OPTION', message: /reconnect\.initialDelayMs/ });
  assert.throws(() => parseClientOptions({ reconnect: { multiplier: 0.5 } }), { message: /reconnect\.multiplier/ });
  assert.throws(() => parseClientOptions({ reconnect: { initialDelayMs: 500, maxDelayMs: 100 } }), { message: /reconnect\.maxDelayMs/ });
  assert.throws(() => parseClientOptions({ reconnect: { retry: true } as never }), { message: /reconnect\.retry/ });
  assert.throws(() => parseClientOptions({ offlineQueue: { overflow: 'drop' as never } }), { message: /offlineQueue\.overflow/ });
  assert.throws(() => parseClientOptions({ offlineQueue: { maxBytes: 1.5 } }), { message: /offlineQueue\.maxBytes/ });
  assert.throws(() => parseClientOptions({ onReconnecting: 3 as never }), { message: /onReconnecting must be a function/ });
});

test('against a closed port, onReconnecting delays follow the law: attempt n waits within [0, min(400, 50 × 2^(n-1))]', async () => {
  const server = await startBroker();
  const seen: Array<{ attempt: number; delayMs: number; at: number }> = [];
  const client = await connect(server.url, { reconnect: { initialDelayMs: 50, maxDelayMs: 400 }, onReconnecting: (attempt, delayMs) => seen.push({ attempt, delayMs, at: Date.now() }) });
  const lost = until<DisconnectReason>((resolve) => client.onDisconnect(resolve));
  await server.close();
  const reason = await within(2000, lost, 'onDisconnect');
  assert.equal(reason.reconnecting, true);
  assert.equal(reason.reasonCode, 0x8b);
  while (seen.length < 6) await delay(20);
  await client.end();
  seen.forEach(({ attempt, delayMs }, i) => {
    assert.equal(attempt, i + 1);
    assert.ok(delayMs >= 0 && delayMs <= Math.min(400, 50 * 2 ** i), `attempt ${attempt} waited ${delayMs} ms`);
  });
  // Each attempt started no earlier than the delay announced before it.
  for (let i = 1; i < seen.length; i++) {
    const gap = (seen[i]?.at ?? 0) - (seen[i - 1]?.at ?? 0);
    assert.ok(gap >= (seen[i - 1]?.delayMs ?? 0) - 2, `gap ${gap} < delay ${seen[i - 1]?.delayMs}`);
  }
  const count = seen.length;
  await delay(300);
  assert.equal(seen.length, count, 'end() stops reconnecting');
  assert.equal(client.connected, false);
});

test('never retry in a loop on 0x87 / return code 5: a broker restarted with allow_anonymous false stops the client', async () => {
  const port = await freePort();
  let moat = await startMoat({ config: `listener ${port} 127.0.0.1\nallow_anonymous true\n` });
  const clients: Array<{ client: MqttClient; attempts: number; final: Promise<DisconnectReason> }> = [];
  for (const protocolVersion of [5, 4] as const) {
    const entry = { attempts: 0 } as { client: MqttClient; attempts: number; final: Promise<DisconnectReason> };
    entry.client = await connect(moat.url, { protocolVersion, reconnect: { initialDelayMs: 50, maxDelayMs: 200 }, onReconnecting: () => entry.attempts++ });
    entry.final = until((resolve) => entry.client.onDisconnect((reason) => reason.reconnecting !== true && resolve(reason)));
    clients.push(entry);
  }
  try {
    await moat.stop();
    moat = await startMoat({ config: `listener ${port} 127.0.0.1\nallow_anonymous false\n` });
    const [v5, v4] = clients as [(typeof clients)[0], (typeof clients)[0]];
    const r5 = await within(10_000, v5.final, 'the v5 client to stop');
    assert.equal(r5.reasonCode, 0x87);
    assert.match(r5.message, /refused the reconnect: 0x87 Not authorized.*Not reconnecting: .*credentials/);
    const r4 = await within(10_000, v4.final, 'the 3.1.1 client to stop');
    assert.equal(r4.reasonCode, 5);
    assert.match(r4.message, /Not reconnecting/);
    const counts = clients.map((c) => c.attempts);
    await delay(500);
    assert.deepEqual(clients.map((c) => c.attempts), counts, 'no onReconnecting after the stop');
    for (const { client } of clients) {
      assert.equal(client.connected, false);
      assert.equal(client.reconnecting, false);
      await assert.rejects(client.publish('t', 'x'), { code: 'MOAT_ERR_CLIENT_CLOSED', message: /Not reconnecting/ });
    }
  } finally {
    for (const { client } of clients) await client.end();
    await moat.stop();
  }
});

test('after a broker restart (no session kept) the client resubscribes and messages flow again; messages() survives', async () => {
  const port = await freePort();
  const config = `listener ${port} 127.0.0.1\nallow_anonymous true\n`;
  let moat = await startMoat({ config });
  const subscriber = await connect(moat.url, { reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
  try {
    assert.deepEqual(await subscriber.subscribe(['r/a', 'r/b/#'], { qos: 1 }), [1, 1]);
    const iterator = subscriber.messages('r/#');
    await moat.stop();
    const back = until<ConnackPacket>((resolve) => subscriber.onConnect(resolve));
    moat = await startMoat({ config });
    const connack = await within(10_000, back, 'onConnect after the restart');
    assert.equal(connack.sessionPresent, false);
    assert.equal(subscriber.sessionPresent, false);
    const publisher = await connect(moat.url);
    await publisher.publish('r/a', 'one', { qos: 1 });
    await publisher.publish('r/b/c', 'two', { qos: 1 });
    await publisher.end();
    const got = [await within(2000, iterator.next(), 'message 1'), await within(2000, iterator.next(), 'message 2')];
    assert.deepEqual(got.map((r) => `${r.value?.topic} ${r.value?.payload.toString()}`), ['r/a one', 'r/b/c two']);
  } finally {
    await subscriber.end();
    await moat.stop();
  }
});

test('unacknowledged QoS 1 and 2 PUBLISHes are resent with DUP=1, and PUBREL past PUBREC, before anything new', async () => {
  let connections = 0;
  const fake = await startFakeServer((packet, connection) => {
    if (packet.type === 'connect') {
      connections++;
      acceptConnect(packet, connection);
      return;
    }
    if (connections === 1) {
      // First connection: PUBREC the QoS 2 message, ack nothing else, then drop the connection.
      if (packet.type === 'publish' && packet.qos === 2) connection.send({ type: 'pubrec', packetId: packet.packetId as number });
      if (packet.type === 'pubrel') connection.socket.destroy();
      return;
    }
    if (packet.type === 'publish' && packet.qos === 1) connection.send({ type: 'puback', packetId: packet.packetId as number });
    if (packet.type === 'pubrel') connection.send({ type: 'pubcomp', packetId: packet.packetId });
  });
  const client = await connect(fake.url, { reconnect: { initialDelayMs: 10, maxDelayMs: 20 } });
  try {
    const q1 = client.publish('t/1', 'one', { qos: 1 });
    const q2 = client.publish('t/2', 'two', { qos: 2 });
    await within(3000, until((resolve) => client.onConnect(resolve)), 'the reconnect');
    const later = client.publish('t/3', 'three', { qos: 1 });
    await within(2000, Promise.all([q1, q2, later]), 'all flows to complete');
    const first = fake.connections[0]?.received.filter((p) => p.type !== 'connect') ?? [];
    const second = fake.connections[1]?.received.filter((p) => p.type !== 'connect') ?? [];
    const p1 = first[0] as PublishPacket;
    assert.equal(p1.dup, false);
    const summary = (p: Packet): string => (p.type === 'publish' ? `publish ${p.topic} id=${p.packetId} dup=${p.dup}` : `${p.type} id=${'packetId' in p ? p.packetId : ''}`);
    const q1Id = p1.packetId;
    const q2Id = (first[1] as PublishPacket).packetId;
    assert.deepEqual(second.map(summary).slice(0, 2), [`publish t/1 id=${q1Id} dup=true`, `pubrel id=${q2Id}`]);
    assert.match(summary(second[2] as Packet), /^publish t\/3 id=\d+ dup=false$/);
  } finally {
    await client.end();
    await fake.close();
  }
});

async function reconnectingClient(overflow: 'drop-oldest' | 'drop-newest' | 'error', limits: { maxMessages?: number; maxBytes?: number }) {
  const server = await startBroker();
  const client = await connect(server.url, { reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 }, offlineQueue: { ...limits, overflow } });
  const lost = until((resolve) => client.onDisconnect(resolve));
  await server.close();
  await within(2000, lost, 'onDisconnect');
  assert.equal(client.reconnecting, true);
  return client;
}

test('offline queue overflow drop-oldest: the oldest queued publish rejects MOAT_ERR_OFFLINE_QUEUE_DROPPED', async () => {
  const client = await reconnectingClient('drop-oldest', { maxMessages: 2 });
  const results = ['a', 'b', 'c'].map((p) => client.publish('t', p, { qos: 1 }).then(() => 'sent', (e: Error & { code?: string }) => e.code));
  await delay(10);
  await client.end();
  assert.deepEqual(await Promise.all(results), ['MOAT_ERR_OFFLINE_QUEUE_DROPPED', 'MOAT_ERR_CONNECTION_CLOSED', 'MOAT_ERR_CONNECTION_CLOSED']);
});

test('offline queue overflow drop-newest and error; maxBytes bounds the queue too', async () => {
  const newest = await reconnectingClient('drop-newest', { maxMessages: 2 });
  const n = ['a', 'b', 'c'].map((p) => newest.publish('t', p).then(() => 'sent', (e: Error & { code?: string }) => e.code));
  await delay(10);
  await newest.end();
  assert.deepEqual(await Promise.all(n), ['MOAT_ERR_CONNECTION_CLOSED', 'MOAT_ERR_CONNECTION_CLOSED', 'MOAT_ERR_OFFLINE_QUEUE_DROPPED']);

  const error = await reconnectingClient('error', { maxBytes: 40 });
  const ok = error.publish('t', Buffer.alloc(20)).catch((e: Error & { code?: string }) => e.code);
  await assert.rejects(error.publish('t', Buffer.alloc(20)), { name: 'MqttError', code: 'MOAT_ERR_OFFLINE_QUEUE_FULL', message: /offline queue is full: 1\/1000 messages, 2\d\/40 bytes/ });
  await error.end();
  assert.equal(await ok, 'MOAT_ERR_CONNECTION_CLOSED');
});

test('publishes queued while reconnecting are sent after the reconnect, in order, and their promises resolve', async () => {
  const port = await freePort();
  let broker = new Broker();
  let listening = await listenTcp(broker, { host: '127.0.0.1', port });
  const url = `mqtt://127.0.0.1:${port}`;
  const client = await connect(url, { reconnect: { initialDelayMs: 20, maxDelayMs: 50 } });
  try {
    const lost = until((resolve) => client.onDisconnect(resolve));
    broker.close();
    await listening.close();
    await lost;
    const sent = [0, 1, 2, 3, 4].map((i) => client.publish('q/x', String(i), { qos: (i % 3) as 0 | 1 | 2 }));
    broker = new Broker();
    listening = await listenTcp(broker, { host: '127.0.0.1', port });
    const watcher = await connect(url, { reconnect: false });
    await watcher.subscribe('q/#', { qos: 2 });
    const got: string[] = [];
    watcher.onMessage((m) => got.push(m.payload.toString()));
    await within(3000, Promise.all(sent), 'the queued publishes');
    await delay(50);
    assert.deepEqual(got, ['0', '1', '2', '3', '4']);
    await watcher.end();
  } finally {
    await client.end();
    broker.close();
    await listening.close();
  }
});

test('Server Reference: DISCONNECT 0x9D Server moved sends the next attempt to the new address', async () => {
  const target = await startFakeServer((packet, connection) => acceptConnect(packet, connection));
  const targetPort = new URL(target.url).port;
  const origin = await startFakeServer((packet, connection) => acceptConnect(packet, connection));
  const client = await connect(origin.url, { reconnect: { initialDelayMs: 10, maxDelayMs: 20 } });
  try {
    const back = until((resolve) => client.onConnect(resolve));
    origin.connections[0]?.send({ type: 'disconnect', reasonCode: 0x9d, properties: { serverReference: `127.0.0.1:${targetPort}` } });
    await within(2000, back, 'the reconnect to the referenced server');
    assert.equal(target.connections.length, 1);
    assert.equal(origin.connections.length, 1);
  } finally {
    await client.end();
    await origin.close();
    await target.close();
  }
});

test('v5 session taken over (0x8E): no reconnect, so two clients with one id do not fight', async () => {
  const server = await startBroker();
  let attempts = 0;
  const first = await connect(server.url, { clientId: 'fight', reconnect: { initialDelayMs: 10 }, onReconnecting: () => attempts++ });
  const reason = until<DisconnectReason>((resolve) => first.onDisconnect(resolve));
  const second = await connect(server.url, { clientId: 'fight' });
  assert.equal((await within(2000, reason, 'onDisconnect')).reasonCode, 0x8e);
  await delay(100);
  assert.equal(attempts, 0);
  assert.equal(second.connected, true);
  await second.end();
  await server.close();
});

test('subscribe() while reconnecting waits for the connection; messages() lives through reconnects and ends on end()', async () => {
  const port = await freePort();
  let broker = new Broker();
  let listening = await listenTcp(broker, { host: '127.0.0.1', port });
  const url = `mqtt://127.0.0.1:${port}`;
  const client = await connect(url, { reconnect: { initialDelayMs: 20, maxDelayMs: 50 } });
  const iterator = client.messages();
  try {
    const lost = until((resolve) => client.onDisconnect(resolve));
    broker.close();
    await listening.close();
    await lost;
    const subscribing = client.subscribe('late/#', { qos: 1 });
    broker = new Broker();
    listening = await listenTcp(broker, { host: '127.0.0.1', port });
    assert.deepEqual(await within(3000, subscribing, 'the SUBACK after the reconnect'), [1]);
    const publisher = await connect(url, { reconnect: false });
    await publisher.publish('late/x', 'hello', { qos: 1 });
    await publisher.end();
    const { value } = await within(2000, iterator.next(), 'the message');
    assert.equal(value?.payload.toString(), 'hello');
  } finally {
    await client.end();
    broker.close();
    await listening.close();
  }
  assert.equal((await iterator.next()).done, true);
});
