import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Subscription } from '../../src/codec/types.js';
import { connect, startBroker } from './helper.js';

const sub = (filter: string, qos: 0 | 1 | 2 = 0): Subscription => ({ filter, qos, noLocal: false, retainAsPublished: false, retainHandling: 0 });

test('incoming topic alias: set once, then used with an empty topic', async () => {
  const broker = startBroker();
  const { client: subscriber } = await connect(broker, 's');
  subscriber.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('long/topic/name')] });
  await subscriber.next('suback');
  const { client } = await connect(broker, 'p', {}, 5);
  client.send({ type: 'publish', topic: 'long/topic/name', payload: Buffer.from('1'), qos: 0, retain: false, dup: false, properties: { topicAlias: 3 } });
  client.send({ type: 'publish', topic: '', payload: Buffer.from('2'), qos: 0, retain: false, dup: false, properties: { topicAlias: 3 } });
  assert.equal((await subscriber.next('publish')).topic, 'long/topic/name');
  const second = await subscriber.next('publish');
  assert.equal(second.topic, 'long/topic/name');
  assert.equal(second.payload.toString(), '2');
  broker.close();
});

test('topic alias above the maximum gets DISCONNECT 0x94', async () => {
  const broker = startBroker({ maxTopicAlias: 2 });
  const { client } = await connect(broker, 'p', {}, 5);
  client.send({ type: 'publish', topic: 't', payload: Buffer.from('1'), qos: 0, retain: false, dup: false, properties: { topicAlias: 3 } });
  assert.equal((await client.next('disconnect')).reasonCode, 0x94);
  broker.close();
});

test('an unknown alias with an empty topic is a protocol error 0x82', async () => {
  const broker = startBroker();
  const { client } = await connect(broker, 'p', {}, 5);
  client.send({ type: 'publish', topic: '', payload: Buffer.from('1'), qos: 0, retain: false, dup: false, properties: { topicAlias: 1 } });
  assert.equal((await client.next('disconnect')).reasonCode, 0x82);
  broker.close();
});

test('outgoing topic aliases are used when the client allows them', async () => {
  const broker = startBroker();
  const { client: subscriber } = await connect(broker, 's', { properties: { topicAliasMaximum: 5 } }, 5);
  subscriber.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('a/b')] });
  await subscriber.next('suback');
  const { client } = await connect(broker, 'p');
  client.send({ type: 'publish', topic: 'a/b', payload: Buffer.from('1'), qos: 0, retain: false, dup: false });
  client.send({ type: 'publish', topic: 'a/b', payload: Buffer.from('2'), qos: 0, retain: false, dup: false });
  const first = await subscriber.next('publish');
  assert.equal(first.topic, 'a/b');
  assert.equal(first.properties?.topicAlias, 1);
  const second = await subscriber.next('publish');
  assert.equal(second.topic, '');
  assert.equal(second.properties?.topicAlias, 1);
  broker.close();
});

test('message expiry: expired queued messages are not delivered, live ones carry the remaining interval', async () => {
  const broker = startBroker();
  const properties = { sessionExpiryInterval: 60 };
  const first = await connect(broker, 'late', { clean: false, properties }, 5);
  first.client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('e', 1)] });
  await first.client.next('suback');
  first.client.send({ type: 'disconnect' });
  await first.client.waitClosed();
  const { client: publisher } = await connect(broker, 'p', {}, 5);
  publisher.send({ type: 'publish', topic: 'e', payload: Buffer.from('short'), qos: 1, retain: false, dup: false, packetId: 1, properties: { messageExpiryInterval: 1 } });
  publisher.send({ type: 'publish', topic: 'e', payload: Buffer.from('long'), qos: 1, retain: false, dup: false, packetId: 2, properties: { messageExpiryInterval: 60 } });
  await publisher.next('puback');
  await publisher.next('puback');
  await new Promise((r) => setTimeout(r, 2100));
  const second = await connect(broker, 'late', { clean: false, properties }, 5);
  const message = await second.client.next('publish');
  assert.equal(message.payload.toString(), 'long');
  const left = message.properties?.messageExpiryInterval ?? 0;
  assert.ok(left <= 58 && left > 0, `remaining interval ${left}`);
  await second.client.nothing('publish');
  broker.close();
});

test('user properties, content type, correlation data, response topic and payload format pass through', async () => {
  const broker = startBroker();
  const { client: subscriber } = await connect(broker, 's', {}, 5);
  subscriber.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('req')] });
  await subscriber.next('suback');
  const { client } = await connect(broker, 'p', {}, 5);
  const properties = {
    payloadFormatIndicator: 1,
    contentType: 'application/json',
    responseTopic: 'resp/1',
    correlationData: Buffer.from([1, 2, 3]),
    userProperties: [['a', '1'], ['a', '2'], ['b', '3']] as Array<[string, string]>,
  };
  client.send({ type: 'publish', topic: 'req', payload: Buffer.from('{}'), qos: 0, retain: false, dup: false, properties });
  const message = await subscriber.next('publish');
  assert.deepEqual(message.properties, properties);
  broker.close();
});

test('messages larger than the client Maximum Packet Size are not sent to it [MQTT-3.1.2-25]', async () => {
  const broker = startBroker();
  const { client: subscriber } = await connect(broker, 's', { properties: { maximumPacketSize: 64 } }, 5);
  subscriber.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('m')] });
  await subscriber.next('suback');
  const { client } = await connect(broker, 'p');
  client.send({ type: 'publish', topic: 'm', payload: Buffer.alloc(100), qos: 0, retain: false, dup: false });
  client.send({ type: 'publish', topic: 'm', payload: Buffer.from('small'), qos: 0, retain: false, dup: false });
  assert.equal((await subscriber.next('publish')).payload.toString(), 'small');
  broker.close();
});

test('a packet over the broker maximum packet size gets DISCONNECT 0x95', async () => {
  const broker = startBroker({ maxPacketSize: 100 });
  const { client } = await connect(broker, 'p', {}, 5);
  client.send({ type: 'publish', topic: 'm', payload: Buffer.alloc(200), qos: 0, retain: false, dup: false });
  assert.equal((await client.next('disconnect')).reasonCode, 0x95);
  broker.close();
});
