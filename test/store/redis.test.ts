// The Redis store passes the Store contract on a real redis-server; two stores on one Redis share
// retained messages (kept coherent through the channel) and sessions; what was flushed outlives a
// close and reopen; client ids of any characters make their own keys.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { RedisStore } from '../../src/store/redis.js';
import type { SessionRecord } from '../../src/store/store.js';
import { freePort } from '../kit/ports.js';
import { startRedis, type RunningRedis } from '../kit/redis.js';
import { until } from '../kit/wait.js';
import { message, storeContract } from './contract.js';

let redis: RunningRedis;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis.stop();
});

let prefixes = 0;
const freshPrefix = (): string => `test${++prefixes}:`;

storeContract('redis', () => RedisStore.open(redis.url, { prefix: freshPrefix() }));

function session(clientId: string): SessionRecord {
  return { clientId, expiryInterval: 60, subscriptions: [], will: undefined, disconnectedAt: 5 };
}

const topics = (store: RedisStore, filter: string): string[] => [...store.matchRetained(filter)].map((m) => m.topic).sort();

test('redis: a retained message put or deleted on one store is seen by another on the same Redis and prefix', async () => {
  const prefix = freshPrefix();
  const [one, two] = await Promise.all([RedisStore.open(redis.url, { prefix }), RedisStore.open(redis.url, { prefix })]);
  const elsewhere = await RedisStore.open(redis.url, { prefix: freshPrefix() });
  try {
    one.putRetained(message('a/b', 'hello'));
    one.putRetained(message('a/c', 'xy'));
    await one.flush();
    await until(() => two.retainedCount === 2, 5000, 'the retained messages on the second store');
    assert.equal(two.getRetained('a/b')?.payload.toString(), 'hello');
    assert.deepEqual(topics(two, 'a/+'), ['a/b', 'a/c']);
    assert.equal(two.retainedBytes, 7);

    // A change from the other side, and the last write wins on both.
    two.putRetained(message('a/b', 'replaced'));
    await two.flush();
    await until(() => one.getRetained('a/b')?.payload.toString() === 'replaced', 5000, 'the replaced message on the first store');
    assert.equal(one.retainedBytes, 'replaced'.length + 2);

    one.deleteRetained('a/c');
    await one.flush();
    await until(() => two.retainedCount === 1, 5000, 'the delete on the second store');
    assert.equal(two.getRetained('a/c'), undefined);
    assert.deepEqual(topics(two, '#'), ['a/b']);
    assert.equal(two.retainedBytes, 'replaced'.length);
    // Another prefix is another cluster: it sees none of it.
    assert.equal(elsewhere.retainedCount, 0);
  } finally {
    await Promise.all([one.close(), two.close(), elsewhere.close()]);
  }
});

test('redis: concurrent writes of one topic from two stores end the same on both', async () => {
  const prefix = freshPrefix();
  const [one, two] = await Promise.all([RedisStore.open(redis.url, { prefix }), RedisStore.open(redis.url, { prefix })]);
  try {
    for (let round = 0; round < 20; round++) {
      one.putRetained(message('race', `one-${round}`));
      two.putRetained(message('race', `two-${round}`));
      if (round % 3 === 0) two.deleteRetained('race');
      await Promise.all([one.flush(), two.flush()]);
    }
    const third = await RedisStore.open(redis.url, { prefix });
    try {
      const truth = third.getRetained('race')?.payload.toString();
      await until(() => one.getRetained('race')?.payload.toString() === truth && two.getRetained('race')?.payload.toString() === truth, 5000, `both stores at ${truth}`);
    } finally {
      await third.close();
    }
  } finally {
    await Promise.all([one.close(), two.close()]);
  }
});

test('redis: a session saved on one store is loaded on another with its queue, in-flight and awaiting-PUBREL; deleted on one, writes on the other are ignored', async () => {
  const prefix = freshPrefix();
  const [one, two] = await Promise.all([RedisStore.open(redis.url, { prefix }), RedisStore.open(redis.url, { prefix })]);
  try {
    one.saveSession(session('roamer'));
    one.enqueue('roamer', { id: 2, message: message('q/2', 'second', { retain: false }), qos: 1, retain: false, subscriptionIdentifiers: undefined });
    one.enqueue('roamer', { id: 1, message: message('q/1', 'first', { retain: false }), qos: 1, retain: false, subscriptionIdentifiers: [3] });
    one.putInflight('roamer', { packetId: 12, state: 'pubrel', message: message('f', 'flying', { retain: false, qos: 2 }), qos: 2, retain: false, subscriptionIdentifiers: undefined });
    one.putAwaitingPubrel('roamer', 40);
    one.putAwaitingPubrel('roamer', 4);
    await one.flush();

    const loaded = await two.loadSession('roamer');
    assert.equal(loaded?.session.disconnectedAt, 5);
    assert.deepEqual(loaded?.queued.map((q) => [q.id, q.message.payload.toString()]), [[1, 'first'], [2, 'second']]);
    assert.deepEqual(loaded?.queued[0]?.subscriptionIdentifiers, [3]);
    assert.deepEqual(loaded?.inflight.map((f) => [f.packetId, f.state, f.message.payload.toString()]), [[12, 'pubrel', 'flying']]);
    assert.deepEqual(loaded?.awaitingPubrel, [4, 40]);
    const listed: string[] = [];
    for await (const record of two.sessions()) listed.push(record.clientId);
    assert.deepEqual(listed, ['roamer']);

    one.deleteSession('roamer');
    await one.flush();
    two.enqueue('roamer', { id: 3, message: message('q/3', 'late', { retain: false }), qos: 1, retain: false, subscriptionIdentifiers: undefined });
    two.putInflight('roamer', { packetId: 13, state: 'publish', message: message('f'), qos: 1, retain: false, subscriptionIdentifiers: undefined });
    two.putAwaitingPubrel('roamer', 5);
    await two.flush();
    assert.equal(await one.loadSession('roamer'), undefined);
    one.saveSession(session('roamer'));
    await one.flush();
    const again = await two.loadSession('roamer');
    assert.deepEqual([again?.queued.length, again?.inflight.length, again?.awaitingPubrel.length], [0, 0, 0]);
  } finally {
    await Promise.all([one.close(), two.close()]);
  }
});

