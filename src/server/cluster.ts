// A broker as one node of a cluster (cluster_redis, issue 13): the Redis store and the Redis bus
// on the same URL and prefix, opened before anything listens; their connection to Redis logged as
// it comes and goes (cluster_redis_lost, cluster_redis_back) and told to /readyz. While Redis is
// away the node serves its own clients; the store and the bus resync by themselves when it returns.
import type { Logger } from '../broker/logger.js';
import type { Message } from '../broker/message.js';
import { RedisBus } from '../cluster/redis-bus.js';
import { parseRedisUrl } from '../cluster/redis-url.js';
import type { BrokerConfig } from '../config/types.js';
import { RedisStore } from '../store/redis.js';

export interface ClusterNode {
  readonly store: RedisStore<Message>;
  readonly bus: RedisBus;
  /** Why this node is not ready as a cluster member, in sentences; empty while both reach Redis. */
  readiness(): string[];
  /** Leaves the cluster (bus) and commits the store's last writes; after the broker closed. */
  close(): Promise<void>;
}

/**
 * Opens the store and the bus of `config.clusterRedis`, undefined without it. Rejects with
 * MOAT_ERR_STORE_UNAVAILABLE or MOAT_ERR_BUS_CONNECT when Redis cannot be reached within their
 * connect timeouts: a node that cannot load sessions would refuse every persistent client, so it
 * is better not started than started and half there.
 */
export async function openCluster(config: Pick<BrokerConfig, 'clusterRedis' | 'clusterPrefix'>, logger: Logger): Promise<ClusterNode | undefined> {
  if (config.clusterRedis === undefined) return undefined;
  const target = parseRedisUrl(config.clusterRedis);
  const prefix = config.clusterPrefix;
  const store = await RedisStore.open<Message>(target, { prefix, logger });
  let bus: RedisBus;
  try {
    bus = await RedisBus.open(target, { prefix });
  } catch (error) {
    await store.close();
    throw error;
  }
  const parts = [
    { name: 'store', part: store, without: 'loading sessions from the cluster or acknowledging QoS 1/2 messages', resync: 'it reloads the retained messages' },
    { name: 'bus', part: bus, without: 'messages to and from the other nodes', resync: "it writes its interest and clients again and reloads the other nodes'" },
  ] as const;
  const stops = parts.map(({ name, part, without, resync }) =>
    part.onStatus((up) => {
      const fields = { event: up ? 'cluster_redis_back' : 'cluster_redis_lost', part: name, redis: target.display, node: bus.nodeId };
      if (up) logger.info(fields, `the cluster ${name} reaches Redis at ${target.display} again; ${resync}`);
      else logger.error(fields, `the cluster ${name} lost Redis at ${target.display}: this node serves its own clients, without ${without}, until Redis is back`);
    }),
  );
  let closing: Promise<void> | undefined;
  return {
    store,
    bus,
    readiness: () => parts.flatMap(({ name, part }) => (part.connected ? [] : [`the cluster ${name} cannot reach Redis at ${target.display}`])),
    close: () =>
      (closing ??= (async () => {
        for (const stop of stops) stop();
        await bus.close();
        await store.close();
      })()),
  };
}
