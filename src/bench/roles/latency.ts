// Latency: one publisher at a fixed rate and one subscriber in the same thread (one clock). Each
// payload carries process.hrtime.bigint() at send; the subscriber records now - then (ns) in an
// HDR histogram. Pacing: a 1 ms timer sends every message due since the start, so the rate is
// exact over the run; timestamps are the actual send times.
import { createHistogram } from 'node:perf_hooks';
import { LeanClient } from '../lean-client.js';
import { RECEIVED, SENT } from '../pool.js';
import { payloadOf, type ClientGroupParams } from './common.js';
import type { RoleContext } from './context.js';

export interface LatencyParams extends Omit<ClientGroupParams, 'clients'> {
  topic: string;
  size: number;
  rate: number;
  warmupMs: number;
}

/** Microseconds. */
export interface LatencyResult {
  sent: number;
  received: number;
  recorded: number;
  min: number;
  mean: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  /** Largest number of messages the timer had to send in one tick (a sign the generator lagged). */
  maxBurst: number;
}

export async function runLatency(p: LatencyParams, ctx: RoleContext): Promise<LatencyResult> {
  const { counters, base } = ctx;
  const options = { target: p.target, protocol: p.protocol, keepalive: 0 };
  const sub = await LeanClient.connect({ ...options, clientId: `${p.clientPrefix}-sub` });
  const pub = await LeanClient.connect({ ...options, clientId: `${p.clientPrefix}-pub` });
  await sub.subscribe(p.topic, 0);
  const histogram = createHistogram({ lowest: 1, highest: 60_000_000_000, figures: 3 });
  const size = Math.max(8, p.size);
  const template = pub.encodePublish(p.topic, payloadOf(size), 0);
  const stampAt = template.length - size;
  let recordFrom = 0n;
  sub.countInto(counters, base + RECEIVED);
  sub.onPublish = (buf, payloadStart, end) => {
    if (end - payloadStart < 8) return;
    const now = process.hrtime.bigint();
    const then = buf.readBigUInt64BE(payloadStart);
    if (then >= recordFrom) histogram.record(Math.max(1, Number(now - then)));
  };
  await ctx.ready();
  const t0 = process.hrtime.bigint();
  recordFrom = t0 + BigInt(p.warmupMs) * 1_000_000n;
  let sent = 0;
  let maxBurst = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      if (ctx.isStopped()) {
        resolve();
        return;
      }
      const now = process.hrtime.bigint();
      const due = Math.floor((Number(now - t0) / 1e9) * p.rate) - sent;
      // Bounded catch-up: after a stall, never flood more than 100 ms worth at once.
      const n = Math.min(due, Math.max(1, Math.ceil(p.rate / 10)));
      if (n > maxBurst) maxBurst = n;
      for (let i = 0; i < n; i++) {
        const packet = Buffer.from(template);
        packet.writeBigUInt64BE(process.hrtime.bigint(), stampAt);
        pub.write(packet);
      }
      if (n > 0) {
        sent += n;
        counters[base + SENT] = sent;
      }
      setTimeout(tick, 1);
    };
    tick();
  });
  // Stragglers still in flight get 300 ms to arrive.
  await new Promise((r) => setTimeout(r, 300));
  const us = (ns: number): number => Math.round(ns / 100) / 10;
  const recorded = histogram.count;
  const result: LatencyResult = {
    sent,
    received: sub.received,
    recorded,
    min: recorded > 0 ? us(histogram.min) : 0,
    mean: recorded > 0 ? us(histogram.mean) : 0,
    p50: recorded > 0 ? us(histogram.percentile(50)) : 0,
    p99: recorded > 0 ? us(histogram.percentile(99)) : 0,
    p999: recorded > 0 ? us(histogram.percentile(99.9)) : 0,
    max: recorded > 0 ? us(histogram.max) : 0,
    maxBurst,
  };
  await Promise.all([pub.close(), sub.close()]);
  return result;
}
