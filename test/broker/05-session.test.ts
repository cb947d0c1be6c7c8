import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Subscription } from '../../src/codec/types.js';
import { connect, startBroker } from './helper.js';

const sub = (filter: string, qos: 0 | 1 | 2 = 1): Subscription => ({ filter, qos, noLocal: false, retainAsPublished: false, retainHandling: 0 });

test('3.1.1 clean session 0: subscriptions and queued QoS 1 messages survive a reconnect', async () => {
  const broker = startBroker();
  const first = await connect(broker, 'durable', { clean: false });
  first.client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('q/#')] });
  await first.client.next('suback');
  first.client.send({ type: 'disconnect' });
  await first.client.waitClosed();

  const { client: publisher } = await connect(broker, 'p');
  for (let i = 0; i < 3; i++) publisher.send({ type: 'publish', topic: 'q/x', payload: Buffer.from(String(i)), qos: 1, retain: false, dup: false, packetId: i + 1 });
  publisher.send({ type: 'publish', topic: 'q/x', payload: Buffer.from('qos0'), qos: 0, retain: false, dup: false });
  await publisher.next('puback');

  const second = await connect(broker, 'durable', { clean: false });
  assert.equal(second.connack.sessionPresent, true);
  const got: string[] = [];
  for (let i = 0; i < 3; i++) {
    const message = await second.client.next('publish');
    got.push(message.payload.toString());
    second.client.send({ type: 'puback', packetId: message.packetId ?? 0 });
  }
  assert.deepEqual(got, ['0', '1', '2']);
  await second.client.nothing('publish'); // QoS 0 is not queued for offline clients (Mosquitto's default)
  broker.close();
});

test('unacknowledged QoS 1/2 messages are resent with DUP on session resume [MQTT-4.4.0-1]', async () => {
  const broker = startBroker();
  const first = await connect(broker, 'flaky', { clean: false, properties: { sessionExpiryInterval: 60 } }, 5);
  first.client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('f', 2)] });
  await first.client.next('suback');
  const { client: publisher } = await connect(broker, 'p');
  publisher.send({ type: 'publish', topic: 'f', payload: Buffer.from('q1'), qos: 1, retain: false, dup: false, packetId: 1 });
  publisher.send({ type: 'publish', topic: 'f', payload: Buffer.from('q2'), qos: 2, retain: false, dup: false, packetId: 2 });
  const m1 = await first.client.next('publish', (p) => p.qos === 1);
  const m2 = await first.client.next('publish', (p) => p.qos === 2);
  assert.equal(m1.dup, false);
  first.client.send({ type: 'pubrec', packetId: m2.packetId ?? 0 });
  await first.client.next('pubrel');
  first.client.stream.destroy(); // neither PUBACK for q1 nor PUBCOMP for q2

  const second = await connect(broker, 'flaky', { clean: false, properties: { sessionExpiryInterval: 60 } }, 5);
  assert.equal(second.connack.sessionPresent, true);
  const resent = await second.client.next('publish');
  assert.equal(resent.dup, true);
  assert.equal(resent.payload.toString(), 'q1');
  assert.equal(resent.packetId, m1.packetId);
  const pubrel = await second.client.next('pubrel');
  assert.equal(pubrel.packetId, m2.packetId);
  broker.close();
});

test('clean start discards the stored session', async () => {
  const broker = startBroker();
  const first = await connect(broker, 'c', { clean: false });
  first.client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('x')] });
  await first.client.next('suback');
  first.client.close();
  await first.client.waitClosed();
  const second = await connect(broker, 'c', { clean: true });
  assert.equal(second.connack.sessionPresent, false);
  assert.equal(broker.getSession('c')?.subscriptions.size, 0);
  broker.close();
});

test('v5 session expiry: the session is gone after its interval', async () => {
  const broker = startBroker();
  const first = await connect(broker, 'brief', { clean: false, properties: { sessionExpiryInterval: 1 } }, 5);
  first.client.stream.destroy();
  await new Promise((r) => setTimeout(r, 1300));
  assert.equal(broker.getSession('brief'), undefined);
  const second = await connect(broker, 'brief', { clean: false, properties: { sessionExpiryInterval: 1 } }, 5);
  assert.equal(second.connack.sessionPresent, false);
  broker.close();
});

test('v5 session expiry 0 (default) ends the session with the connection', async () => {
  const broker = startBroker();
  const first = await connect(broker, 'gone', { clean: false }, 5);
  first.client.close();
  await first.client.waitClosed();
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(broker.getSession('gone'), undefined);
  broker.close();
});

test('DISCONNECT may not raise session expiry from 0: protocol error 0x82 [MQTT-3.14.2-2]', async () => {
  const broker = startBroker();
  const { client } = await connect(broker, 'sneaky', {}, 5);
  client.send({ type: 'disconnect', properties: { sessionExpiryInterval: 100 } });
  assert.equal((await client.next('disconnect')).reasonCode, 0x82);
  broker.close();
});

test('persistent_client_expiration caps sessions and v5 clients are told the capped value', async () => {
  const broker = startBroker({ persistentClientExpiration: 30 });
  const { connack } = await connect(broker, 'capped', { clean: false, properties: { sessionExpiryInterval: 3600 } }, 5);
  assert.equal(connack.properties?.sessionExpiryInterval, 30);
  broker.close();
});
