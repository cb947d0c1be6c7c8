// Two engines as nodes of one in-process cluster (LocalBus on a LocalHub): a message published on
// one node reaches subscribers on the other exactly once, v5 0x10 No matching subscribers counts
// the other node's subscribers, a client id connecting on one node takes its connection on
// the other over (DISCONNECT 0x8E), and a $share group spread over three nodes gets each message
// once in all. The same engine with a bus of its own is one node.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LocalBus, LocalHub } from '../../src/cluster/local-bus.js';
import type { PublishPacket, Subscription } from '../../src/codec/types.js';
import { until } from '../kit/wait.js';
import { connect, startBroker, type TestClient } from './helper.js';

function sub(filter: string, qos: 0 | 1 | 2 = 1): Subscription {
  return { filter, qos, noLocal: false, retainAsPublished: false, retainHandling: 0 };
}

function publish(topic: string, payload: string, packetId: number): PublishPacket {
  return { type: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: false, dup: false, packetId };
}

function cluster() {
  const hub = new LocalHub();
  return [startBroker({ bus: new LocalBus({ hub, nodeId: 'a' }) }), startBroker({ bus: new LocalBus({ hub, nodeId: 'b' }) })] as const;
}

test('a PUBLISH on node a reaches the subscribers of node b once, and node a\'s own once', async () => {
  const [a, b] = cluster();
  const remote = await connect(b, 'sub-b', {}, 5);
  remote.client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('s/#'), sub('s/+')] });
  await remote.client.next('suback');
  const local = await connect(a, 'sub-a', {}, 5);
  local.client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('s/1')] });
  await local.client.next('suback');
  const publisher = await connect(a, 'pub', {}, 5);
  publisher.client.send(publish('s/1', 'hello', 7));
  const puback = await publisher.client.next('puback');
  assert.equal(puback.reasonCode ?? 0, 0);
  for (const client of [remote.client, local.client]) {
    const message = await client.next('publish');
    assert.equal(message.payload.toString(), 'hello');
    await client.nothing('publish', 100);
  }
  a.close();
  b.close();
});

test('v5 0x10 No matching subscribers only when no node has one; an unsubscribe on node b is seen on node a', async () => {
  const [a, b] = cluster();
  const publisher = await connect(a, 'pub', {}, 5);
  publisher.client.send(publish('t/1', 'x', 1));
  assert.equal((await publisher.client.next('puback')).reasonCode, 0x10);
  const remote = await connect(b, 'sub-b', {}, 5);
  remote.client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('t/#')] });
  await remote.client.next('suback');
  publisher.client.send(publish('t/1', 'x', 2));
  assert.equal((await publisher.client.next('puback')).reasonCode ?? 0, 0);
  remote.client.send({ type: 'unsubscribe', packetId: 2, filters: ['t/#'] });
  await remote.client.next('unsuback');
  publisher.client.send(publish('t/1', 'x', 3));
  assert.equal((await publisher.client.next('puback')).reasonCode, 0x10);
  a.close();
  b.close();
});

test('a client id connecting on node b takes over its connection on node a (DISCONNECT 0x8E)', async () => {
  const [a, b] = cluster();
  const first = await connect(a, 'roamer', {}, 5);
  await connect(b, 'roamer', {}, 5);
  const disconnect = await first.client.next('disconnect');
  assert.equal(disconnect.reasonCode, 0x8e);
  assert.equal(await first.client.waitClosed(), true);
  a.close();
  b.close();
});

test('a broker with a bus of its own is one node: its subscribers only, 0x10 as before', async () => {
  const solo = startBroker();
  const other = startBroker();
  const subscriber = await connect(other, 'elsewhere', {}, 5);
  subscriber.client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('#')] });
  await subscriber.client.next('suback');
  const publisher = await connect(solo, 'pub', {}, 5);
  publisher.client.send(publish('x', 'y', 1));
  assert.equal((await publisher.client.next('puback')).reasonCode, 0x10);
  await subscriber.client.nothing('publish', 100);
  solo.close();
  other.close();
});

test('a $share group spread over 3 nodes gets each message exactly once in all, from whichever node it is published; plain subscribers on every node get every one', async () => {
  const hub = new LocalHub();
  const nodes = ['a', 'b', 'c'].map((nodeId) => startBroker({ bus: new LocalBus({ hub, nodeId }) }));
  const members: TestClient[] = [];
  const plain: TestClient[] = [];
  for (const [i, node] of nodes.entries()) {
    const member = await connect(node, `member-${i}`, {}, 5);
    member.client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('$share/g/w/#', 0)] });
    await member.client.next('suback');
    members.push(member.client);
    const watcher = await connect(node, `plain-${i}`, {}, 5);
    watcher.client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('w/#', 0)] });
    await watcher.client.next('suback');
    plain.push(watcher.client);
  }
  const publishers = await Promise.all(nodes.map((node, i) => connect(node, `pub-${i}`, {}, 5)));
  const sent: string[] = [];
  for (let i = 0; i < 30; i++) {
    const publisher = publishers[i % 3]!.client;
    const payload = `m${i}`;
    sent.push(payload);
    publisher.send(publish(`w/${i}`, payload, i + 1));
    assert.equal((await publisher.next('puback')).reasonCode ?? 0, 0);
  }
  const payloads = (client: TestClient): string[] => client.received.flatMap((p) => (p.type === 'publish' ? [p.payload.toString()] : []));
  await until(() => members.reduce((n, m) => n + payloads(m).length, 0) >= 30 && plain.every((p) => payloads(p).length >= 30), 3000, 'every delivery');
  await members[0]!.nothing('connack', 100); // a moment for any extra delivery to show
  const byGroup = members.flatMap(payloads);
  assert.deepEqual([...byGroup].sort(), [...sent].sort(), 'each message once to the group, cluster-wide');
  for (const member of members) assert.ok(payloads(member).length > 0, 'every node takes turns');
  for (const watcher of plain) assert.deepEqual(payloads(watcher), sent);
  for (const node of nodes) node.close();
});

test('$SYS messages stay on the node that published them: a subscriber of $SYS/# on node b sees only b\'s', async () => {
  const [a, b] = cluster();
  const watcher = await connect(b, 'sys-b', {}, 5);
  watcher.client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('$SYS/#', 0), sub('plain/#', 0)] });
  await watcher.client.next('suback');
  a.publishSimple('$SYS/broker/uptime', '7 seconds', 0, true);
  a.publishSimple('plain/a', 'from a');
  assert.equal((await watcher.client.next('publish')).topic, 'plain/a');
  b.publishSimple('$SYS/broker/uptime', '9 seconds', 0, true);
  const own = await watcher.client.next('publish');
  assert.deepEqual([own.topic, own.payload.toString()], ['$SYS/broker/uptime', '9 seconds']);
  await watcher.client.nothing('publish', 100);
  a.close();
  b.close();
});
