// Connecting many lean clients from a role, with bounded concurrency and a bounded time.
import { MoatError } from '../../codec/errors.js';
import { LeanClient, type Target } from '../lean-client.js';
import { withConcurrency } from './context.js';

export interface ClientGroupParams {
  target: Target;
  protocol: 4 | 5;
  clients: number;
  /** Client ids are `${clientPrefix}-${i}`: unique per run so no session takeovers happen. */
  clientPrefix: string;
  /** Client i connects to targets[i mod n] when given (a cluster's nodes), else to target. */
  targets?: readonly Target[];
  /** Persistent sessions instead of clean ones. */
  persistent?: boolean;
}

export async function connectGroup(p: ClientGroupParams, concurrency = 50): Promise<LeanClient[]> {
  return withConcurrency(p.clients, concurrency, (i) =>
    LeanClient.connect({ target: p.targets?.[i % p.targets.length] ?? p.target, clientId: `${p.clientPrefix}-${i}`, protocol: p.protocol, keepalive: 0, persistent: p.persistent === true }),
  );
}

export async function closeGroup(clients: readonly LeanClient[]): Promise<void> {
  await Promise.all(clients.map((c) => c.close()));
}

/** Payload of `size` bytes (at least 8 so latency timestamps fit where needed). */
export function payloadOf(size: number): Buffer {
  return Buffer.alloc(size, 0x78);
}

/**
 * Writes one QoS 1 PUBLISH and resolves on its PUBACK: a broker handles one connection's packets in
 * order, so everything written before it on this connection has been handled too.
 */
export async function publishConfirmed(client: LeanClient, packet: Buffer, timeoutMs: number, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      client.onAcks = () => resolve();
      timer = setTimeout(() => reject(new MoatError('MOAT_ERR_BENCH_TIMEOUT', `no PUBACK for ${what} within ${timeoutMs} ms`)), timeoutMs);
      client.write(packet);
    });
  } finally {
    clearTimeout(timer);
    client.onAcks = undefined;
  }
}
