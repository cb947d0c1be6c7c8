// Issue 9, defect 4: deep topics overflowed the stack. A filter of 65,400 levels ('/' repeated) or
// 20,000 '+' levels was granted, and the next matching PUBLISH threw RangeError in the trie's
// recursive walk, dropping the publisher. Now max_topic_levels (default 201, Mosquitto 2.0's limit)
// refuses deeper filters in SUBACK and deeper topics at PUBLISH, and matching is iterative, so even
// a broker configured for 32,768 levels matches without a throw.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Subscription } from '../../src/codec/types.js';
import { SubscriptionTrie } from '../../src/topic/trie.js';
import { connect, startBroker } from './helper.js';

const sub = (filter: string, qos: 0 | 1 = 0): Subscription => ({ filter, qos, noLocal: false, retainAsPublished: false, retainHandling: 0 });
const levels = (n: number, level: string): string => Array.from({ length: n }, () => level).join('/');

const SLASHES = '/'.repeat(65_399); // 65,400 empty levels
const PLUSES = levels(20_000, '+');

for (const version of [4, 5] as const) {
  test(`v${version}: filters of 65,400 and 20,000 levels are refused in SUBACK (${version === 5 ? '0x8F' : '0x80'}); the connection and a bystander carry on`, async () => {
    const broker = startBroker();
    const { client: bystander } = await connect(broker, `bystander-${version}`, {}, version);
    bystander.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('ok/#')] });
    await bystander.next('suback');

    const { client } = await connect(broker, `deep-${version}`, {}, version);
    client.send({ type: 'subscribe', packetId: 7, subscriptions: [sub(SLASHES), sub(PLUSES), sub('ok/fine')] });
    const suback = await client.next('suback');
    const refused = version === 5 ? 0x8f : 0x80;
    assert.deepEqual(suback.reasonCodes, [refused, refused, 0]);
    if (version === 5) assert.match(suback.properties?.reasonString ?? '', /more than 201 levels/);
    assert.equal(broker.router.subscriptionCount, 2, 'only the two legal filters are stored');

    // Publishing on deep topics after the refused subscriptions: no throw, nobody dropped.
    client.send({ type: 'publish', topic: 'ok/fine', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
    assert.equal((await client.next('publish')).topic, 'ok/fine');
    assert.equal((await bystander.next('publish')).topic, 'ok/fine');
    assert.equal(client.closed, false);
    broker.close();
  });
}

test('the limit is Mosquitto\'s: 201 levels are accepted, 202 refused, for filters and topic names', async () => {
  const broker = startBroker();
  const { client } = await connect(broker, 'edge', {}, 5);
  client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub(levels(201, 'a'), 1), sub(levels(202, 'a'))] });
  assert.deepEqual((await client.next('suback')).reasonCodes, [1, 0x8f]);
  client.send({ type: 'publish', topic: levels(201, 'a'), payload: Buffer.from('deep'), qos: 1, retain: false, dup: false, packetId: 2 });
  assert.equal((await client.next('puback')).reasonCode ?? 0, 0);
  assert.equal((await client.next('publish')).payload.toString(), 'deep');
  broker.close();
});

test('v5 PUBLISH deeper than max_topic_levels: QoS 1 gets PUBACK 0x90, QoS 0 DISCONNECT 0x90', async () => {
  const broker = startBroker({ maxTopicLevels: 10 });
  const { client } = await connect(broker, 'pub-deep', {}, 5);
  client.send({ type: 'publish', topic: levels(11, 'x'), payload: Buffer.from('no'), qos: 1, retain: false, dup: false, packetId: 3 });
  assert.equal((await client.next('puback')).reasonCode, 0x90);
  assert.equal(client.closed, false);
  client.send({ type: 'publish', topic: levels(11, 'x'), payload: Buffer.from('no'), qos: 0, retain: false, dup: false });
  assert.equal((await client.next('disconnect')).reasonCode, 0x90);
  assert.ok(await client.waitClosed());
  broker.close();
});

test('3.1.1 PUBLISH deeper than max_topic_levels closes the connection (3.1.1 has no way to refuse it)', async () => {
  const broker = startBroker({ maxTopicLevels: 10 });
  const { client } = await connect(broker, 'pub-deep-311');
  client.send({ type: 'publish', topic: levels(11, 'x'), payload: Buffer.from('no'), qos: 1, retain: false, dup: false, packetId: 3 });
  assert.ok(await client.waitClosed());
  assert.equal(client.received.find((p) => p.type === 'puback'), undefined);
  broker.close();
});

test('max_topic_levels 32768: a 20,000-level + filter matches a 20,000-level topic without a stack overflow', async () => {
  const broker = startBroker({ maxTopicLevels: 32_768 });
  const { client } = await connect(broker, 'deep-ok', {}, 5);
  client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub(PLUSES), sub(`${SLASHES.slice(0, 29_999)}#`)] });
  assert.deepEqual((await client.next('suback')).reasonCodes, [0, 0]);
  const topic = levels(20_000, 'a');
  client.send({ type: 'publish', topic, payload: Buffer.from('matched'), qos: 0, retain: false, dup: false });
  const delivered = await client.next('publish');
  assert.equal(delivered.payload.toString(), 'matched');
  client.send({ type: 'publish', topic: '/'.repeat(29_999), payload: Buffer.from('slashes'), qos: 0, retain: false, dup: false });
  assert.equal((await client.next('publish')).payload.toString(), 'slashes');
  assert.equal(client.closed, false);
  broker.close();
});

test('the trie matches 32,000 levels iteratively, in the order a recursive walk gives', () => {
  const trie = new SubscriptionTrie<string>({ cacheSize: 0 });
  const deep = levels(32_000, '+');
  trie.add(deep, 'c1', 'plus');
  trie.add(`${levels(31_999, '+')}/x`, 'c2', 'exact-last');
  trie.add('#', 'c3', 'hash');
  const topic = levels(32_000, 'x');
  assert.deepEqual(
    trie.match(topic).entries.map((e) => e.value),
    ['hash', 'exact-last', 'plus'],
  );
  trie.add('a/b', 'c4', 'ab');
  trie.add('a/+', 'c5', 'a+');
  trie.add('a/#', 'c6', 'a#');
  assert.deepEqual(trie.match('a/b').entries.map((e) => e.value), ['hash', 'a#', 'ab', 'a+']);
});
