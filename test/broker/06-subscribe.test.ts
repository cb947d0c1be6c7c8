import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Subscription } from '../../src/codec/types.js';
import { connect, startBroker } from './helper.js';

const sub = (filter: string, options: Partial<Subscription> = {}): Subscription => ({ filter, qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0, ...options });
const publish = (topic: string, payload = 'x') => ({ type: 'publish' as const, topic, payload: Buffer.from(payload), qos: 0 as const, retain: false, dup: false });

test('wildcards: + matches one level, # the parent and all children', async () => {
  const broker = startBroker();
  const { client } = await connect(broker, 's');
  client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('sensors/+/temp'), sub('home/#')] });
  await client.next('suback');
  const { client: publisher } = await connect(broker, 'p');
  for (const topic of ['sensors/a/temp', 'sensors/a/b/temp', 'home', 'home/k/l', 'other']) publisher.send(publish(topic, topic));
  await new Promise((r) => setTimeout(r, 50));
  const topics = client.received.filter((p) => p.type === 'publish').map((p) => (p as { topic: string }).topic);
  assert.deepEqual(topics, ['sensors/a/temp', 'home', 'home/k/l']);
  broker.close();
});

test('overlapping subscriptions deliver one message at the highest QoS with every subscription identifier', async () => {
  const broker = startBroker();
  const { client } = await connect(broker, 's', {}, 5);
  client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('o/#', { qos: 0 })], properties: { subscriptionIdentifiers: [1] } });
  client.send({ type: 'subscribe', packetId: 2, subscriptions: [sub('o/+', { qos: 1 })], properties: { subscriptionIdentifiers: [2] } });
  await client.next('suback');
  await client.next('suback');
  const { client: publisher } = await connect(broker, 'p');
  publisher.send({ ...publish('o/x'), qos: 1, packetId: 1 });
  const message = await client.next('publish');
  assert.equal(message.qos, 1);
  assert.deepEqual([...(message.properties?.subscriptionIdentifiers ?? [])].sort(), [1, 2]);
  await client.nothing('publish');
  broker.close();
});

test('shared subscription: each message goes to exactly one member, round robin', async () => {
  const broker = startBroker();
  const members = await Promise.all(['m1', 'm2'].map((id) => connect(broker, id, {}, 5)));
  for (const { client } of members) {
    client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('$share/g/jobs/#')] });
    await client.next('suback');
  }
  const { client: publisher } = await connect(broker, 'p');
  for (let i = 0; i < 10; i++) publisher.send(publish('jobs/x', String(i)));
  await new Promise((r) => setTimeout(r, 50));
  const counts = members.map(({ client }) => client.received.filter((p) => p.type === 'publish').length);
  assert.deepEqual(counts, [5, 5]);
  broker.close();
});

test('no local: a client does not receive its own publications', async () => {
  const broker = startBroker();
  const { client } = await connect(broker, 'me', {}, 5);
  client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('chat', { noLocal: true })] });
  await client.next('suback');
  client.send(publish('chat', 'mine'));
  await client.nothing('publish');
  broker.close();
});

test('invalid filters close the connection: "sport+", "#/a", empty', async () => {
  const broker = startBroker();
  for (const filter of ['sport+', '#/a', '', 'a/#/b']) {
    const { client } = await connect(broker, `bad-${filter}`, {}, 5);
    client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub(filter)] });
    assert.equal(await client.waitClosed(), true, filter);
  }
  broker.close();
});

test('unsubscribe stops delivery; v5 UNSUBACK says 0x11 for a filter never subscribed', async () => {
  const broker = startBroker();
  const { client } = await connect(broker, 's', {}, 5);
  client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('u')] });
  await client.next('suback');
  client.send({ type: 'unsubscribe', packetId: 2, filters: ['u', 'never'] });
  assert.deepEqual((await client.next('unsuback')).reasonCodes, [0, 0x11]);
  const { client: publisher } = await connect(broker, 'p');
  publisher.send(publish('u'));
  await client.nothing('publish');
  broker.close();
});
