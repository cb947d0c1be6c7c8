import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect, type DisconnectReason } from '../../src/client/index.js';
import { acceptConnect, startBroker, startFakeServer, within } from './helper.js';

function disconnected(client: Awaited<ReturnType<typeof connect>>): Promise<DisconnectReason> {
  return new Promise((resolve) => client.onDisconnect(resolve));
}

test('v5 session takeover: the first client gets DISCONNECT 0x8E "Session taken over" [MQTT-3.1.4-3]', async () => {
  const server = await startBroker();
  const first = await connect(server.url, { clientId: 'same' });
  const reason = disconnected(first);
  const second = await connect(server.url, { clientId: 'same' });
  const { reasonCode, message } = await within(2000, reason, 'onDisconnect');
  assert.equal(reasonCode, 0x8e);
  assert.match(message, /^The server disconnected: 0x8E Session taken over: .*\(server says: session taken over\)$/);
  assert.equal(first.connected, false);
  assert.equal(second.connected, true);
  await first.end(); // already closed: resolves at once
  await second.end();
  await server.close();
});

test('3.1.1 session takeover: the server just closes; onDisconnect says so, without a reason code', async () => {
  const server = await startBroker();
  // reconnect: false — with reconnect on, a 3.1.1 takeover (no reason code) would take the session back.
  const first = await connect(server.url, { clientId: 'same4', protocolVersion: 4, reconnect: false });
  const reason = disconnected(first);
  const second = await connect(server.url, { clientId: 'same4', protocolVersion: 4 });
  const got = await within(2000, reason, 'onDisconnect');
  assert.equal(got.reasonCode, undefined);
  assert.match(got.message, /The server closed the connection \(MQTT 3\.1\.1 servers give no reason/);
  await second.end();
  await server.close();
});

test('a server DISCONNECT is reported with its reason in words; pending flows and iterators end', async () => {
  const fake = await startFakeServer((packet, connection) => acceptConnect(packet, connection));
  // reconnect: false: the terminal behaviour (reconnect.test.ts covers what survives a reconnect).
  const client = await connect(fake.url, { reconnect: false });
  const reason = disconnected(client);
  const iterator = client.messages();
  const pending = client.publish('t', 'never acked', { qos: 1 });
  const subscribing = client.subscribe('never/acked');
  fake.connections[0]?.send({ type: 'disconnect', reasonCode: 0x8b, properties: { reasonString: 'maintenance' } });
  const got = await within(2000, reason, 'onDisconnect');
  assert.equal(got.reasonCode, 0x8b);
  assert.match(got.message, /0x8B Server shutting down.*\(server says: maintenance\)/);
  await assert.rejects(pending, { code: 'MOAT_ERR_CONNECTION_CLOSED', reasonCode: 0x8b, message: /Server shutting down/ });
  await assert.rejects(subscribing, { code: 'MOAT_ERR_CONNECTION_CLOSED' });
  assert.equal((await iterator.next()).done, true);
  await client.end();
  await fake.close();
});

test('broker.close() reaches onDisconnect as 0x8B Server shutting down', async () => {
  const server = await startBroker();
  const client = await connect(server.url, { reconnect: false });
  const reason = disconnected(client);
  await server.close();
  const got = await within(2000, reason, 'onDisconnect');
  assert.equal(got.reasonCode, 0x8b);
  assert.match(got.message, /Server shutting down/);
});

test('end() sends DISCONNECT, closes the socket and reports a normal disconnection', async () => {
  const server = await startBroker();
  const client = await connect(server.url, { clientId: 'ender', will: { topic: 'wills/ender', payload: 'died' } });
  const watcher = await connect(server.url);
  let willSeen = false;
  watcher.onMessage(() => (willSeen = true));
  await watcher.subscribe('wills/#');
  const reason = disconnected(client);
  await client.end();
  assert.deepEqual(await reason, { reasonCode: 0, message: 'The client ended the connection (end()).' });
  // DISCONNECT 0x00 suppresses the will [MQTT-3.1.2-10].
  await watcher.subscribe('sync');
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(willSeen, false);
  // A handler registered after the fact still hears why.
  assert.equal((await disconnected(client)).reasonCode, 0);
  await watcher.end();
  await server.close();
});

test('keep alive: PINGREQ when idle; no PINGRESP closes the connection with a clear message', async () => {
  let answerPings = true;
  const fake = await startFakeServer((packet, connection) => {
    acceptConnect(packet, connection);
    if (packet.type === 'pingreq' && answerPings) {
      connection.send({ type: 'pingresp' });
      answerPings = false; // answer the first ping only
    }
  });
  const client = await connect(fake.url, { keepalive: 1, reconnect: false });
  const reason = disconnected(client);
  const started = Date.now();
  const got = await within(4000, reason, 'the keep alive timeout');
  const elapsed = Date.now() - started;
  const pings = fake.connections[0]?.received.filter((p) => p.type === 'pingreq').length;
  assert.equal(pings, 2);
  assert.match(got.message, /No PINGRESP within 500 ms of a PINGREQ \(keepalive 1 s\)/);
  assert.ok(elapsed >= 2000 && elapsed < 3500, `closed after ${elapsed} ms`);
  await fake.close();
});

test('v5 Server Keep Alive from CONNACK replaces the requested keep alive', async () => {
  const fake = await startFakeServer((packet, connection) => {
    acceptConnect(packet, connection, { serverKeepAlive: 1 });
    if (packet.type === 'pingreq') connection.send({ type: 'pingresp' });
  });
  const client = await connect(fake.url, { keepalive: 600 });
  await new Promise((resolve) => setTimeout(resolve, 1300));
  assert.equal(fake.connections[0]?.received.filter((p) => p.type === 'pingreq').length, 1);
  assert.equal(client.connected, true);
  await client.end();
  await fake.close();
});

test('a server protocol violation is answered with DISCONNECT and reported (bad topic alias → 0x94)', async () => {
  const fake = await startFakeServer((packet, connection) => {
    acceptConnect(packet, connection);
    if (packet.type === 'subscribe') {
      connection.send({ type: 'suback', packetId: packet.packetId, reasonCodes: [0] });
      connection.send({ type: 'publish', topic: 'x', payload: Buffer.from('1'), qos: 0, retain: false, dup: false, properties: { topicAlias: 9 } });
    }
  });
  const client = await connect(fake.url, { properties: { topicAliasMaximum: 2 }, reconnect: false });
  const reason = disconnected(client);
  await client.subscribe('#');
  const got = await within(2000, reason, 'onDisconnect');
  assert.equal(got.reasonCode, 0x94);
  assert.match(got.message, /topic alias 9, but this client allows 1\.\.2/);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const last = fake.connections[0]?.received.at(-1);
  assert.ok(last?.type === 'disconnect');
  assert.equal(last.reasonCode, 0x94);
  await fake.close();
});
