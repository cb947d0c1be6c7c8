// memory_limit and overload protection, from one sampler: every SAMPLE_INTERVAL_MS it reads the
// broker's memory and how late its own timer fired (the event loop's lag), and sets booleans the
// hot path reads — a PUBLISH pays one property read, never a syscall or a heap walk.
//
// The memory measured is V8's used heap plus its external memory (Buffers: payloads, socket reads,
// queued wire bytes), from v8.getHeapStatistics() (~1 µs, no /proc read). Not RSS: V8 and malloc
// keep pages after a spike, so RSS stays high once the messages are gone and the broker would
// refuse for ever; heap + external falls as soon as the garbage collector frees them. This is the
// nearest Node.js has to Mosquitto's count of the bytes it allocated (its memory_limit's measure).
// The process may hold more than this (code, stacks, allocator slack): size the limit with RSS in view.
//
// Overload protection (opt-in): while memory is at OVERLOAD_MEMORY_SHARE of memory_limit or more, or
// the lag is over max_event_loop_lag, the heaviest publishers (most bytes received in the last
// sample) are read no further, a few per sample, until the broker is back under the bounds with a
// margin (RESUME_MEMORY_SHARE of the limit, half the lag bound); then all of them are read again.
// A held socket's TCP window fills, so the publisher's own stack slows it; nothing is dropped.
import { getHeapStatistics } from 'node:v8';

/** How often memory and lag are sampled: a refusal starts and ends within this much of the crossing. */
export const SAMPLE_INTERVAL_MS = 100;
/** Overload protection holds publishers from this share of memory_limit ... */
export const OVERLOAD_MEMORY_SHARE = 0.9;
/** ... and reads them again below this share (hysteresis: no flapping at the threshold). */
export const RESUME_MEMORY_SHARE = 0.8;
/** Publishers newly held per sample, at most: the heaviest first, more each sample while the pressure lasts. */
export const HOLDS_PER_SAMPLE = 8;

/** What the watch needs from a connection it may hold. */
export interface Holdable {
  holdForOverload(): void;
  releaseOverload(): void;
  readonly ended: boolean;
}

export type OverloadCause = 'memory' | 'event_loop_lag';

export interface LoadWatchOptions {
  /** memory_limit in bytes; 0 = none. */
  readonly memoryLimit: number;
  readonly overloadProtection: boolean;
  /** max_event_loop_lag in ms; 0 = lag is not watched. */
  readonly maxEventLoopLagMs: number;
  /** A publisher was held (`bytes`: what it sent in the last sample). */
  readonly onHold: (connection: Holdable, cause: OverloadCause, bytes: number, memory: number, lagMs: number) => void;
  /** A held publisher is read again after `heldMs`. */
  readonly onRelease: (connection: Holdable, heldMs: number) => void;
}

/** The broker's memory as memory_limit measures it: V8's used heap plus external memory (Buffers). */
export function brokerMemory(): number {
  const heap = getHeapStatistics();
  return heap.used_heap_size + heap.external_memory;
}

export class LoadWatch {
  /** Memory is over memory_limit: PUBLISH is refused (v5 QoS 1/2) or dropped. Read on the hot path. */
  overMemoryLimit = false;
  /** Memory at the last sample, bytes. */
  memory = 0;
  /** How late the last sample's timer fired, ms: the event loop's lag. */
  lagMs = 0;
  readonly #options: LoadWatchOptions;
  readonly #timer: NodeJS.Timeout;
  #lastTick = performance.now();
  /** Bytes received per connection since the last sample; only kept with overload protection on. */
  readonly received: Map<Holdable, number> | undefined;
  /** Publishers held now, and since when. */
  readonly #held = new Map<Holdable, number>();

  constructor(options: LoadWatchOptions) {
    this.#options = options;
    this.received = options.overloadProtection ? new Map() : undefined;
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), SAMPLE_INTERVAL_MS);
    this.#timer.unref();
  }

  /** Publishers held now. */
  get holding(): number {
    return this.#held.size;
  }

  /** `connection` sent `bytes` (called for every socket read while overload protection is on). */
  count(connection: Holdable, bytes: number): void {
    const received = this.received;
    if (received !== undefined) received.set(connection, (received.get(connection) ?? 0) + bytes);
  }

  /** A closed connection is no longer held nor counted. */
  forget(connection: Holdable): void {
    this.received?.delete(connection);
    this.#held.delete(connection);
  }

  #sample(): void {
    const now = performance.now();
    const late = now - this.#lastTick - SAMPLE_INTERVAL_MS;
    this.#lastTick = now;
    this.lagMs = late > 0 ? late : 0;
    const memory = brokerMemory();
    this.memory = memory;
    const { memoryLimit, overloadProtection, maxEventLoopLagMs } = this.#options;
    this.overMemoryLimit = memoryLimit > 0 && memory > memoryLimit;
    if (!overloadProtection) return;
    const memoryPressure = memoryLimit > 0 && memory >= memoryLimit * OVERLOAD_MEMORY_SHARE;
    const lagPressure = maxEventLoopLagMs > 0 && this.lagMs > maxEventLoopLagMs;
    if (memoryPressure || lagPressure) this.#holdHeaviest(memoryPressure ? 'memory' : 'event_loop_lag', now);
    else if (this.#held.size > 0 && (memoryLimit === 0 || memory < memoryLimit * RESUME_MEMORY_SHARE) && (maxEventLoopLagMs === 0 || this.lagMs < maxEventLoopLagMs / 2)) {
      this.#releaseAll(now);
    }
    this.received?.clear();
  }

  /** Holds the publishers that sent the most in the last sample, up to HOLDS_PER_SAMPLE of them. */
  #holdHeaviest(cause: OverloadCause, now: number): void {
    const received = this.received as Map<Holdable, number>;
    if (received.size === 0) return;
    let total = 0;
    for (const bytes of received.values()) total += bytes;
    // Above-average senders only: a client sending a PINGREQ is not what loads the broker.
    const average = total / received.size;
    const heaviest = [...received].filter(([connection, bytes]) => bytes >= average && !this.#held.has(connection) && !connection.ended);
    heaviest.sort((a, b) => b[1] - a[1]);
    for (const [connection, bytes] of heaviest.slice(0, HOLDS_PER_SAMPLE)) {
      this.#held.set(connection, now);
      connection.holdForOverload();
      this.#options.onHold(connection, cause, bytes, this.memory, Math.round(this.lagMs));
    }
  }

  #releaseAll(now: number): void {
    for (const [connection, since] of this.#held) {
      connection.releaseOverload();
      this.#options.onRelease(connection, Math.round(now - since));
    }
    this.#held.clear();
  }

  close(): void {
    clearInterval(this.#timer);
    for (const connection of this.#held.keys()) connection.releaseOverload();
    this.#held.clear();
  }
}
