// Issue 10 item 3: what a client chose reaches a log record only through clip/clipList, so one
// huge client id, topic or SUBSCRIBE cannot make a huge log line; the full size is always stated.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clip, clipList, LOG_LIST_MAX, LOG_STRING_MAX } from '../../src/broker/logger.js';
import type { Logger } from '../../src/broker/logger.js';
import type { Subscription } from '../../src/codec/types.js';
import { DropLedger } from '../../src/broker/drops.js';
import { recordEvents } from '../kit/event-records.js';
import { connect, startBroker } from './helper.js';

test('clip: up to 200 characters unchanged; 201 and more cut to 200 with what was left out and the total', () => {
  assert.equal(LOG_STRING_MAX, 200);
  assert.equal(clip(''), '');
  assert.equal(clip(undefined), undefined);
  assert.equal(clip('x'.repeat(200)), 'x'.repeat(200));
  assert.equal(clip('x'.repeat(201)), `${'x'.repeat(200)}…(+1 chars, 201 total)`);
  assert.equal(clip(`a/b/c/${'d'.repeat(65_650)}`), `a/b/c/${'d'.repeat(194)}…(+65,456 chars, 65,656 total)`);
});

test('clip never cuts a surrogate pair in two', () => {
  const value = `${'x'.repeat(199)}😀${'y'.repeat(10)}`; // the emoji is characters 200 and 201
  const clipped = clip(value);
  assert.equal(clipped, `${'x'.repeat(199)}…(+12 chars, 211 total)`);
  assert.ok(!clipped.includes('\ud83d'));
});

test('clipList: up to 5 items as they are (each clipped); more: the first 5 and one entry with the count', () => {
  assert.equal(LOG_LIST_MAX, 5);
  const id = (s: string): string => s;
  assert.deepEqual(clipList([], id), []);
  assert.deepEqual(clipList(['a', 'b', 'c', 'd', 'e'], id), ['a', 'b', 'c', 'd', 'e']);
  assert.deepEqual(clipList(['a', 'b', 'c', 'd', 'e', 'f'], id), ['a', 'b', 'c', 'd', 'e', '…(+1 more, 6 total)']);
  const many = Array.from({ length: 2000 }, (_, i) => ({ filter: i === 0 ? 'z'.repeat(300) : `t/${i}` }));
  assert.deepEqual(clipList(many, (s) => s.filter), [`${'z'.repeat(200)}…(+100 chars, 300 total)`, 't/1', 't/2', 't/3', 't/4', '…(+1,995 more, 2,000 total)']);
});

/** Every record any level gets, with its message. */
function recordingLogger(): Logger & { records: Array<Record<string, unknown>> } {
  const records: Array<Record<string, unknown>> = [];
  const keep = (obj: object, msg?: string): void => void records.push({ ...(obj as Record<string, unknown>), msg });
  return { records, debug: keep, info: keep, warn: keep, error: keep };
}

const sub = (filter: string): Subscription => ({ filter, qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 });

test('the engine logs a long client id, huge filters, a deep topic and a bad filter clipped, in fields and messages', async () => {
  const logger = recordingLogger();
  const broker = startBroker({ logger, maxTopicLevels: 3 });
  const clientId = `id-${'i'.repeat(5000)}`;
  const { client } = await connect(broker, clientId);
  client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub(`f/${'f'.repeat(65_000)}`), ...Array.from({ length: 999 }, (_, i) => sub(`t/${i}`))] });
  await client.next('suback');
  client.send({ type: 'subscribe', packetId: 2, subscriptions: [sub(`a/b/c/${'d'.repeat(10_000)}`)] }); // deeper than max_topic_levels
  await client.next('suback');
  client.send({ type: 'subscribe', packetId: 3, subscriptions: [sub(`${'b'.repeat(10_000)}/#/x`)] });
  await client.waitClosed();
  broker.close();

  for (const record of logger.records) {
    const size = JSON.stringify(record).length;
    assert.ok(size < 4096, `${String(record['event'])} record is ${size} characters`);
  }
  const byEvent = (name: string): Record<string, unknown> | undefined => logger.records.find((r) => r['event'] === name);
  const clippedId = `id-${'i'.repeat(197)}…(+4,803 chars, 5,003 total)`;
  assert.equal(byEvent('client_connected')?.['clientId'], clippedId);
  const subscribed = byEvent('subscribe');
  assert.equal(subscribed?.['clientId'], clippedId);
  assert.deepEqual(subscribed?.['filters'], [`f/${'f'.repeat(198)}…(+64,802 chars, 65,002 total)`, 't/0', 't/1', 't/2', 't/3', '…(+995 more, 1,000 total)']);
  assert.equal(byEvent('subscribe_refused')?.['filter'], `a/b/c/${'d'.repeat(194)}…(+9,806 chars, 10,006 total)`);
  // The sentence quotes the filter twice: some 20,000 characters, clipped to 200.
  const detail = /^invalid topic filter "b{178}…\(\+([\d,]+) chars, ([\d,]+) total\)$/.exec(String(byEvent('protocol_error')?.['detail']));
  assert.ok(detail !== null, String(byEvent('protocol_error')?.['detail']));
  assert.equal(Number(detail[1]?.replaceAll(',', '')) + 200, Number(detail[2]?.replaceAll(',', '')));
  assert.ok(Number(detail[2]?.replaceAll(',', '')) > 20_000);
  const disconnected = byEvent('client_disconnected');
  assert.equal(disconnected?.['clientId'], clippedId);
});

test('a drop report names a long client id clipped, in its field and its message', () => {
  const logger = recordEvents();
  const drops = new DropLedger(logger.drops, 0);
  const clientId = 'q'.repeat(1000);
  drops.record(clientId, 'queue_full', 0);
  drops.record(clientId, 'queue_full', 1);
  drops.flush(10);
  const lines = logger.records.filter((r) => r['event'] === 'messages_dropped');
  assert.equal(lines.length, 2);
  const clipped = `${'q'.repeat(200)}…(+800 chars, 1,000 total)`;
  for (const line of lines) {
    assert.equal(line['clientId'], clipped);
    assert.ok(String(line['msg']).includes(`client ${clipped}`), String(line['msg']));
    assert.ok(String(line['msg']).length < 600);
  }
});
