// TLS connect: for durationMs each, as many full handshakes + CONNECT/CONNACK as `concurrency`
// lanes manage, then the same with the TLS session (ticket) of an earlier connection resumed.
import { LeanClient, type Target } from '../lean-client.js';
import { RECEIVED, SENT } from '../pool.js';
import type { RoleContext } from './context.js';

export interface TlsParams {
  target: Target;
  protocol: 4 | 5;
  clientPrefix: string;
  durationMs: number;
  concurrency: number;
}

export interface TlsPhase {
  count: number;
  ms: number;
  /** Connections whose TLS session really was resumed (isSessionReused()). */
  reused: number;
}

export interface TlsResult {
  full: TlsPhase;
  resumed: TlsPhase;
  failed: number;
  firstError: string | undefined;
}

export async function runTls(p: TlsParams, ctx: RoleContext): Promise<TlsResult> {
  const { counters, base } = ctx;
  let session: Buffer | undefined;
  let failed = 0;
  let firstError: string | undefined;
  let n = 0;
  await ctx.ready();

  const phase = async (resume: boolean, slot: number): Promise<TlsPhase> => {
    let count = 0;
    let reused = 0;
    const start = performance.now();
    const end = start + p.durationMs;
    const lane = async (): Promise<void> => {
      while (performance.now() < end && !ctx.isStopped() && failed < 100) {
        try {
          const client = await LeanClient.connect({
            target: p.target,
            protocol: p.protocol,
            clientId: `${p.clientPrefix}-${n++}`,
            ...(resume && session !== undefined ? { session } : {}),
            onSession: (s) => {
              if (!resume) session = s;
            },
          });
          if ((client.socket as import('node:tls').TLSSocket).isSessionReused()) reused++;
          count++;
          counters[base + slot] = count;
          client.destroy();
        } catch (error) {
          failed++;
          firstError ??= (error as Error).message;
        }
      }
    };
    await Promise.all(Array.from({ length: p.concurrency }, lane));
    return { count, ms: performance.now() - start, reused };
  };

  const full = await phase(false, SENT);
  const resumed = await phase(true, RECEIVED);
  return { full, resumed, failed, firstError };
}
