// Subscribers: N lean clients on one filter, counting received PUBLISH into the shared block
// (QoS 1 deliveries are PUBACKed by the client, one write per read; DUP resends are counted apart).
import type { QoS } from '../../codec/types.js';
import { RECEIVED } from '../pool.js';
import { closeGroup, connectGroup, type ClientGroupParams } from './common.js';
import type { RoleContext } from './context.js';

export interface SubscribeParams extends ClientGroupParams {
  filter: string;
  qos: QoS;
}

export interface SubscribeResult {
  received: number;
  /** Fewest and most received by one subscriber: a wide spread means unfair fan-out. */
  minPerClient: number;
  maxPerClient: number;
  disconnected: number;
  /** DUP resends of messages already received (not in `received`). */
  duplicates: number;
}

export async function runSubscribe(p: SubscribeParams, ctx: RoleContext): Promise<SubscribeResult> {
  const clients = await connectGroup(p);
  for (const c of clients) c.countInto(ctx.counters, ctx.base + RECEIVED);
  await Promise.all(clients.map((c) => c.subscribe(p.filter, p.qos)));
  await ctx.ready();
  await ctx.stopped;
  const counts = clients.map((c) => c.received);
  const disconnected = clients.filter((c) => c.closed).length;
  const duplicates = clients.reduce((a, c) => a + c.duplicates, 0);
  await closeGroup(clients);
  return {
    received: counts.reduce((a, b) => a + b, 0),
    minPerClient: Math.min(...counts),
    maxPerClient: Math.max(...counts),
    disconnected,
    duplicates,
  };
}
