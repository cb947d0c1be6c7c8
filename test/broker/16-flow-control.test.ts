// Issue 9, defect 2: QoS 1 delivery collapsed when publishers outran a subscriber — acknowledged
// messages were dropped at the full queue while the subscriber was still draining. Publisher flow
// control (src/broker/flow-control.ts) holds such publishers until the queue has room, within
// bounds that keep one slow or stalled subscriber from stalling the broker's publishers.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { FLOW_MAX_HELD_SHARE } from '../../src/broker/flow-control.js';
import { encode } from '../../src/codec/encode.js';
import type { Subscription } from '../../src/codec/types.js';
import { connect, startBroker, type TestClient } from './helper.js';

const sub = (filter: string): Subscription => ({ filter, qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 });
const publish = (topic: string, i: number): Buffer => encode({ type: 'publish', topic, payload: Buffer.from(String(i)), qos: 1, retain: false, dup: false, packetId: (i % 65535) + 1 }, 4);

/** Acknowledges every QoS 1 PUBLISH the client receives, after `delayMs` each (0: at once). */
function acknowledge(client: TestClient, delayMs: number): { readonly count: () => number; stop(): void } {
  let count = 0;
  let running = true;
  void (async () => {
    while (running) {
      const message = await client.next('publish', () => true, 60_000).catch(() => undefined);
      if (message === undefined || !running) return;
      count++;
      if (delayMs > 0) await sleep(delayMs);
      client.send({ type: 'puback', packetId: message.packetId ?? 0 });
    }
  })();
  return { count: () => count, stop: () => (running = false) };
}

/** Waits until `client` has received `n` PUBACKs (taking them from its received list). */
async function pubacks(client: TestClient, n: number, timeoutMs = 10_000): Promise<void> {
  for (let i = 0; i < n; i++) await client.next('puback', () => true, timeoutMs);
}

test('a burst 20 x the queue limit from two publishers reaches a draining subscriber whole: nothing dropped', async () => {
  const broker = startBroker({ maxQueuedMessages: 100, maxInflightMessages: 20 });
  const { client: subscriber } = await connect(broker, 'draining');
  subscriber.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('burst/#')] });
  await subscriber.next('suback');
  const acks = acknowledge(subscriber, 0);
  const publishers = await Promise.all([0, 1].map(async (p) => (await connect(broker, `fast-${p}`)).client));
  // Each publisher writes its 1,000 messages at once, no window: only flow control can keep them.
  for (const [p, client] of publishers.entries()) client.sendRaw(Buffer.concat(Array.from({ length: 1000 }, (_, i) => publish(`burst/${p}`, i))));
  const deadline = Date.now() + 10_000;
  while (acks.count() < 2000 && Date.now() < deadline) await sleep(20);
  acks.stop();
  assert.equal(acks.count(), 2000);
  assert.equal(broker.drops.total, 0);
  for (const client of publishers) assert.equal(client.received.filter((p) => p.type === 'puback').length, 1000);
  broker.close();
});

test('with publisher_flow_control off the same burst is dropped at the full queue, as Mosquitto does', async () => {
  const broker = startBroker({ maxQueuedMessages: 100, maxInflightMessages: 20, publisherFlowControl: false });
  const { client: subscriber } = await connect(broker, 'draining');
  subscriber.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('burst/#')] });
  await subscriber.next('suback');
  const acks = acknowledge(subscriber, 0);
  const { client: publisher } = await connect(broker, 'fast');
  publisher.sendRaw(Buffer.concat(Array.from({ length: 2000 }, (_, i) => publish('burst/x', i))));
  await sleep(500);
  acks.stop();
  assert.ok(broker.drops.byReason.queue_full > 0);
  assert.equal(acks.count() + broker.drops.byReason.queue_full, 2000);
  broker.close();
});

test('a stalled subscriber (acknowledges nothing) holds no publisher: its messages are dropped and counted', async () => {
  const broker = startBroker({ maxQueuedMessages: 10, maxInflightMessages: 5 });
  const { client: stalled } = await connect(broker, 'stalled');
  stalled.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('s/#')] });
  await stalled.next('suback');
  const { client: publisher } = await connect(broker, 'pub');
  const started = performance.now();
  publisher.sendRaw(Buffer.concat(Array.from({ length: 1000 }, (_, i) => publish('s/x', i))));
  await pubacks(publisher, 1000);
  const took = performance.now() - started;
  assert.ok(took < 1000, `1,000 publishes to a stalled subscriber took ${took.toFixed(0)} ms`);
  assert.equal(broker.drops.byReason.queue_full, 1000 - 5 - 10);
  broker.close();
});

test(`a subscriber that acknowledges slowly holds a publisher at most ${FLOW_MAX_HELD_SHARE * 100}% of the time`, async () => {
  const broker = startBroker({ maxQueuedMessages: 4, maxInflightMessages: 1 });
  const { client: slow } = await connect(broker, 'slow');
  slow.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('slow/#')] });
  await slow.next('suback');
  const acks = acknowledge(slow, 20); // about 50 messages a second
  // A bystander topic nobody is slow on: its publisher is never held.
  const { client: other } = await connect(broker, 'other', { properties: { receiveMaximum: 1000 } }, 5);
  other.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('fast/#')] });
  await other.next('suback');
  const otherAcks = acknowledge(other, 0);

  const { client: publisher } = await connect(broker, 'feeding-both');
  const started = performance.now();
  publisher.sendRaw(Buffer.concat(Array.from({ length: 400 }, (_, i) => publish(i % 2 === 0 ? 'slow/x' : 'fast/x', i))));
  await pubacks(publisher, 400);
  const took = performance.now() - started;
  acks.stop();
  otherAcks.stop();
  // Unbounded, 200 messages at 50 a second would hold the publisher ~4 s; bounded, it is held at
  // most FLOW_MAX_HELD_SHARE of each second and the rest of the slow subscriber's share is dropped and counted.
  assert.ok(took < 3000, `the publisher took ${took.toFixed(0)} ms`);
  assert.ok(broker.drops.byReason.queue_full > 0, 'what the slow subscriber could not take was dropped');
  await sleep(100);
  assert.equal(otherAcks.count(), 200, 'the other subscriber got all of its messages');
  broker.close();
});

test('a client publishing to its own subscription is never held on itself', async () => {
  const broker = startBroker({ maxQueuedMessages: 10, maxInflightMessages: 2 });
  const { client } = await connect(broker, 'echo');
  client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('echo')] });
  await client.next('suback');
  const acks = acknowledge(client, 0);
  client.sendRaw(Buffer.concat(Array.from({ length: 200 }, (_, i) => publish('echo', i))));
  const deadline = Date.now() + 3000;
  while (client.received.filter((p) => p.type === 'puback').length < 200 && Date.now() < deadline) await sleep(10);
  acks.stop();
  assert.equal(client.received.filter((p) => p.type === 'puback').length, 200, 'every PUBLISH acknowledged without a stall');
  broker.close();
});
