// LocalBus passes the Bus contract as nodes of one LocalHub; alone it is a cluster of one.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Deduper } from '../../src/cluster/deduper.js';
import { LocalBus, LocalHub } from '../../src/cluster/local-bus.js';
import { busContract } from './contract.js';

busContract('local', (count) => {
  const hub = new LocalHub();
  return Array.from({ length: count }, () => new LocalBus({ hub }));
});

test('local: a bus on its own reaches nobody and nobody claims from it', async () => {
  const bus = new LocalBus();
  const seen: string[] = [];
  bus.attach({ message: (m) => seen.push(m.message.topic), claim: (c) => seen.push(c.clientId) });
  bus.addInterest('#');
  bus.publish({ topic: 'a', payload: Buffer.alloc(0), qos: 0, retain: false, properties: undefined, expiresAt: 0, origin: '' });
  bus.claimSession('x');
  assert.deepEqual(seen, []);
  assert.equal(bus.othersInterested('a'), false);
  await bus.close();
});

test('Deduper: the first of each (node, seq) in order passes; repeats and older ones are dropped; nodes are apart', () => {
  const deduper = new Deduper();
  assert.equal(deduper.accept('a', 1), true);
  assert.equal(deduper.accept('a', 1), false);
  assert.equal(deduper.accept('a', 3), true);
  assert.equal(deduper.accept('a', 2), false);
  assert.equal(deduper.accept('b', 1), true);
  assert.equal(deduper.accept('a', Number.MAX_SAFE_INTEGER), true);
  deduper.forget('a');
  assert.equal(deduper.accept('a', 1), true);
});