test('redis: what was flushed is there after close and reopen; what was written and then closed too; writes after close are ignored', async () => {
  const prefix = freshPrefix();
  const first = await RedisStore.open(redis.url, { prefix });
  first.putRetained(message('keep/1', 'one'));
  first.saveSession(session('c'));
  first.enqueue('c', { id: 1, message: message('q', 'queued', { retain: false }), qos: 1, retain: false, subscriptionIdentifiers: undefined });
  await first.flush();
  first.putAwaitingPubrel('c', 77);
  await first.close();
  first.putRetained(message('after/close')); // ignored, no throw
  first.saveSession(session('after'));
  await first.flush();

  const second = await RedisStore.open(redis.url, { prefix });
  try {
    assert.equal(second.getRetained('keep/1')?.payload.toString(), 'one');
    assert.equal(second.retainedBytes, 3);
    assert.equal(second.getRetained('after/close'), undefined);
    const loaded = await second.loadSession('c');
    assert.deepEqual(loaded?.queued.map((q) => q.message.payload.toString()), ['queued']);
    assert.deepEqual(loaded?.awaitingPubrel, [77]);
    assert.equal(await second.loadSession('after'), undefined);
  } finally {
    await second.close();
  }
});

test('redis: writes not flushed are sent at the end of the event-loop turn; a load sees what was written before it', async () => {
  const prefix = freshPrefix();
  const [writer, reader] = await Promise.all([RedisStore.open(redis.url, { prefix }), RedisStore.open(redis.url, { prefix })]);
  try {
    writer.putRetained(message('turn', 'end'));
    await until(() => reader.getRetained('turn') !== undefined, 5000, 'the unflushed write on the other store');
    writer.saveSession(session('same-turn'));
    assert.equal((await writer.loadSession('same-turn'))?.session.clientId, 'same-turn');
  } finally {
    await Promise.all([writer.close(), reader.close()]);
  }
});

test('redis: client ids with any characters round-trip and do not meet other ids', async () => {
  const store = await RedisStore.open(redis.url, { prefix: freshPrefix() });
  try {
    const odd = 'a{b}:c/ü #';
    for (const id of [odd, 'a', 'a{b}', '']) store.saveSession(session(id));
    store.enqueue(odd, { id: 1, message: message('q', 'odd', { retain: false }), qos: 1, retain: false, subscriptionIdentifiers: undefined });
    await store.flush();
    const loaded = await store.loadSession(odd);
    assert.equal(loaded?.session.clientId, odd);
    assert.deepEqual(loaded?.queued.map((q) => q.message.payload.toString()), ['odd']);
    assert.deepEqual((await store.loadSession('a{b}'))?.queued, []);
    const listed: string[] = [];
    for await (const record of store.sessions()) listed.push(record.clientId);
    assert.deepEqual(listed.sort(), ['', 'a', 'a{b}', odd].sort());
  } finally {
    await store.close();
  }
});

test('redis: open() refuses an unreachable Redis within its timeout, with MOAT_ERR_STORE_UNAVAILABLE', async () => {
  const port = await freePort('127.0.0.1');
  await assert.rejects(RedisStore.open(`redis://127.0.0.1:${port}`, { connectTimeoutMs: 500 }), { code: 'MOAT_ERR_STORE_UNAVAILABLE', message: /cannot open the store: no connection within 500 ms \(last connection error: .*ECONNREFUSED/ });
});

test('redis: open() with a wrong password says so', async () => {
  const guarded = await startRedis({ args: ['--requirepass', 'right'] });
  try {
    await assert.rejects(RedisStore.open(`redis://:wrong@127.0.0.1:${guarded.port}`, { connectTimeoutMs: 1000 }), (error: unknown) => {
      assert.ok(error instanceof Error && 'code' in error && error.code === 'MOAT_ERR_STORE_UNAVAILABLE');
      assert.match(error.message, /WRONGPASS|invalid password/i);
      assert.ok(!error.message.includes('wrong@'), error.message);
      return true;
    });
  } finally {
    await guarded.stop();
  }
});
