// Reconnect policy, pure: the back-off law (exponential, full jitter) and what a broker's reason
// code means for the next attempt (stop, back off hard, follow a server reference, or back off
// normally) are pure; ReconnectTimer holds the attempt count and the one timer. No sockets here.
import type { Properties } from '../codec/types.js';

/** The resolved `reconnect` option. */
export interface ReconnectPolicy {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly multiplier: number;
  readonly retryOnAuthFailure: boolean;
}

export interface BackoffOptions {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly multiplier: number;
  /** "Back off hard": the cap is maxDelayMs whatever the attempt. */
  readonly hard?: boolean;
}

/** The largest delay attempt `attempt` (1-based) may wait: min(max, initial × multiplier^(attempt-1)). */
export function backoffCap(attempt: number, options: BackoffOptions): number {
  if (options.hard === true) return options.maxDelayMs;
  const n = Math.max(1, Math.floor(attempt));
  // multiplier^(n-1) overflows to Infinity for large n; min() keeps it at the cap.
  return Math.min(options.maxDelayMs, options.initialDelayMs * options.multiplier ** (n - 1));
}

/**
 * Full jitter (AWS style): a delay drawn uniformly from [0, cap(attempt)], so a fleet that lost
 * its broker at the same instant spreads its reconnects over the whole window instead of arriving
 * together. `random` returns [0, 1) like Math.random; tests pass a fixed one.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  return Math.floor(random() * (backoffCap(attempt, options) + 1));
}

/** What to do after a refused CONNECT or a server DISCONNECT. */
export type RetryAdvice =
  | { readonly action: 'retry'; readonly hard: boolean; readonly serverReference?: string }
  | { readonly action: 'stop'; readonly why: string };

/** v5 codes that mean "these credentials will not work": retrying would only hammer the broker. */
const AUTH_FAILURES_V5: ReadonlySet<number> = new Set([0x86, 0x87, 0x8a]);
/** v5 CONNACK codes for a client misconfiguration that no retry fixes. */
const CONFIG_FAILURES_V5: ReadonlySet<number> = new Set([0x84, 0x85, 0x8c]);
/** The server is overloaded or limiting us: wait the maximum delay (0x89 only as a DISCONNECT: see BUSY_CONNACK_V5). */
const HARD_V5: ReadonlySet<number> = new Set([0x88, 0x89, 0x97, 0x9f]);
/**
 * A CONNACK Server busy (3.1.1: 3, Server unavailable, below) comes at once from a broker whose login
 * checks are at their bounds (moat does this under a login storm): it is not about this client, and
 * the next login may well get through. The normal back-off (full jitter, growing per attempt)
 * already spreads a fleet; the maximum delay would turn every storm into minutes of lock-out.
 */
const BUSY_CONNACK_V5 = 0x89;
/** 3.1.1 CONNACK return codes: 1 bad protocol version, 2 identifier rejected, 3 server unavailable, 4 bad user name or password, 5 not authorized. */
const AUTH_FAILURES_V4: ReadonlySet<number> = new Set([4, 5]);
const CONFIG_FAILURES_V4: ReadonlySet<number> = new Set([1, 2]);

/**
 * Reads the broker's reason: `packet` is where it came from (a refused CONNACK or a DISCONNECT),
 * `code` the reason code (3.1.1: the CONNACK return code).
 */
export function adviseRetry(packet: 'connack' | 'disconnect', code: number, version: 4 | 5, policy: ReconnectPolicy, properties?: Properties): RetryAdvice {
  if (version === 4) {
    if (packet !== 'connack') return { action: 'retry', hard: false };
    if (AUTH_FAILURES_V4.has(code) && !policy.retryOnAuthFailure) return { action: 'stop', why: 'the credentials were refused, and retrying with the same ones cannot succeed (set reconnect.retryOnAuthFailure to retry anyway)' };
    if (CONFIG_FAILURES_V4.has(code)) return { action: 'stop', why: 'the client configuration was refused (protocol version or client identifier); no retry fixes that' };
    // 3 (Server unavailable) is what a busy broker tells 3.1.1 clients: the normal back-off, as for 0x89.
    return { action: 'retry', hard: AUTH_FAILURES_V4.has(code) };
  }
  if (AUTH_FAILURES_V5.has(code) && !policy.retryOnAuthFailure) {
    return { action: 'stop', why: 'the broker refuses these credentials or this client, and retrying with the same ones cannot succeed (set reconnect.retryOnAuthFailure to retry anyway)' };
  }
  if (packet === 'connack' && CONFIG_FAILURES_V5.has(code)) return { action: 'stop', why: 'the client configuration was refused; no retry fixes that' };
  if (packet === 'disconnect' && code === 0x8e) {
    return { action: 'stop', why: 'another connection took over this client identifier; reconnecting would take it back and the two would fight forever' };
  }
  if ((code === 0x9c || code === 0x9d) && properties?.serverReference !== undefined) {
    return { action: 'retry', hard: false, serverReference: properties.serverReference };
  }
  if (packet === 'connack' && code === BUSY_CONNACK_V5) return { action: 'retry', hard: false };
  return { action: 'retry', hard: HARD_V5.has(code) || AUTH_FAILURES_V5.has(code) };
}

/**
 * A Server Reference ("host", "host:port", "[::1]:port"; a space-separated list: the first entry)
 * as host and port; the port defaults to `defaultPort`. undefined when it cannot be read.
 */
export function parseServerReference(reference: string, defaultPort: number): { host: string; port: number } | undefined {
  const first = reference.trim().split(/\s+/)[0] ?? '';
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(first);
  if (match === null) return undefined;
  const host = match[1] ?? match[2];
  const port = match[3] === undefined ? defaultPort : Number(match[3]);
  if (host === undefined || host === '' || port < 1 || port > 65535) return undefined;
  return { host, port };
}

/** `attempt` counts from 1 since the last successful connect; `error` says why the previous attempt failed. */
export type ReconnectingHandler = (attempt: number, delayMs: number, error?: Error) => void;

/** The attempt counter and the one pending timer of a reconnecting client, and its onReconnecting handlers. */
export class ReconnectTimer {
  readonly handlers = new Set<ReconnectingHandler>();
  readonly #policy: ReconnectPolicy | undefined;
  readonly #call: (handler: ReconnectingHandler, attempt: number, delayMs: number, error: Error | undefined) => void;
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;

  /** `call` runs a user handler (the client's callUser, so a throwing handler cannot break the flow). */
  constructor(policy: ReconnectPolicy | undefined, call: (handler: ReconnectingHandler, attempt: number, delayMs: number, error: Error | undefined) => void) {
    this.#policy = policy;
    this.#call = call;
  }

  /**
   * Draws the next attempt's delay (`hard`: capped at maxDelayMs), tells the handlers, then calls
   * `run` after the delay, unless `wanted()` turned false meanwhile (a handler called end()).
   */
  schedule(hard: boolean, error: Error | undefined, wanted: () => boolean, run: () => void): void {
    const policy = this.#policy;
    if (policy === undefined) return;
    this.cancel();
    const attempt = ++this.#attempt;
    const delayMs = backoffDelay(attempt, { ...policy, hard });
    for (const handler of this.handlers) this.#call(handler, attempt, delayMs, error);
    if (!wanted()) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      run();
    }, delayMs);
  }

  /** A connect succeeded: the next loss starts again from attempt 1. */
  reset(): void {
    this.#attempt = 0;
  }

  cancel(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
