import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Subscription } from '../../src/codec/types.js';
import { connect, startBroker } from './helper.js';

const sub = (filter: string, options: Partial<Subscription> = {}): Subscription => ({ filter, qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0, ...options });
const retained = (topic: string, payload: string) => ({ type: 'publish' as const, topic, payload: Buffer.from(payload), qos: 0 as const, retain: true, dup: false });

test('a retained message reaches later subscribers with RETAIN set, and live ones without it', async () => {
  const broker = startBroker();
  const { client: live } = await connect(broker, 'live');
  live.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('r/#')] });
  await live.next('suback');
  const { client: publisher } = await connect(broker, 'p');
  publisher.send(retained('r/a', 'hello'));
  const liveMessage = await live.next('publish');
  assert.equal(liveMessage.retain, false); // [MQTT-3.3.1-9]
  const { client: late } = await connect(broker, 'late');
  late.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('r/+')] });
  await late.next('suback');
  const lateMessage = await late.next('publish');
  assert.equal(lateMessage.retain, true);
  assert.equal(lateMessage.payload.toString(), 'hello');
  broker.close();
});

test('an empty retained payload clears the retained message [MQTT-3.3.1-10]', async () => {
  const broker = startBroker();
  const { client: publisher } = await connect(broker, 'p');
  publisher.send(retained('clear/me', 'x'));
  publisher.send(retained('clear/me', ''));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(broker.retained.count, 0);
  const { client } = await connect(broker, 's');
  client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('clear/#')] });
  await client.next('suback');
  await client.nothing('publish');
  broker.close();
});

test('retain handling 0 sends on every subscribe, 1 only on a new subscription, 2 never', async () => {
  const broker = startBroker();
  const { client: publisher } = await connect(broker, 'p');
  publisher.send(retained('rh/t', 'kept'));
  const { client } = await connect(broker, 's', {}, 5);
  for (const [handling, expected] of [[0, 2], [1, 1], [2, 0]] as const) {
    const filter = `rh/${handling === 0 ? '+' : handling === 1 ? '#' : 't'}`;
    for (let i = 0; i < 2; i++) {
      client.send({ type: 'subscribe', packetId: 10 + i, subscriptions: [sub(filter, { retainHandling: handling })] });
      await client.next('suback');
    }
    await new Promise((r) => setTimeout(r, 30));
    const got = client.received.filter((p) => p.type === 'publish').length;
    client.received.length = 0;
    assert.equal(got, expected, `retain handling ${handling}`);
  }
  broker.close();
});

test('retain as published keeps RETAIN on live delivery', async () => {
  const broker = startBroker();
  const { client } = await connect(broker, 's', {}, 5);
  client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('rap', { retainAsPublished: true })] });
  await client.next('suback');
  const { client: publisher } = await connect(broker, 'p', {}, 5);
  publisher.send(retained('rap', 'flag'));
  assert.equal((await client.next('publish')).retain, true);
  broker.close();
});

test('$SYS-style topics are not matched by # or +/... [MQTT-4.7.2-1]', async () => {
  const broker = startBroker();
  broker.publishSimple('$SYS/broker/version', 'moat', 0, true);
  const { client } = await connect(broker, 's');
  client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('#'), sub('+/broker/version')] });
  await client.next('suback');
  await client.nothing('publish');
  client.send({ type: 'subscribe', packetId: 2, subscriptions: [sub('$SYS/#')] });
  await client.next('suback');
  assert.equal((await client.next('publish')).topic, '$SYS/broker/version');
  broker.close();
});

test('retain_available false: a retained PUBLISH from a v5 client gets DISCONNECT 0x9A', async () => {
  const broker = startBroker({ retainAvailable: false });
  const { client } = await connect(broker, 'p', {}, 5);
  client.send(retained('x', 'y'));
  assert.equal((await client.next('disconnect')).reasonCode, 0x9a);
  broker.close();
});

test('every retained message reaches a new subscriber, even past the slow-consumer limit', async () => {
  const broker = startBroker({ maxSocketBufferBytes: 1000 });
  for (let i = 0; i < 100; i++) broker.publishSimple(`burst/${i}`, Buffer.alloc(100), 0, true);
  const { client } = await connect(broker, 's');
  client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('burst/#', { qos: 0 })] });
  await client.next('suback');
  for (let i = 0; i < 100; i++) await client.next('publish');
  broker.close();
});

test('live QoS 0 to a client that is not reading is dropped past the slow-consumer limit', async () => {
  const broker = startBroker({ maxSocketBufferBytes: 1000 });
  const { client } = await connect(broker, 's');
  client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('live', { qos: 0 })] });
  await client.next('suback');
  for (let i = 0; i < 100; i++) broker.publishSimple('live', Buffer.alloc(100), 0);
  assert.ok((broker.getSession('s')?.dropped ?? 0) > 0);
  broker.close();
});
