// The one place a `cluster_redis` / `--cluster` URL becomes ioredis connections, shared by the Redis
// store and the Redis bus. Forms (ioredis reads the plain ones itself):
//   redis://[user:password@]host[:port][/db]     rediss://…  (TLS)
//   redis+sentinel://[user:password@]host:port[,host:port…]/MASTER_NAME[/db]   (rediss+sentinel: TLS)
//   redis+cluster://[user:password@]host:port[,host:port…]                     (rediss+cluster: TLS)
// The password of a sentinel URL is the master's (Redis Sentinel itself is usually open on the
// private network it runs in); ioredis finds the current master and follows failovers.
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisTarget } from './redis-url.js';

export type RedisConnection = Redis | Cluster;

export { parseRedisUrl, type RedisTarget } from './redis-url.js';

/**
 * A new connection to `target` (each user takes its own: a subscriber connection cannot send
 * commands). `options` are ioredis options for this use (retry strategy, offline queue…).
 */
export function connectRedis(target: RedisTarget, options: RedisOptions = {}): RedisConnection {
  const auth: RedisOptions = {
    ...(target.username === undefined ? {} : { username: target.username }),
    ...(target.password === undefined ? {} : { password: target.password }),
    ...(target.tls ? { tls: {} } : {}),
  };
  if (target.kind === 'cluster') {
    const clusterOptions: ClusterOptions = { redisOptions: { ...options, ...auth } };
    return new Cluster(target.hosts.map((h) => ({ host: h.host, port: h.port })), clusterOptions);
  }
  if (target.kind === 'sentinel') {
    return new Redis({ ...options, ...auth, db: target.db, sentinels: target.hosts.map((h) => ({ host: h.host, port: h.port })), name: target.name ?? 'mymaster', ...(target.tls ? { enableTLSForSentinelMode: true } : {}) });
  }
  const [first] = target.hosts;
  return new Redis({ ...options, ...auth, db: target.db, host: first?.host ?? '127.0.0.1', port: first?.port ?? 6379 });
}
