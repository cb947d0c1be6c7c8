// Runs load-generator roles on worker threads so the generator spreads over cores and the main
// thread stays free to sample counters, CPU and the progress bar. Counters live in one
// SharedArrayBuffer: each role owns a few Float64 slots it alone writes, so the main thread (and
// pacing publishers in other workers) read them at any instant without messages.
import { Worker } from 'node:worker_threads';
import { MoatError } from '../codec/errors.js';

/** Slot offsets inside a role's block. */
export const SENT = 0;
export const RECEIVED = 1;
export const ACKED = 2;
export const AUX = 3;
export const SLOTS_PER_ROLE = 4;

export type RoleName = 'publish' | 'subscribe' | 'latency' | 'flood' | 'connections' | 'tls' | 'retained';

export interface RoleInit {
  role: RoleName;
  params: unknown;
  counters: SharedArrayBuffer;
  base: number;
}

export type WorkerMessage = { type: 'ready' } | { type: 'result'; value: unknown } | { type: 'error'; message: string };

export class Counters {
  readonly buffer: SharedArrayBuffer;
  readonly view: Float64Array;
  #next = 0;

  constructor(roles = 32) {
    this.buffer = new SharedArrayBuffer(roles * SLOTS_PER_ROLE * 8);
    this.view = new Float64Array(this.buffer);
  }

  allocate(): number {
    const base = this.#next;
    if (base + SLOTS_PER_ROLE > this.view.length) throw new MoatError('MOAT_ERR_INTERNAL', 'bench: too many roles for the counter block');
    this.#next += SLOTS_PER_ROLE;
    return base;
  }

  get(base: number, slot: number): number {
    return this.view[base + slot] ?? 0;
  }

  sum(bases: readonly number[], slot: number): number {
    let total = 0;
    for (const b of bases) total += this.view[b + slot] ?? 0;
    return total;
  }
}

const workerUrl = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);

export class RoleHandle<R = unknown> {
  readonly base: number;
  readonly ready: Promise<void>;
  readonly result: Promise<R>;
  readonly #worker: Worker;

  constructor(counters: Counters, role: RoleName, params: unknown) {
    this.base = counters.allocate();
    const init: RoleInit = { role, params, counters: counters.buffer, base: this.base };
    this.#worker = new Worker(workerUrl, { workerData: init });
    let onReady: () => void = () => undefined;
    let onReadyError: (e: Error) => void = () => undefined;
    this.ready = new Promise<void>((resolve, reject) => {
      onReady = resolve;
      onReadyError = reject;
    });
    this.result = new Promise<R>((resolve, reject) => {
      const fail = (error: Error): void => {
        onReadyError(error);
        reject(error);
      };
      this.#worker.on('message', (m: WorkerMessage) => {
        if (m.type === 'ready') onReady();
        else if (m.type === 'result') resolve(m.value as R);
        else fail(new MoatError('MOAT_ERR_BENCH_WORKER', `${role} worker: ${m.message}`));
      });
      this.#worker.on('error', (e) => fail(e));
      this.#worker.on('exit', (code) => fail(new MoatError('MOAT_ERR_BENCH_WORKER', `${role} worker exited (code ${code}) before reporting a result`)));
    });
    // Callers may only await result later; never let a rejection go unhandled meanwhile.
    this.ready.catch(() => undefined);
    this.result.catch(() => undefined);
  }

  send(type: 'go' | 'stop'): void {
    this.#worker.postMessage({ type });
  }

  /** Asks the role to stop and waits for its result (terminating the worker after timeoutMs). */
  async stop(timeoutMs = 10_000): Promise<R> {
    this.send('stop');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new MoatError('MOAT_ERR_BENCH_TIMEOUT', `worker did not stop within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.result, timeout]);
    } finally {
      clearTimeout(timer);
      void this.#worker.terminate();
    }
  }

  terminate(): void {
    void this.#worker.terminate();
  }
}
