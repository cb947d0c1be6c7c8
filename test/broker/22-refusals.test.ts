// The limits of issue 12 in the engine, through in-memory duplex pairs: global_max_connections,
// the connection rates, memory_limit, max_subscriptions_per_client and max_topic_length, each
// answered with its code and counted in broker.stats().refusedByReason (drops in droppedByReason).
import assert from 'node:assert/strict';
import { subscribe as listen, unsubscribe as unlisten } from 'node:diagnostics_channel';
import { test } from 'node:test';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import type { Broker } from '../../src/broker/broker.js';
import { AddressRates, addressKey, MAX_TRACKED_ADDRESSES, RATE_WINDOW_MS } from '../../src/broker/limits.js';
import { parseBrokerOptions } from '../../src/broker/options.js';
import { brokerMemory } from '../../src/broker/overload.js';
import { emptyRefusalCounts, RefusalLedger, REFUSAL_REASONS } from '../../src/broker/refusals.js';
import type { ProtocolVersion, Subscription } from '../../src/codec/types.js';
import { until } from '../kit/wait.js';
import { connect, duplexPair, open, startBroker, TestClient } from './helper.js';

const sub = (filter: string, qos: 0 | 1 | 2 = 0): Subscription => ({ filter, qos, noLocal: false, retainAsPublished: false, retainHandling: 0 });

/** A client from `address` that sends CONNECT and returns what came back. */
async function connectFrom(broker: Broker, address: string, clientId: string, version: ProtocolVersion = 5): Promise<{ client: TestClient; reasonCode: number; reasonString: string | undefined }> {
  const [clientEnd, brokerEnd] = duplexPair();
  broker.handle(brokerEnd, { remoteAddress: address, listener: 'test' });
  const client = new TestClient(clientEnd, version);
  client.send({ type: 'connect', protocolName: 'MQTT', protocolVersion: version, clean: true, keepalive: 0, clientId });
  const connack = await client.next('connack');
  return { client, reasonCode: connack.reasonCode, reasonString: connack.properties?.reasonString };
}

test('global_max_connections: past it v5 gets CONNACK 0x97 naming the limit, 3.1.1 code 3; a freed slot is taken again', async () => {
  const broker = startBroker({ globalMaxConnections: 2 });
  const a = await connectFrom(broker, '10.0.0.1', 'a');
  const b = await connectFrom(broker, '10.0.0.2', 'b', 4);
  assert.deepEqual([a.reasonCode, b.reasonCode], [0, 0]);
  const v5 = await connectFrom(broker, '10.0.0.3', 'c');
  assert.equal(v5.reasonCode, 0x97);
  assert.match(v5.reasonString ?? '', /global_max_connections 2/);
  assert.equal(await v5.client.waitClosed(), true);
  const v4 = await connectFrom(broker, '10.0.0.3', 'd', 4);
  assert.equal(v4.reasonCode, 3);
  assert.equal(await v4.client.waitClosed(), true);
  a.client.send({ type: 'disconnect' });
  await a.client.waitClosed();
  await until(() => broker.admission.global.open === 1, 2000, 'the slot freed');
  assert.equal((await connectFrom(broker, '10.0.0.4', 'e')).reasonCode, 0);
  const stats = broker.stats();
  assert.equal(stats.refused, 2);
  assert.equal(stats.refusedByReason.global_max_connections, 2);
  broker.close();
});

test('max_connection_rate: a burst of N is admitted, the next gets 0x9F (v5) / 3 (3.1.1); counted', async () => {
  const broker = startBroker({ maxConnectionRate: 3 });
  const codes: number[] = [];
  for (let i = 0; i < 3; i++) codes.push((await connectFrom(broker, `10.1.0.${i}`, `r${i}`)).reasonCode);
  const over = await connectFrom(broker, '10.1.0.9', 'over');
  const over4 = await connectFrom(broker, '10.1.0.10', 'over4', 4);
  // The bucket refills at 3 per second: one of these two may have found a token meanwhile, not both.
  assert.deepEqual(codes, [0, 0, 0]);
  assert.ok(over.reasonCode === 0x9f || over4.reasonCode === 3, `${over.reasonCode} ${over4.reasonCode}`);
  if (over.reasonCode === 0x9f) assert.match(over.reasonString ?? '', /max_connection_rate 3 per second/);
  assert.ok(broker.stats().refusedByReason.max_connection_rate >= 1);
  broker.close();
});

