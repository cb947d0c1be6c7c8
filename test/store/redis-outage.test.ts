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
