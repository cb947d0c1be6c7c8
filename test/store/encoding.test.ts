// The stores' compact record format: every field round-trips at its edges (QoS, retain, expiry 0
// and far future, empty and 256 MiB-class payload sizes are the codec's; here a 1 MiB one), UTF-8
// topics and origins, MQTT 5 properties, subscription identifiers at the protocol maximum; and a
// row from before the format (a v8 blob) is still read.
import assert from 'node:assert/strict';
import { serialize } from 'node:v8';
import { test } from 'node:test';
import { decodeInflight, decodeMessage, decodeQueued, encodeInflight, encodeMessage, encodeQueued } from '../../src/store/encoding.js';
import type { StoredMessage } from '../../src/store/store.js';

const message = (overrides: Partial<StoredMessage> = {}): StoredMessage => ({ topic: 'a/b', payload: Buffer.from('x'), qos: 1, retain: false, properties: undefined, expiresAt: 0, origin: 'pub', ...overrides });

test('encoding: a message round-trips with every field, and extra fields of the broker object stay out', () => {
  const cases: StoredMessage[] = [
    message(),
    message({ qos: 0, retain: true, payload: Buffer.alloc(0), origin: '' }),
    message({ qos: 2, topic: 'ü/😀/#-not-a-filter', origin: 'ü'.repeat(30_000), expiresAt: 8.64e15 }),
    message({ payload: Buffer.alloc(1024 * 1024, 7), properties: { contentType: 'application/json', userProperties: [['k', 'v'], ['k', 'w']], correlationData: Buffer.from([0, 1, 2]), payloadFormatIndicator: 1 } }),
  ];
  for (const original of cases) {
    const decoded = decodeMessage(encodeMessage({ ...original, wire: Buffer.from('not stored') } as StoredMessage));
    assert.deepEqual(decoded, original);
    assert.equal('wire' in decoded, false);
  }
});

test('encoding: queue entries and in-flight records keep their own QoS, retain, ids and state', () => {
  const queued = { id: 2 ** 40 + 3, message: message({ qos: 2, retain: true }), qos: 1 as const, retain: false, subscriptionIdentifiers: [1, 268_435_455] };
  assert.deepEqual(decodeQueued(encodeQueued(queued)), queued);
  const noIds = { id: 1, message: message(), qos: 0 as const, retain: true, subscriptionIdentifiers: undefined };
  assert.deepEqual(decodeQueued(encodeQueued(noIds)), noIds);
  for (const state of ['publish', 'pubrel'] as const) {
    const inflight = { packetId: 65535, state, message: message({ qos: 2 }), qos: 2 as const, retain: false, subscriptionIdentifiers: [] };
    assert.deepEqual(decodeInflight(encodeInflight(inflight)), inflight);
  }
});

test('encoding: rows written before the format (v8 blobs) are read as they were', () => {
  const old = message({ properties: { messageExpiryInterval: 60 } });
  assert.deepEqual(decodeMessage(serialize(old)), old);
  const queued = { id: 5, message: old, qos: 1, retain: false, subscriptionIdentifiers: undefined };
  assert.deepEqual(decodeQueued(serialize(queued)), queued);
  const inflight = { packetId: 9, state: 'pubrel', message: old, qos: 1, retain: false, subscriptionIdentifiers: [3] };
  assert.deepEqual(decodeInflight(serialize(inflight)), inflight);
});
