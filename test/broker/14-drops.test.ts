// Issue 9, defect 8: drops were silent. Every message the broker accepts and then does not deliver
// is counted per reason and per client, published in $SYS as Mosquitto names it
// ($SYS/broker/publish/messages/dropped, $SYS/broker/load/publish/dropped/{1min,5min,15min}), and
// logged as a warning at most once per client per interval.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import type { Logger } from '../../src/broker/logger.js';
import type { Subscription } from '../../src/codec/types.js';
import { LoadAverage, SysPublisher } from '../../src/observe/sys.js';
import { connect, startBroker } from './helper.js';

const sub = (filter: string, qos: 0 | 1 = 1): Subscription => ({ filter, qos, noLocal: false, retainAsPublished: false, retainHandling: 0 });

/** A logger that keeps the warnings it is given. */
function recordingLogger(): Logger & { warnings: Array<Record<string, unknown> & { msg: string | undefined }> } {
  const warnings: Array<Record<string, unknown> & { msg: string | undefined }> = [];
  const noop = (): void => {};
  return { warnings, debug: noop, info: noop, error: noop, warn: (obj, msg) => warnings.push({ ...(obj as Record<string, unknown>), msg }) };
}

test('a full queue: every drop counted per reason and client, in $SYS and the stats, and logged once per interval', async () => {
  const logger = recordingLogger();
  const broker = startBroker({ maxQueuedMessages: 3, dropLogIntervalMs: 300, logger });
  const sys = new SysPublisher(broker, { intervalSeconds: 10, version: 'test', connectionLimit: -1 });
  const first = await connect(broker, 'offline', { clean: false });
  first.client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('q/#')] });
  await first.client.next('suback');
  first.client.send({ type: 'disconnect' });
  await first.client.waitClosed();
  // Keep the broker's sweep running (it flushes the drop reports): one connected client.
  const { client: publisher } = await connect(broker, 'publisher');

  for (let i = 0; i < 10; i++) broker.publishSimple('q/x', String(i), 1);
  const session = broker.getSession('offline');
  assert.equal(session?.queueLength, 3);
  assert.equal(session?.dropped, 7);
  assert.equal(session?.droppedBy.queue_full, 7);
  assert.equal(broker.drops.total, 7);
  assert.equal(broker.drops.byReason.queue_full, 7);
  const values = sys.snapshot();
  assert.equal(values['$SYS/broker/publish/messages/dropped'], '7');
  assert.equal(values['$SYS/broker/publish/messages/dropped/queue_full'], '7');

  // The first drop is logged at once, naming the client and the reason; the other six wait.
  const dropLines = (): typeof logger.warnings => logger.warnings.filter((w) => w['event'] === 'messages_dropped');
  assert.equal(dropLines().length, 1);
  assert.equal(dropLines()[0]?.['clientId'], 'offline');
  assert.equal(dropLines()[0]?.['reason'], 'queue_full');
  assert.match(dropLines()[0]?.msg ?? '', /max_queued_messages/);

  // More drops inside the interval: still one line. After it: one summary with the count.
  for (let i = 0; i < 5; i++) broker.publishSimple('q/x', 'more', 1);
  assert.equal(dropLines().length, 1);
  await sleep(700); // the interval (300 ms) and at least one 250 ms sweep
  assert.equal(dropLines().length, 2);
  assert.equal(dropLines()[1]?.['count'], 11);
  assert.deepEqual(dropLines()[1]?.['byReason'], { queue_full: 11 });
  // Quiet now: no further lines.
  await sleep(700);
  assert.equal(dropLines().length, 2);
  publisher.close();
  broker.close();
});

test('QoS 0 to a client that does not read is counted as slow_consumer, a too-large message as too_large', async () => {
  const broker = startBroker({ maxSocketBufferBytes: 1000 });
  const { client: slow } = await connect(broker, 'slow');
  slow.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('live', 0)] });
  await slow.next('suback');
  for (let i = 0; i < 50; i++) broker.publishSimple('live', Buffer.alloc(100), 0);
  assert.ok(broker.drops.byReason.slow_consumer > 0);
  assert.equal(broker.getSession('slow')?.droppedBy.slow_consumer, broker.drops.byReason.slow_consumer);

  const { client: small } = await connect(broker, 'small', { properties: { maximumPacketSize: 64 } }, 5);
  small.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('big', 0)] });
  await small.next('suback');
  broker.publishSimple('big', Buffer.alloc(200), 0);
  assert.equal(broker.getSession('small')?.droppedBy.too_large, 1);
  assert.equal(broker.drops.byReason.too_large, 1);
  broker.close();
});

test('a message that expires while queued is counted as expired', async () => {
  const broker = startBroker();
  const first = await connect(broker, 'later', { clean: false, properties: { sessionExpiryInterval: 60 } }, 5);
  first.client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('e')] });
  await first.client.next('suback');
  first.client.send({ type: 'disconnect' });
  await first.client.waitClosed();
  const { client: publisher } = await connect(broker, 'pub', {}, 5);
  publisher.send({ type: 'publish', topic: 'e', payload: Buffer.from('short-lived'), qos: 1, retain: false, dup: false, packetId: 1, properties: { messageExpiryInterval: 1 } });
  await publisher.next('puback');
  await sleep(1100);
  const again = await connect(broker, 'later', { clean: false, properties: { sessionExpiryInterval: 60 } }, 5);
  await again.client.nothing('publish', 100);
  assert.equal(broker.drops.byReason.expired, 1);
  broker.close();
});

test('LoadAverage gives Mosquitto\'s per-minute rates, smoothed over 1, 5 and 15 minutes', () => {
  const load = new LoadAverage();
  load.update(0, 0);
  load.update(600, 60); // 600 drops in the first minute: 600 per minute
  const [one, five, fifteen] = load.values as [number, number, number];
  assert.ok(Math.abs(one - 600 * (1 - Math.exp(-1))) < 1e-9);
  assert.ok(Math.abs(five - 600 * (1 - Math.exp(-60 / 300))) < 1e-9);
  assert.ok(Math.abs(fifteen - 600 * (1 - Math.exp(-60 / 900))) < 1e-9);
  assert.deepEqual(load.entries().map(([w]) => w), ['1min', '5min', '15min']);
  assert.equal(load.entries()[0]?.[1], (600 * (1 - Math.exp(-1))).toFixed(2));
});
