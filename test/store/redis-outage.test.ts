// The Redis store when Redis goes away: flushes fail with MOAT_ERR_STORE_COMMIT and session loads
// with MOAT_ERR_STORE_UNAVAILABLE, in bounded time; `connected` and the status listener follow; when
// Redis is back (here empty: the test Redis keeps nothing) the store reconnects by itself and its
// retained cache is reloaded from what Redis has.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectRedis, parseRedisUrl } from '../../src/cluster/redis-connection.js';
import { RedisStore } from '../../src/store/redis.js';
import { startRedis } from '../kit/redis.js';
import { until } from '../kit/wait.js';
import { message } from './contract.js';

/** `promise` settled (either way) within `ms`: the store never leaves a caller waiting for ever. */
async function settles<T>(promise: Promise<T>, ms: number, what: string): Promise<PromiseSettledResult<T>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([Promise.allSettled([promise]).then(([result]) => result as PromiseSettledResult<T>), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

test('redis outage: writes fail and loads are refused while Redis is down; back, the store reconnects and reloads its retained cache', async () => {
  let redis = await startRedis();
  const { port } = redis;
  const store = await RedisStore.open(redis.url, { prefix: 'outage:' });
  const statuses: boolean[] = [];
  store.onStatus((up) => statuses.push(up));
  try {
    assert.equal(store.connected, true);
    store.putRetained(message('before', 'kept until Redis loses it'));
    store.saveSession({ clientId: 'c', expiryInterval: 60, subscriptions: [], will: undefined, disconnectedAt: 1 });
    await store.flush();

    await redis.kill();
    await until(() => !store.connected, 10_000, 'connected to become false');
    assert.deepEqual(statuses, [false]);

    store.putRetained(message('during', 'never committed'));
    const flushed = await settles(store.flush(), 30_000, 'flush() with Redis down');
    assert.equal(flushed.status, 'rejected');
    assert.equal((flushed as PromiseRejectedResult).reason.code, 'MOAT_ERR_STORE_COMMIT');
    const loaded = await settles(store.loadSession('c'), 30_000, 'loadSession() with Redis down');
    assert.equal(loaded.status, 'rejected');
    assert.equal((loaded as PromiseRejectedResult).reason.code, 'MOAT_ERR_STORE_UNAVAILABLE');
    // A write at the end of a turn that fails is reported by the next flush().
    store.putRetained(message('during/2'));
    await new Promise((resolve) => setImmediate(resolve));
    const reported = await settles(store.flush(), 30_000, 'the flush after a failed end-of-turn commit');
    assert.equal(reported.status, 'rejected');

    redis = await startRedis({ port });
    await until(() => store.connected, 30_000, 'the store to reconnect');
    assert.deepEqual(statuses, [false, true]);
    // Redis came back empty: the cache says so once reloaded, and new writes commit.
    await until(() => store.retainedCount === 0, 10_000, 'the retained cache to be reloaded');
    store.putRetained(message('after', 'new'));
    store.saveSession({ clientId: 'c2', expiryInterval: 60, subscriptions: [], will: undefined, disconnectedAt: 2 });
    await store.flush();
    assert.deepEqual([...store.matchRetained('#')].map((m) => m.topic), ['after']);
    assert.equal(store.retainedBytes, 3);
    assert.equal((await store.loadSession('c2'))?.session.disconnectedAt, 2);
    assert.equal(await store.loadSession('c'), undefined);

    const direct = connectRedis(parseRedisUrl(redis.url));
    try {
      assert.deepEqual(await direct.hkeys('outage:retained'), ['after']);
    } finally {
      direct.disconnect();
    }
  } finally {
    await store.close();
    await redis.stop();
  }
});

test('redis outage: a Redis that hangs (SIGSTOP) fails a flush by the command timeout; resumed, the store goes on', async () => {
  const redis = await startRedis();
  const store = await RedisStore.open(redis.url, { prefix: 'hang:', commandTimeoutMs: 300 });
  try {
    process.kill(redis.process.pid, 'SIGSTOP');
    try {
      store.putRetained(message('stuck'));
      const flushed = await settles(store.flush(), 30_000, 'flush() with Redis stopped');
      assert.equal(flushed.status, 'rejected');
      assert.equal((flushed as PromiseRejectedResult).reason.code, 'MOAT_ERR_STORE_COMMIT');
      const loaded = await settles(store.loadSession('c'), 30_000, 'loadSession() with Redis stopped');
      assert.equal((loaded as PromiseRejectedResult).reason.code, 'MOAT_ERR_STORE_UNAVAILABLE');
    } finally {
      process.kill(redis.process.pid, 'SIGCONT');
    }
    store.putRetained(message('resumed', 'ok'));
    store.saveSession({ clientId: 'c', expiryInterval: 60, subscriptions: [], will: undefined, disconnectedAt: 3 });
    await store.flush();
    assert.equal((await store.loadSession('c'))?.session.disconnectedAt, 3);
    // The timed-out group may still have run once Redis resumed: the cache follows what Redis has.
    const direct = connectRedis(parseRedisUrl(redis.url));
    try {
      const keys = (await direct.hkeys('hang:retained')).sort();
      await until(() => JSON.stringify([...store.matchRetained('#')].map((m) => m.topic).sort()) === JSON.stringify(keys), 10_000, `the cache to hold ${keys.join(', ')}`);
    } finally {
      direct.disconnect();
    }
  } finally {
    await store.close();
    await redis.stop();
  }
});

test('redis outage: a store whose change subscription was cut still takes the other stores\' later changes of a topic it wrote meanwhile', async () => {
  const redis = await startRedis();
  const [one, two] = await Promise.all([RedisStore.open(redis.url, { prefix: 'cut:' }), RedisStore.open(redis.url, { prefix: 'cut:' })]);
  const direct = connectRedis(parseRedisUrl(redis.url));
  const statuses: boolean[] = [];
  one.onStatus((up) => statuses.push(up));
  try {
    await direct.client('KILL', 'TYPE', 'pubsub');
    // Sent while the subscriptions are down: its own change never comes back to `one`.
    one.putRetained(message('t', 'from one'));
    await one.flush();
    await until(() => one.connected && two.connected && statuses.length >= 2, 10_000, 'both stores to resubscribe');
    await until(() => two.getRetained('t')?.payload.toString() === 'from one', 10_000, 'the second store to reload');
    two.putRetained(message('t', 'from two'));
    await two.flush();
    await until(() => one.getRetained('t')?.payload.toString() === 'from two', 10_000, 'the first store to take the later change');
  } finally {
    direct.disconnect();
    await Promise.all([one.close(), two.close()]);
    await redis.stop();
  }
});
