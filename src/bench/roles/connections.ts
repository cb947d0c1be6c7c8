// Connections: opens `count` idle clean connections with at most `concurrency` CONNECTs in flight,
// counts CONNACKs into AUX (failures into ACKED) and holds them until told to stop.
import { LeanClient } from '../lean-client.js';
import { ACKED, AUX } from '../pool.js';
import type { ClientGroupParams } from './common.js';
import type { RoleContext } from './context.js';

export interface ConnectionsParams extends Omit<ClientGroupParams, 'clients'> {
  count: number;
  concurrency: number;
  keepalive: number;
}

export interface ConnectionsResult {
  connected: number;
  failed: number;
  firstError: string | undefined;
  /** From the first CONNECT to the last CONNACK. */
  connectMs: number;
  /** Connections the broker had closed by the end of the hold. */
  droppedWhileIdle: number;
}

export async function runConnections(p: ConnectionsParams, ctx: RoleContext): Promise<ConnectionsResult> {
  const { counters, base } = ctx;
  await ctx.ready();
  const clients: LeanClient[] = [];
  let failed = 0;
  let firstError: string | undefined;
  let next = 0;
  const start = performance.now();
  const lane = async (): Promise<void> => {
    while (next < p.count && !ctx.isStopped()) {
      const i = next++;
      try {
        clients.push(await LeanClient.connect({ target: p.target, protocol: p.protocol, clientId: `${p.clientPrefix}-${i}`, keepalive: p.keepalive }));
        counters[base + AUX] = clients.length;
      } catch (error) {
        failed++;
        firstError ??= (error as Error).message;
        counters[base + ACKED] = failed;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(p.concurrency, p.count) }, lane));
  const connectMs = performance.now() - start;
  await ctx.stopped;
  const droppedWhileIdle = clients.filter((c) => c.closed).length;
  for (const c of clients) c.destroy();
  return { connected: clients.length, failed, firstError, connectMs, droppedWhileIdle };
}
