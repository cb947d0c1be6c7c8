// `moat capacity check`: samples a live broker's connection count from `$SYS` (and moat's admin API)
// over a window, then reports usage against the limit, the headroom, and — from a least-squares line
// through the samples — when the limit will be reached. The arithmetic is pure (assessCapacity);
// sampling lives in capacity.ts. Exit codes follow the monitoring-plugin convention.
import { formatDuration, formatPercent, usagePercent } from './top-render.js';
import { formatCount } from './top-render.js';

/** Exit codes of `moat capacity check` (Nagios/Icinga plugin convention, so a monitor can run it as is). */
export const CHECK_EXIT = { ok: 0, warning: 1, critical: 2, unknown: 3 } as const;
export type CheckStatus = keyof typeof CHECK_EXIT;

export interface Sample {
  /** Seconds since the window began. */
  readonly t: number;
  readonly connected: number;
}

export interface CheckInput {
  readonly target: string;
  readonly version?: string;
  readonly windowSeconds: number;
  readonly samples: readonly Sample[];
  readonly limit?: number;
  readonly limitSource?: string;
  /** Percent at which the check warns (default 80, as capacity_alert_threshold). */
  readonly warnPercent: number;
  readonly criticalPercent: number;
  /** When the window ended (ms since the epoch), to say the time the limit is reached. */
  readonly endedAt: number;
  readonly refusedTotal?: number;
}

export interface CheckResult {
  readonly status: CheckStatus;
  readonly connected?: number;
  readonly limit?: number;
  readonly percent?: number;
  readonly headroom?: number;
  readonly headroomPercent?: number;
  /** Connections per second from the linear fit; undefined with fewer than two sample times. */
  readonly slopePerSecond?: number;
  /** Seconds until the limit at the current trend; undefined when the trend does not reach it. */
  readonly secondsToLimit?: number;
  readonly lines: string[];
}

/** Least-squares slope of connected over time; undefined when every sample is at the same time. */
export function linearSlope(samples: readonly Sample[]): number | undefined {
  if (samples.length < 2) return undefined;
  const meanT = samples.reduce((a, s) => a + s.t, 0) / samples.length;
  const meanY = samples.reduce((a, s) => a + s.connected, 0) / samples.length;
  let num = 0;
  let den = 0;
  for (const s of samples) {
    num += (s.t - meanT) * (s.connected - meanY);
    den += (s.t - meanT) ** 2;
  }
  return den === 0 ? undefined : num / den;
}

/** "45 s", "12 min 5 s", else days/hours: an estimate's length in the words a person reads. */
export function formatApprox(seconds: number): string {
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return formatDuration(seconds);
}

/** A trend slower than one connection a day is flat. */
const FLAT_PER_SECOND = 1 / 86400;

export function assessCapacity(input: CheckInput): CheckResult {
  const last = input.samples[input.samples.length - 1];
  const lines = [`Broker      ${input.target}${input.version === undefined ? '' : ` (${input.version})`}`, `Window      ${input.windowSeconds} s, ${input.samples.length} samples of $SYS/broker/clients/connected (from its first live update)`];
  if (last === undefined) {
    lines.push('Connected   unknown: no $SYS/broker/clients/connected in the window (is sys_interval 0, or the window shorter than it?)');
    return { status: 'unknown', lines };
  }
  const connected = last.connected;
  lines.push(`Connected   ${formatCount(connected)} (this check's own connection included)`);
  const slope = linearSlope(input.samples);
  const trend = slope === undefined ? 'unknown (one sample)' : `${slope >= 0 ? '+' : ''}${(slope * 60).toFixed(1)} connections/min (least-squares line over the window)`;
  if (input.limit === undefined) {
    lines.push('Limit       unknown: the broker does not publish it; pass --limit (its max_connections)');
    lines.push(`Trend       ${trend}`);
    return { status: 'unknown', connected, ...(slope === undefined ? {} : { slopePerSecond: slope }), lines };
  }
  const limit = input.limit;
  const percent = usagePercent(connected, limit) as number;
  const headroom = Math.max(0, limit - connected);
  const headroomPercent = (headroom / limit) * 100;
  const status: CheckStatus = percent >= input.criticalPercent ? 'critical' : percent >= input.warnPercent ? 'warning' : 'ok';
  const verdict = status === 'ok' ? `OK: below the ${input.warnPercent}% threshold` : status === 'warning' ? `WARNING: at or over the ${input.warnPercent}% threshold` : `CRITICAL: at or over ${input.criticalPercent}%`;
  lines.push(`Limit       ${formatCount(limit)}${input.limitSource === undefined ? '' : ` (from ${input.limitSource})`}`);
  lines.push(`Usage       ${formatPercent(percent)}  ${verdict}`);
  lines.push(`Headroom    ${formatCount(headroom)} connection${headroom === 1 ? '' : 's'} (${formatPercent(headroomPercent)})`);
  if (input.refusedTotal !== undefined) lines.push(`Refused     ${formatCount(input.refusedTotal)} by a configured limit since the broker started (connections, rates, memory, subscriptions, topics)`);
  let secondsToLimit: number | undefined;
  let estimate: string;
  if (connected >= limit) estimate = 'the limit is reached now: new clients are being refused';
  else if (slope === undefined || slope <= FLAT_PER_SECOND) estimate = 'the limit is not reached at the current trend';
  else {
    secondsToLimit = (limit - connected) / slope;
    const at = new Date(input.endedAt + secondsToLimit * 1000);
    const when = Number.isFinite(at.getTime()) ? `, around ${at.toISOString().replace(/\.\d+Z$/, 'Z')}` : '';
    estimate = `at this trend the limit is reached in about ${formatApprox(secondsToLimit)}${when}`;
  }
  lines.push(`Trend       ${trend}`, `Estimate    ${estimate}`);
  return {
    status,
    connected,
    limit,
    percent,
    headroom,
    headroomPercent,
    ...(slope === undefined ? {} : { slopePerSecond: slope }),
    ...(secondsToLimit === undefined ? {} : { secondsToLimit }),
    lines,
  };
}
