import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { QoS } from '../../src/codec/types.js';
import { connect, startBroker } from './helper.js';

const sub = (filter: string, qos: QoS = 0) => ({ filter, qos, noLocal: false, retainAsPublished: false, retainHandling: 0 as const });

for (const version of [4, 5] as const) {
  test(`v${version}: QoS 0/1/2 publish reaches a subscriber with min(pub, sub) QoS`, async () => {
    const broker = startBroker();
    const { client: subscriber } = await connect(broker, 's', {}, version);
    subscriber.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('a/#', 2)] });
    assert.deepEqual((await subscriber.next('suback')).reasonCodes, [2]);
    const { client: publisher } = await connect(broker, 'p', {}, version);

    publisher.send({ type: 'publish', topic: 'a/0', payload: Buffer.from('zero'), qos: 0, retain: false, dup: false });
    const m0 = await subscriber.next('publish');
    assert.equal(m0.qos, 0);
    assert.equal(m0.payload.toString(), 'zero');

    publisher.send({ type: 'publish', topic: 'a/1', payload: Buffer.from('one'), qos: 1, retain: false, dup: false, packetId: 7 });
    assert.equal((await publisher.next('puback')).packetId, 7);
    const m1 = await subscriber.next('publish');
    assert.equal(m1.qos, 1);
    subscriber.send({ type: 'puback', packetId: m1.packetId ?? 0 });

    publisher.send({ type: 'publish', topic: 'a/2', payload: Buffer.from('two'), qos: 2, retain: false, dup: false, packetId: 8 });
    assert.equal((await publisher.next('pubrec')).packetId, 8);
    publisher.send({ type: 'pubrel', packetId: 8 });
    assert.equal((await publisher.next('pubcomp')).packetId, 8);
    const m2 = await subscriber.next('publish');
    assert.equal(m2.qos, 2);
    subscriber.send({ type: 'pubrec', packetId: m2.packetId ?? 0 });
    assert.equal((await subscriber.next('pubrel')).packetId, m2.packetId);
    subscriber.send({ type: 'pubcomp', packetId: m2.packetId ?? 0 });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(broker.getSession('s')?.inflight.size, 0);
    broker.close();
  });
}

test('a resent QoS 2 PUBLISH (DUP) before PUBREL is not routed twice [MQTT-4.3.3-10]', async () => {
  const broker = startBroker();
  const { client: subscriber } = await connect(broker, 's');
  subscriber.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('x')] });
  await subscriber.next('suback');
  const { client: publisher } = await connect(broker, 'p');
  const packet = { type: 'publish' as const, topic: 'x', payload: Buffer.from('once'), qos: 2 as const, retain: false, dup: false, packetId: 3 };
  publisher.send(packet);
  await publisher.next('pubrec');
  publisher.send({ ...packet, dup: true });
  await publisher.next('pubrec');
  publisher.send({ type: 'pubrel', packetId: 3 });
  await publisher.next('pubcomp');
  await subscriber.next('publish');
  await subscriber.nothing('publish', 100);
  broker.close();
});

test('PUBREL for an unknown packet id gets PUBCOMP 0x92 (v5) and the connection stays open', async () => {
  const broker = startBroker();
  const { client } = await connect(broker, 'c', {}, 5);
  client.send({ type: 'pubrel', packetId: 99 });
  const pubcomp = await client.next('pubcomp');
  assert.equal(pubcomp.reasonCode, 0x92);
  client.send({ type: 'pingreq' });
  await client.next('pingresp');
  broker.close();
});

test('v5 PUBACK says 0x10 No matching subscribers when nobody subscribed', async () => {
  const broker = startBroker();
  const { client } = await connect(broker, 'lonely', {}, 5);
  client.send({ type: 'publish', topic: 'nobody/here', payload: Buffer.from('x'), qos: 1, retain: false, dup: false, packetId: 1 });
  assert.equal((await client.next('puback')).reasonCode, 0x10);
  broker.close();
});

test('outgoing QoS 1 respects the in-flight window; the rest is queued and flows as acks arrive', async () => {
  const broker = startBroker({ maxInflightMessages: 2 });
  const { client: subscriber } = await connect(broker, 's');
  subscriber.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('w', 1)] });
  await subscriber.next('suback');
  const { client: publisher } = await connect(broker, 'p');
  for (let i = 1; i <= 5; i++) publisher.send({ type: 'publish', topic: 'w', payload: Buffer.from(String(i)), qos: 1, retain: false, dup: false, packetId: i });
  await new Promise((r) => setTimeout(r, 50));
  const first = subscriber.received.filter((p) => p.type === 'publish');
  assert.equal(first.length, 2);
  const got: string[] = [];
  for (let i = 0; i < 5; i++) {
    const message = await subscriber.next('publish');
    got.push(message.payload.toString());
    subscriber.send({ type: 'puback', packetId: message.packetId ?? 0 });
  }
  assert.deepEqual(got, ['1', '2', '3', '4', '5']);
  broker.close();
});

test('message_size_limit: over-limit payload is dropped but its QoS 1 flow completes (v5 0x83)', async () => {
  const broker = startBroker({ messageSizeLimit: 10 });
  const { client: subscriber } = await connect(broker, 's');
  subscriber.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('big')] });
  await subscriber.next('suback');
  const { client } = await connect(broker, 'p', {}, 5);
  client.send({ type: 'publish', topic: 'big', payload: Buffer.alloc(11), qos: 1, retain: false, dup: false, packetId: 1 });
  assert.equal((await client.next('puback')).reasonCode, 0x83);
  await subscriber.nothing('publish');
  broker.close();
});