test('max_connection_rate_per_address: one address is refused 0x9F while another still connects; ::ffff: is the same address; loopback is not exempt', async () => {
  const broker = startBroker({ maxConnectionRatePerAddress: 2 });
  assert.equal((await connectFrom(broker, '127.0.0.1', 'l1')).reasonCode, 0);
  assert.equal((await connectFrom(broker, '::ffff:127.0.0.1', 'l2')).reasonCode, 0);
  const third = await connectFrom(broker, '127.0.0.1', 'l3');
  assert.equal(third.reasonCode, 0x9f);
  assert.match(third.reasonString ?? '', /max_connection_rate_per_address 2 per second/);
  assert.equal((await connectFrom(broker, '192.0.2.7', 'other')).reasonCode, 0);
  assert.equal(broker.stats().refusedByReason.max_connection_rate_per_address, 1);
  broker.close();
});

test('the per-address bucket of an address: IPv4 itself (::ffff: or not), IPv6 its /64', () => {
  assert.equal(addressKey('192.0.2.1'), '192.0.2.1');
  assert.equal(addressKey('::ffff:192.0.2.1'), '192.0.2.1');
  assert.equal(addressKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(addressKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
  assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  assert.equal(addressKey('::1'), '0:0:0:0::/64');
  assert.equal(addressKey('::'), '0:0:0:0::/64');
  assert.equal(addressKey('2001:db8:1:2::'), '2001:db8:1:2::/64');
});

test('the per-address buckets are bounded and forget idle addresses', () => {
  const rates = new AddressRates(1);
  const t0 = 1_000_000;
  assert.equal(rates.take('a', t0), true);
  assert.equal(rates.take('a', t0 + 1), false);
  assert.equal(rates.take('a', t0 + RATE_WINDOW_MS + 1), true); // refilled
  for (let i = 0; i < MAX_TRACKED_ADDRESSES + 10; i++) rates.take(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, t0 + 2000);
  assert.equal(rates.tracked, MAX_TRACKED_ADDRESSES);
  rates.sweep(t0 + 2000 + RATE_WINDOW_MS);
  assert.equal(rates.tracked, 0);
});

test('max_subscriptions_per_client: filters past it get SUBACK 0x97 (v5) / 0x80 (3.1.1); re-subscribing does not count twice', async () => {
  const broker = startBroker({ maxSubscriptionsPerClient: 2 });
  const v5 = (await connect(broker, 'v5', {}, 5)).client;
  v5.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('a'), sub('b'), sub('c')] });
  const first = await v5.next('suback');
  assert.deepEqual(first.reasonCodes, [0, 0, 0x97]);
  assert.match(first.properties?.reasonString ?? '', /max_subscriptions_per_client/);
  v5.send({ type: 'subscribe', packetId: 2, subscriptions: [sub('a', 1), sub('b'), sub('a')] });
  assert.deepEqual((await v5.next('suback')).reasonCodes, [1, 0, 0]);
  v5.send({ type: 'unsubscribe', packetId: 3, filters: ['a'] });
  await v5.next('unsuback');
  v5.send({ type: 'subscribe', packetId: 4, subscriptions: [sub('c'), sub('d')] });
  assert.deepEqual((await v5.next('suback')).reasonCodes, [0, 0x97]);
  const v4 = (await connect(broker, 'v4')).client;
  v4.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('x'), sub('y'), sub('z')] });
  assert.deepEqual((await v4.next('suback')).reasonCodes, [0, 0, 0x80]);
  assert.equal(broker.stats().refusedByReason.max_subscriptions_per_client, 3);
  broker.close();
});

test('max_topic_length: PUBACK 0x90 (v5 QoS 1), DISCONNECT 0x90 (v5 QoS 0), closed (3.1.1); filters SUBACK 0x8F / 0x80; UTF-8 bytes are counted', async () => {
  const broker = startBroker({ maxTopicLength: 10 });
  const v5 = (await connect(broker, 'v5', {}, 5)).client;
  // 'é' is 2 bytes: five of them are 10 bytes (accepted), six 12 bytes (refused) though only 6 characters.
  v5.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('é'.repeat(5)), sub('é'.repeat(6)), sub('0123456789a')] });
  const suback = await v5.next('suback');
  assert.deepEqual(suback.reasonCodes, [0, 0x8f, 0x8f]);
  assert.match(suback.properties?.reasonString ?? '', /max_topic_length/);
  v5.send({ type: 'publish', topic: 'é'.repeat(5), payload: Buffer.from('ok'), qos: 1, packetId: 1, retain: false, dup: false });
  assert.equal((await v5.next('puback')).reasonCode ?? 0, 0);
  v5.send({ type: 'publish', topic: 'é'.repeat(6), payload: Buffer.from('x'), qos: 1, packetId: 2, retain: false, dup: false });
  const puback = await v5.next('puback');
  assert.equal(puback.reasonCode, 0x90);
  assert.match(puback.properties?.reasonString ?? '', /max_topic_length/);
  v5.send({ type: 'publish', topic: 'x'.repeat(11), payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
  assert.equal((await v5.next('disconnect')).reasonCode, 0x90);
  assert.equal(await v5.waitClosed(), true);
  const v4 = (await connect(broker, 'v4')).client;
  v4.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('x'.repeat(11))] });
  assert.deepEqual((await v4.next('suback')).reasonCodes, [0x80]);
  v4.send({ type: 'publish', topic: 'x'.repeat(11), payload: Buffer.from('x'), qos: 1, packetId: 1, retain: false, dup: false });
  assert.equal(await v4.waitClosed(), true);
  // A will topic is bound too: CONNACK 0x90 with a reason (v5), closed without CONNACK (3.1.1).
  const will = { topic: 'w'.repeat(11), payload: Buffer.from('gone'), qos: 0 as const, retain: false };
  const v5will = await connect(broker, 'will5', { will }, 5);
  assert.equal(v5will.connack.reasonCode, 0x90);
  assert.match(v5will.connack.properties?.reasonString ?? '', /will topic is longer than 10 bytes/);
  const v4will = open(broker, 4);
  v4will.send({ type: 'connect', protocolName: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: 'will4', will });
  assert.equal(await v4will.waitClosed(), true);
  await v4will.nothing('connack', 10);
  assert.equal(broker.stats().refusedByReason.max_topic_length, 8);
  broker.close();
});

