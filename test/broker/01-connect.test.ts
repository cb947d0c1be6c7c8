import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect, open, startBroker } from './helper.js';

test('CONNECT 3.1.1 is accepted with return code 0 and no session present', async () => {
  const broker = startBroker();
  const { client, connack } = await connect(broker, 'c1');
  assert.equal(connack.reasonCode, 0);
  assert.equal(connack.sessionPresent, false);
  client.close();
  broker.close();
});

test('MQTT 3.1 (MQIsdp, level 3) clients connect', async () => {
  const broker = startBroker();
  const { connack } = await connect(broker, 'old', {}, 3);
  assert.equal(connack.reasonCode, 0);
  broker.close();
});

test('v5 empty client id gets an assigned client identifier [MQTT-3.2.2-16]', async () => {
  const broker = startBroker();
  const { connack } = await connect(broker, '', {}, 5);
  assert.equal(connack.reasonCode, 0);
  assert.match(connack.properties?.assignedClientIdentifier ?? '', /^auto-/);
  broker.close();
});

test('3.1.1 empty client id with clean session 0 is rejected with return code 2 [MQTT-3.1.3-8]', async () => {
  const broker = startBroker();
  const { client, connack } = await connect(broker, '', { clean: false });
  assert.equal(connack.reasonCode, 2);
  assert.equal(await client.waitClosed(), true);
  broker.close();
});

test('anonymous refused when not allowed: v5 0x87, 3.1.1 return code 5', async () => {
  const broker = startBroker({ allowAnonymous: false });
  assert.equal((await connect(broker, 'a', {}, 5)).connack.reasonCode, 0x87);
  assert.equal((await connect(broker, 'b', {}, 4)).connack.reasonCode, 5);
  broker.close();
});

test('unsupported protocol level gets CONNACK return code 1 and close', async () => {
  const broker = startBroker();
  const client = open(broker);
  // CONNECT, protocol name MQTT, level 6
  client.sendRaw([0x10, 0x0d, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x06, 0x02, 0x00, 0x3c, 0x00, 0x01, 0x61]);
  const connack = await client.next('connack');
  assert.equal(connack.reasonCode, 1);
  assert.equal(await client.waitClosed(), true);
  broker.close();
});

test('a second CONNECT closes the connection [MQTT-3.1.0-2]', async () => {
  const broker = startBroker();
  const { client } = await connect(broker, 'twice', {}, 5);
  client.send({ type: 'connect', protocolName: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: 'twice' });
  const disconnect = await client.next('disconnect');
  assert.equal(disconnect.reasonCode, 0x82);
  assert.equal(await client.waitClosed(), true);
  broker.close();
});

test('PUBLISH before CONNECT closes the connection without reply [MQTT-3.1.0-1]', async () => {
  const broker = startBroker();
  const client = open(broker);
  client.send({ type: 'publish', topic: 'a', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
  assert.equal(await client.waitClosed(), true);
  assert.equal(client.received.length, 0);
  broker.close();
});

test('a socket that sends no CONNECT is closed after the connect timeout', async () => {
  const broker = startBroker({ connectTimeoutMs: 100 });
  const client = open(broker);
  assert.equal(await client.waitClosed(1000), true);
  broker.close();
});

test('session takeover: the older connection gets DISCONNECT 0x8E [MQTT-3.1.4-3]', async () => {
  const broker = startBroker();
  const first = await connect(broker, 'same', {}, 5);
  const second = await connect(broker, 'same', {}, 5);
  assert.equal(second.connack.reasonCode, 0);
  const disconnect = await first.client.next('disconnect');
  assert.equal(disconnect.reasonCode, 0x8e);
  assert.equal(await first.client.waitClosed(), true);
  assert.equal(broker.connectedCount, 1);
  broker.close();
});

test('keep alive above max_keepalive: v5 gets Server Keep Alive, 3.1.1 is refused with code 2', async () => {
  const broker = startBroker({ maxKeepalive: 30 });
  const v5 = await connect(broker, 'k5', { keepalive: 120 }, 5);
  assert.equal(v5.connack.reasonCode, 0);
  assert.equal(v5.connack.properties?.serverKeepAlive, 30);
  const v4 = await connect(broker, 'k4', { keepalive: 120 }, 4);
  assert.equal(v4.connack.reasonCode, 2);
  broker.close();
});

test('keep alive is enforced at 1.5x: a silent v5 client gets DISCONNECT 0x8D', async () => {
  const broker = startBroker();
  const { client } = await connect(broker, 'quiet', { keepalive: 1 }, 5);
  const started = Date.now();
  const disconnect = await client.next('disconnect', () => true, 5000);
  const elapsed = Date.now() - started;
  assert.equal(disconnect.reasonCode, 0x8d);
  assert.ok(elapsed >= 1400, `closed after ${elapsed} ms, before 1.5 x keep alive`);
  broker.close();
});

test('PINGREQ keeps the connection alive and gets PINGRESP', async () => {
  const broker = startBroker();
  const { client } = await connect(broker, 'pinger', { keepalive: 1 });
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 600));
    client.send({ type: 'pingreq' });
    await client.next('pingresp');
  }
  assert.equal(client.closed, false);
  broker.close();
});

test('v5 CONNACK advertises the broker limits', async () => {
  const broker = startBroker({ maxInflightMessages: 10, maxTopicAlias: 5, maxPacketSize: 1000, retainAvailable: false });
  const { connack } = await connect(broker, 'limits', {}, 5);
  assert.equal(connack.properties?.receiveMaximum, 10);
  assert.equal(connack.properties?.topicAliasMaximum, 5);
  assert.equal(connack.properties?.maximumPacketSize, 1000);
  assert.equal(connack.properties?.retainAvailable, 0);
  broker.close();
});

test('the outgoing window is a v5 client\'s Receive Maximum and max_inflight_messages for 3.1.1, as in Mosquitto 2', async () => {
  const broker = startBroker({ maxInflightMessages: 20 });
  const { client: v5 } = await connect(broker, 'wide', { properties: { receiveMaximum: 100 } }, 5);
  const { client: v4 } = await connect(broker, 'narrow');
  for (const client of [v5, v4]) {
    client.send({ type: 'subscribe', packetId: 1, subscriptions: [{ filter: 'w/#', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 }] });
    await client.next('suback');
  }
  for (let i = 0; i < 150; i++) broker.publishSimple('w/x', String(i), 1);
  await new Promise((r) => setTimeout(r, 50));
  // Nothing acknowledged: exactly one window each has been sent.
  assert.equal(v5.received.filter((p) => p.type === 'publish').length, 100);
  assert.equal(v4.received.filter((p) => p.type === 'publish').length, 20);
  broker.close();
});
