// Issue 12, the second pass on idle memory: connected clients are reached through their sessions
// (the broker's Set keeps only connections without one), times are kept as small integers since
// a process-wide origin, and the peer address is read once. Each must keep its behaviour.
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { test } from 'node:test';
import type { Broker } from '../../src/broker/broker.js';
import { CLOCK_ORIGIN, fromOrigin, sinceOrigin } from '../../src/broker/clock.js';
import type { ProtocolVersion } from '../../src/codec/types.js';
import { encode } from '../../src/codec/encode.js';
import { listenTcp } from '../../src/transport/tcp.js';
import { until } from '../kit/wait.js';
import { connect, duplexPair, startBroker, TestClient } from './helper.js';

test('clock: times since the origin are exact at the edges of the small-integer range and past it', () => {
  const edges = [0, 1, -1, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 40, -CLOCK_ORIGIN, Number.MAX_SAFE_INTEGER - CLOCK_ORIGIN];
  for (const since of edges) {
    const ms = CLOCK_ORIGIN + since;
    assert.equal(sinceOrigin(ms), since, `since ${since}`);
    assert.equal(fromOrigin(sinceOrigin(ms)), ms, `round trip ${ms}`);
  }
  // Past 2^31 ms the `| 0` wraps: the value must not.
  assert.equal(sinceOrigin(CLOCK_ORIGIN + 2 ** 31 + 5), 2 ** 31 + 5);
  assert.equal(sinceOrigin(CLOCK_ORIGIN + 0.5), 0.5);
  assert.equal(fromOrigin(sinceOrigin(Date.now() + 1000)) - Date.now() <= 1000, true);
});

async function connectFrom(broker: Broker, clientId: string, version: ProtocolVersion = 4): Promise<{ client: TestClient; reasonCode: number }> {
  const [clientEnd, brokerEnd] = duplexPair();
  broker.handle(brokerEnd, { remoteAddress: '10.9.0.1', listener: 'test' });
  const client = new TestClient(clientEnd, version);
  client.send({ type: 'connect', protocolName: 'MQTT', protocolVersion: version, clean: true, keepalive: 0, clientId });
  return { client, reasonCode: (await client.next('connack')).reasonCode };
}

test('a session taken over frees its connection slot once: the next client gets it, the one after is refused', async () => {
  const broker = startBroker({ globalMaxConnections: 2 });
  const first = await connectFrom(broker, 'same');
  const again = await connectFrom(broker, 'same');
  assert.deepEqual([first.reasonCode, again.reasonCode], [0, 0]);
  assert.equal(await first.client.waitClosed(), true);
  await until(() => broker.admission.global.open === 1, 2000, 'the taken-over connection freed its slot');
  assert.equal((await connectFrom(broker, 'other')).reasonCode, 0);
  assert.equal(broker.admission.global.open, 2);
  assert.equal((await connectFrom(broker, 'third')).reasonCode, 3);
  assert.equal(broker.connectedCount, 2);
  broker.close();
  await until(() => broker.admission.global.open === 0, 2000, 'close() reached every connection, connected or not');
});

test('close() reaches connections before CONNECT as well as connected ones', async () => {
  const broker = startBroker();
  const { client } = await connect(broker, 'connected');
  const [silentEnd, brokerEnd] = duplexPair();
  broker.handle(brokerEnd, { remoteAddress: '10.9.0.2', listener: 'test' });
  const silent = new TestClient(silentEnd, 4);
  broker.close();
  assert.deepEqual(await Promise.all([client.waitClosed(), silent.waitClosed()]), [true, true]);
});

test('connect timeout still closes a socket that never sends CONNECT (the sweep reaches unattached connections)', async () => {
  const broker = startBroker({ connectTimeoutMs: 300 });
  const [silentEnd, brokerEnd] = duplexPair();
  broker.handle(brokerEnd, { remoteAddress: '10.9.0.3', listener: 'test' });
  assert.equal(await new TestClient(silentEnd, 4).waitClosed(), true);
  broker.close();
});

test('over TCP the peer address is read once and kept after the socket lets its cache go', async () => {
  const broker = startBroker();
  const tcp = await listenTcp(broker, { host: '127.0.0.1', port: 0, policy: { allowAnonymous: true } });
  const socket = netConnect(tcp.port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  const client = new TestClient(socket, 4);
  client.send({ type: 'connect', protocolName: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: 'addressed' });
  assert.equal((await client.next('connack')).reasonCode, 0);
  const connection = broker.getSession('addressed')?.connection;
  assert.match(connection?.remoteAddress ?? '', /127\.0\.0\.1$/);
  assert.equal((connection?.stream as { _peername?: unknown })._peername, undefined);
  assert.match((connection?.stream as { remoteAddress?: string }).remoteAddress ?? '', /127\.0\.0\.1$/);
  socket.destroy();
  await until(() => broker.connectedCount === 0, 2000, 'disconnected');
  assert.match(connection?.remoteAddress ?? '', /127\.0\.0\.1$/, 'still known after close');
  broker.close();
  await tcp.close();
});

test('a TCP socket keeps one end listener (ours, then net.Socket\'s own): a PUBLISH sent just before FIN is still routed', async () => {
  const broker = startBroker({ allowAnonymous: true });
  const tcp = await listenTcp(broker, { host: '127.0.0.1', port: 0, policy: { allowAnonymous: true } });
  try {
    const { client: watcher } = await connect(broker, 'watcher');
    watcher.send({ type: 'subscribe', packetId: 1, subscriptions: [{ filter: 'fin/#', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 }] });
    await watcher.next('suback');
    const socket = netConnect(tcp.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const client = new TestClient(socket, 4);
    client.send({ type: 'connect', protocolName: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: 'fin' });
    await client.next('connack');
    const stream = broker.getSession('fin')?.connection?.stream;
    assert.equal(stream?.listenerCount('end'), 1, 'no listener array on an idle socket');
    // PUBLISH and FIN in one go: the parser's packet is handled before the socket ends its side.
    socket.end(Buffer.concat([encode({ type: "publish", topic: "fin/last", payload: Buffer.from("bye"), qos: 0, retain: false, dup: false }, 4)]));
    const routed = await watcher.next('publish');
    assert.equal(routed.topic, 'fin/last');
    await until(() => broker.connectedCount === 1, 2000, 'the publisher gone');
  } finally {
    broker.close();
    await tcp.close();
  }
});
