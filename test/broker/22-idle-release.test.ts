// Issue 12: a connected client silent for IDLE_RELEASE_MS gives up its parser and outbox, and they
// are made again on its next bytes or on the next message for it. What the client sees must not
// change: a packet split across the silence is still one packet, the v5 decoding and its topic
// aliases survive, the full maximum packet size applies (not the CONNECT-only limit), and messages
// routed to it still arrive.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { IDLE_RELEASE_MS, MAX_CONNECT_BYTES } from '../../src/broker/connection.js';
import { SWEEP_INTERVAL_MS } from '../../src/broker/keepalive.js';
import { encode } from '../../src/codec/encode.js';
import type { Subscription } from '../../src/codec/types.js';
import { connect, startBroker } from './helper.js';

/** Long enough for the sweep to have released an idle connection's parser and outbox. */
const IDLE = IDLE_RELEASE_MS + 3 * SWEEP_INTERVAL_MS;
const sub = (filter: string, qos: 0 | 1 = 0): Subscription => ({ filter, qos, noLocal: false, retainAsPublished: false, retainHandling: 0 });

test('idle 3.1.1 clients still get messages routed to them and publish after the silence', async () => {
  const broker = startBroker();
  const { client: subscriber } = await connect(broker, 'idle-sub');
  subscriber.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('idle/#', 1)] });
  await subscriber.next('suback');
  const { client: publisher } = await connect(broker, 'idle-pub');
  await sleep(IDLE);
  publisher.send({ type: 'publish', topic: 'idle/a', payload: Buffer.from('after the silence'), qos: 1, retain: false, dup: false, packetId: 7 });
  assert.equal((await publisher.next('puback')).packetId, 7);
  const delivered = await subscriber.next('publish');
  assert.equal(delivered.payload.toString(), 'after the silence');
  assert.equal(delivered.qos, 1);
  subscriber.send({ type: 'puback', packetId: delivered.packetId ?? 0 });
  broker.close();
});

test('a PUBLISH whose first half arrived before the silence and the rest after it is routed whole', async () => {
  const broker = startBroker();
  const { client: subscriber } = await connect(broker, 'split-sub');
  subscriber.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('split')] });
  await subscriber.next('suback');
  const { client: publisher } = await connect(broker, 'split-pub');
  const bytes = encode({ type: 'publish', topic: 'split', payload: Buffer.from('one packet, two reads'), qos: 0, retain: false, dup: false }, 4);
  const half = Math.floor(bytes.length / 2);
  publisher.sendRaw(bytes.subarray(0, half));
  await sleep(IDLE);
  publisher.sendRaw(bytes.subarray(half));
  assert.equal((await subscriber.next('publish')).payload.toString(), 'one packet, two reads');
  broker.close();
});

test('a v5 client keeps its topic aliases and v5 decoding across the silence', async () => {
  const broker = startBroker();
  const { client: subscriber } = await connect(broker, 'alias-sub', {}, 5);
  subscriber.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('alias/#')] });
  await subscriber.next('suback');
  const { client: publisher } = await connect(broker, 'alias-pub', {}, 5);
  publisher.send({ type: 'publish', topic: 'alias/t', payload: Buffer.from('first'), qos: 0, retain: false, dup: false, properties: { topicAlias: 1 } });
  assert.equal((await subscriber.next('publish')).topic, 'alias/t');
  await sleep(IDLE);
  publisher.send({ type: 'publish', topic: '', payload: Buffer.from('by alias'), qos: 0, retain: false, dup: false, properties: { topicAlias: 1, userProperties: [['k', 'v']] } });
  const delivered = await subscriber.next('publish');
  assert.equal(delivered.topic, 'alias/t');
  assert.equal(delivered.payload.toString(), 'by alias');
  assert.deepEqual(delivered.properties?.userProperties, [['k', 'v']]);
  broker.close();
});

test('after the silence a PUBLISH larger than the CONNECT-only limit is accepted (the full maximum packet size applies)', async () => {
  const broker = startBroker();
  const { client: subscriber } = await connect(broker, 'big-sub');
  subscriber.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('big')] });
  await subscriber.next('suback');
  const { client: publisher } = await connect(broker, 'big-pub');
  await sleep(IDLE);
  const payload = Buffer.alloc(MAX_CONNECT_BYTES + 1024, 0x61);
  publisher.send({ type: 'publish', topic: 'big', payload, qos: 0, retain: false, dup: false });
  assert.equal((await subscriber.next('publish', () => true, 5000)).payload.length, payload.length);
  broker.close();
});