test('max_topic_levels refusals are counted with the others', async () => {
  const broker = startBroker({ maxTopicLevels: 2 });
  const v5 = (await connect(broker, 'deep', {}, 5)).client;
  v5.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('a/b/c')] });
  assert.deepEqual((await v5.next('suback')).reasonCodes, [0x8f]);
  v5.send({ type: 'publish', topic: 'a/b/c', payload: Buffer.from('x'), qos: 1, packetId: 1, retain: false, dup: false });
  assert.equal((await v5.next('puback')).reasonCode, 0x90);
  assert.equal(broker.stats().refusedByReason.max_topic_levels, 2);
  broker.close();
});

test('memory_limit: while over it, v5 QoS 1/2 get PUBACK/PUBREC 0x97 with a reason; QoS 0 and 3.1.1 are dropped and counted; nothing is delivered', async () => {
  // 1 byte: any broker is over it from the first sample on.
  const broker = startBroker({ memoryLimit: 1 });
  assert.equal(broker.overMemoryLimit, true);
  const subscriber = (await connect(broker, 'sub')).client;
  subscriber.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('m/#', 1)] });
  await subscriber.next('suback');
  const v5 = (await connect(broker, 'v5', {}, 5)).client;
  v5.send({ type: 'publish', topic: 'm/1', payload: Buffer.from('x'), qos: 1, packetId: 1, retain: false, dup: false });
  const puback = await v5.next('puback');
  assert.equal(puback.reasonCode, 0x97);
  assert.match(puback.properties?.reasonString ?? '', /memory_limit/);
  v5.send({ type: 'publish', topic: 'm/2', payload: Buffer.from('x'), qos: 2, packetId: 2, retain: false, dup: false });
  assert.equal((await v5.next('pubrec')).reasonCode, 0x97);
  v5.send({ type: 'publish', topic: 'm/0', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
  const v4 = (await connect(broker, 'v4')).client;
  v4.send({ type: 'publish', topic: 'm/3', payload: Buffer.from('x'), qos: 1, packetId: 1, retain: false, dup: false });
  assert.equal((await v4.next('puback')).packetId, 1); // 3.1.1 has no code for it: acknowledged, dropped
  v4.send({ type: 'pingreq' });
  await v4.next('pingresp');
  await subscriber.nothing('publish', 100);
  const stats = broker.stats();
  assert.equal(stats.refusedByReason.memory_limit, 2);
  assert.equal(stats.droppedByReason.memory_limit, 2);
  broker.close();
});

test('memory_limit: refusing starts when memory crosses the limit and ends when it falls back (sampled, not per message)', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  const ballastBytes = 64 * 1024 * 1024;
  const broker = startBroker({ memoryLimit: brokerMemory() + ballastBytes / 2 });
  assert.equal(broker.overMemoryLimit, false);
  let ballast: Buffer | undefined = Buffer.alloc(ballastBytes, 1);
  await until(() => broker.overMemoryLimit, 3000, 'memory over the limit');
  const v5 = (await connect(broker, 'v5', {}, 5)).client;
  v5.send({ type: 'publish', topic: 't', payload: Buffer.from('x'), qos: 1, packetId: 1, retain: false, dup: false });
  assert.equal((await v5.next('puback')).reasonCode, 0x97);
  assert.equal(ballast.length, ballastBytes);
  ballast = undefined;
  // The ballast may still be referenced from this turn's stack: collect on later turns too.
  await until(() => {
    gc();
    return !broker.overMemoryLimit;
  }, 5000, `memory back under the limit (${broker.load?.memory} of ${broker.options.memoryLimit}, now ${brokerMemory()})`);
  v5.send({ type: 'publish', topic: 't', payload: Buffer.from('x'), qos: 1, packetId: 2, retain: false, dup: false });
  assert.equal((await v5.next('puback')).reasonCode ?? 0, 0x10); // accepted (no subscribers)
  broker.close();
});

