import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Subscription } from '../../src/codec/types.js';
import { connect, duplexPair, startBroker, TestClient } from './helper.js';

const sub = (filter: string, qos: 0 | 1 | 2): Subscription => ({ filter, qos, noLocal: false, retainAsPublished: false, retainHandling: 0 });

test('max_queued_messages: an offline session keeps at most that many, dropping the newest', async () => {
  const broker = startBroker({ maxQueuedMessages: 3 });
  const first = await connect(broker, 'slow', { clean: false });
  first.client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('q', 1)] });
  await first.client.next('suback');
  first.client.send({ type: 'disconnect' });
  await first.client.waitClosed();
  for (let i = 0; i < 5; i++) broker.publishSimple('q', String(i), 1);
  assert.equal(broker.getSession('slow')?.queueLength, 3);
  assert.equal(broker.getSession('slow')?.dropped, 2);
  broker.close();
});

test('max_queued_bytes: the queue stops at the byte limit', async () => {
  const broker = startBroker({ maxQueuedBytes: 250 });
  const first = await connect(broker, 'slow', { clean: false });
  first.client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('q', 1)] });
  await first.client.next('suback');
  first.client.send({ type: 'disconnect' });
  await first.client.waitClosed();
  for (let i = 0; i < 5; i++) broker.publishSimple('q', Buffer.alloc(100), 1);
  const session = broker.getSession('slow');
  assert.equal(session?.queueLength, 2);
  assert.equal(session?.queuedBytes, 200);
  broker.close();
});

test('upgrade_outgoing_qos delivers at the subscription QoS', async () => {
  const broker = startBroker({ upgradeOutgoingQos: true });
  const { client } = await connect(broker, 's');
  client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('up', 2)] });
  await client.next('suback');
  broker.publishSimple('up', 'x', 0);
  assert.equal((await client.next('publish')).qos, 2);
  broker.close();
});

test('a listener policy overrides broker options: anonymous refused on one listener only', async () => {
  const broker = startBroker({ allowAnonymous: true });
  const [clientEnd, brokerEnd] = duplexPair();
  broker.handle(brokerEnd, { policy: { allowAnonymous: false, maxTopicAlias: 0 } });
  const strict = new TestClient(clientEnd, 5);
  strict.send({ type: 'connect', protocolName: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: 'x' });
  assert.equal((await strict.next('connack')).reasonCode, 0x87);
  const { connack } = await connect(broker, 'open', {}, 5);
  assert.equal(connack.reasonCode, 0);
  broker.close();
});
