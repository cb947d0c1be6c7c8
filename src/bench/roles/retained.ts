// Retained: publish `count` retained messages on distinct topics (pipelined, with backpressure),
// confirm the broker has them with a QoS 1 sentinel (a broker handles one connection's packets in
// order), then time a fresh subscriber's wildcard SUBSCRIBE until all `count` have arrived.
import { MoatError } from '../../codec/errors.js';
import { LeanClient } from '../lean-client.js';
import { AUX, RECEIVED, SENT } from '../pool.js';
import { payloadOf, publishConfirmed, type ClientGroupParams } from './common.js';
import { sleep, type RoleContext } from './context.js';

export interface RetainedParams extends Omit<ClientGroupParams, 'clients'> {
  count: number;
  size: number;
  /** Topics are `${prefix}/<i>`; unique per run so earlier runs' leftovers are not counted. */
  prefix: string;
  timeoutMs: number;
  /** Clear the retained messages afterwards (empty retained payloads), for shared brokers. */
  cleanup: boolean;
}

export interface RetainedResult {
  published: number;
  publishMs: number;
  received: number;
  /** From SUBSCRIBE written to the last retained message read. */
  deliverMs: number;
  complete: boolean;
}

async function publishAll(pub: LeanClient, p: RetainedParams, payload: Buffer, onProgress: (n: number) => void): Promise<void> {
  for (let i = 0; i < p.count; i++) {
    if (!pub.write(pub.encodePublish(`${p.prefix}/${i}`, payload, 0, true))) await pub.drain();
    if ((i & 1023) === 0) onProgress(i);
    if (pub.closed) throw new MoatError('MOAT_ERR_BENCH_CONNECTION', 'broker closed the publisher while storing retained messages');
  }
  onProgress(p.count);
  await publishConfirmed(pub, pub.encodePublish(`${p.prefix}-sentinel`, payload, 1, false, 1), p.timeoutMs, 'the retained sentinel');
}

export async function runRetained(p: RetainedParams, ctx: RoleContext): Promise<RetainedResult> {
  const { counters, base } = ctx;
  const options = { target: p.target, protocol: p.protocol, keepalive: 0 };
  const pub = await LeanClient.connect({ ...options, clientId: `${p.clientPrefix}-pub` });
  await ctx.ready();
  counters[base + AUX] = 1;
  const t0 = performance.now();
  await publishAll(pub, p, payloadOf(p.size), (n) => (counters[base + SENT] = n));
  const publishMs = performance.now() - t0;

  counters[base + AUX] = 2;
  const sub = await LeanClient.connect({ ...options, clientId: `${p.clientPrefix}-sub` });
  sub.countInto(counters, base + RECEIVED);
  let last = 0;
  let done: () => void = () => undefined;
  const all = new Promise<void>((resolve) => {
    done = resolve;
  });
  sub.onPublish = () => {
    last = performance.now();
    if (sub.received >= p.count) done();
  };
  const t1 = performance.now();
  await sub.subscribe(`${p.prefix}/#`, 0, p.timeoutMs);
  // Wait for all, but give up once nothing has arrived for 3 s (a broker that dropped some).
  const deadline = t1 + p.timeoutMs;
  let seen = -1;
  let quietSince = performance.now();
  while (sub.received < p.count && performance.now() < deadline && !ctx.isStopped() && performance.now() - quietSince < 3000) {
    await Promise.race([all, sleep(100)]);
    if (sub.received !== seen) {
      seen = sub.received;
      quietSince = performance.now();
    }
  }
  const received = sub.received;
  const result: RetainedResult = { published: p.count, publishMs, received, deliverMs: (last || performance.now()) - t1, complete: received >= p.count };
  await sub.close();
  if (p.cleanup) {
    counters[base + AUX] = 3;
    await publishAll(pub, p, Buffer.alloc(0), () => undefined).catch(() => undefined);
  }
  await pub.close();
  return result;
}