test('refusals are logged rate-limited: the first of each reason, then one summary per interval by reason; every one is an event', () => {
  const refused: boolean[] = [];
  const summaries: unknown[] = [];
  const ledger = new RefusalLedger({ refused: (f) => refused.push(f.logged), summary: (f) => summaries.push(f) }, 10_000);
  const base = { value: 1, listener: undefined, address: '10.0.0.1', clientId: undefined, answered: true } as const;
  for (let i = 0; i < 5; i++) ledger.record({ ...base, limit: 'max_connection_rate' }, 1000 + i);
  ledger.record({ ...base, limit: 'memory_limit' }, 2000);
  ledger.record({ ...base, limit: 'memory_limit' }, 2001);
  assert.deepEqual(refused, [true, false, false, false, false, true, false]);
  ledger.flush(5000);
  assert.deepEqual(summaries, []);
  ledger.flush(12_000);
  assert.deepEqual(summaries, [{ count: 5, byReason: { max_connection_rate: 4, memory_limit: 1 }, seconds: 11 }]);
  // Quiet for an interval: forgotten, so the next refusal is logged again.
  ledger.flush(23_000);
  ledger.record({ ...base, limit: 'memory_limit' }, 23_001);
  assert.equal(refused.at(-1), true);
  assert.equal(ledger.total, 8);
  assert.deepEqual(Object.keys(emptyRefusalCounts()), Object.keys(REFUSAL_REASONS));
});

test('broker options of the limits are checked at their bounds', () => {
  const ok = parseBrokerOptions({ globalMaxConnections: 2_147_483_647, maxConnectionRate: 1_000_000, maxConnectionRatePerAddress: 1, memoryLimit: Number.MAX_SAFE_INTEGER, maxSubscriptionsPerClient: -1, maxTopicLength: 65535, maxEventLoopLagMs: 60_000 });
  assert.equal(ok.memoryLimit, Number.MAX_SAFE_INTEGER);
  const bad: Array<Record<string, number>> = [
    { globalMaxConnections: 0 },
    { globalMaxConnections: 2_147_483_648 },
    { maxConnectionRate: -1 },
    { maxConnectionRate: 1_000_001 },
    { maxConnectionRatePerAddress: 0.5 },
    { memoryLimit: Number.MAX_SAFE_INTEGER + 1 },
    { maxSubscriptionsPerClient: 0 },
    { maxTopicLength: 0 },
    { maxTopicLength: 65536 },
    { maxEventLoopLagMs: 60_001 },
  ];
  for (const options of bad) assert.throws(() => parseBrokerOptions(options), /MOAT_ERR_INVALID_OPTION|must be|take -1/, JSON.stringify(options));
});

test('overload protection: at 90% of memory_limit the heaviest publisher is held (not a quiet client), and read again below 80%', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  let ballast: Buffer | undefined = Buffer.alloc(64 * 1024 * 1024, 1);
  // 95% of the limit with the ballast, far under 80% without it.
  const broker = startBroker({ overloadProtection: true, maxEventLoopLagMs: 0, memoryLimit: Math.round(brokerMemory() / 0.95) });
  const held: string[] = [];
  const released: string[] = [];
  const onHeld = (m: unknown): void => void held.push(String((m as { clientId: string }).clientId));
  const onReleased = (m: unknown): void => void released.push(String((m as { clientId: string }).clientId));
  listen('moat:overload:held', onHeld);
  listen('moat:overload:released', onReleased);
  try {
    const flooder = (await connect(broker, 'heavy')).client;
    const quiet = (await connect(broker, 'quiet')).client;
    let flooding = true;
    const flood = (): void => {
      if (!flooding) return;
      for (let i = 0; i < 10; i++) flooder.send({ type: 'publish', topic: 'f', payload: Buffer.alloc(2000), qos: 0, retain: false, dup: false });
      quiet.send({ type: 'pingreq' });
      setTimeout(flood, 10);
    };
    flood();
    await until(() => held.includes('heavy'), 5000, 'the heavy publisher held');
    assert.equal(held.includes('quiet'), false);
    // The quiet client is still served while the heavy one is held.
    quiet.send({ type: 'pingreq' });
    await quiet.next('pingresp');
    assert.ok(ballast.length > 0);
    ballast = undefined;
    await until(
      () => {
        gc();
        return released.includes('heavy');
      },
      5000,
      'the heavy publisher read again',
    );
    flooding = false;
  } finally {
    unlisten('moat:overload:held', onHeld);
    unlisten('moat:overload:released', onReleased);
    broker.close();
  }
});
