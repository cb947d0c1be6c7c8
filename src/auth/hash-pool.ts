// The hashing pool: a few worker threads of moat's own that compute PBKDF2-SHA512 ($7$) and
// SHA-512 ($6$) password hashes. Not libuv's thread pool (crypto.pbkdf2's): that pool has 4
// threads shared with DNS lookups and file reads, and a login storm at 210,000 iterations would
// fill it. Workers start on the first job, are unref'ed while idle so they never keep the process
// alive, and one that dies fails only its own job and is replaced on the next.
import { availableParallelism, cpus } from 'node:os';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { MoatError } from '../codec/errors.js';
import { ReasonCode } from '../codec/reason-codes.js';
import type { AuthReport } from './auth-events.js';
import { LogThrottle } from './log-throttle.js';
import { PASSWORD_HASH_BYTES, type HashSpec } from './password-file.js';

/** What the pool sends a worker (structured-cloned: Buffers arrive as Uint8Arrays). */
export type HashRequest = { readonly id: number; readonly password: Uint8Array; readonly salt: Uint8Array; readonly length: number } & HashSpec;
export type HashResponse = { readonly id: number; readonly digest: Uint8Array } | { readonly id: number; readonly error: string };

/** The most workers the default picks: more rarely helps a broker, and each holds a V8 isolate. */
const MAX_DEFAULT_WORKERS = 4;

/** One worker per core, at least 1 and at most 4 (2 on a 2-core machine). */
export function defaultHashWorkers(): number {
  const cores = typeof availableParallelism === 'function' ? availableParallelism() : cpus().length;
  return Math.max(1, Math.min(MAX_DEFAULT_WORKERS, cores));
}

/** A hash the pool could not compute: a worker died or failed, or the pool was closed. */
export class HashPoolError extends MoatError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('MOAT_ERR_HASH_POOL', message, { reasonCode: ReasonCode.UnspecifiedError, cause: options.cause });
    this.name = 'HashPoolError';
  }
}

export interface HashPoolOptions {
  /** Worker threads; default defaultHashWorkers(). */
  readonly size?: number;
  /** Where a dead worker is reported (rate-limited). */
  readonly report: AuthReport;
  /** The worker's script; default hash-worker.js beside this file. */
  readonly workerUrl?: URL;
}

interface Job {
  readonly request: HashRequest;
  readonly resolve: (digest: Buffer) => void;
  readonly reject: (error: HashPoolError) => void;
}

interface Slot {
  readonly worker: Worker;
  job: Job | undefined;
  dead: boolean;
}

/** The built worker beside this file; from TypeScript sources (tsx), the .ts one. */
function defaultWorkerUrl(): URL {
  return new URL(RUNNING_TYPESCRIPT ? './hash-worker.ts' : './hash-worker.js', import.meta.url);
}

const RUNNING_TYPESCRIPT = import.meta.url.endsWith('.ts');

/**
 * tsx's `--import tsx` hooks do not reach worker threads (privatenumber/tsx#354), so from
 * TypeScript sources a worker registers tsx itself before loading its script. Built code never
 * takes this path (tsx is a development dependency).
 */
function createWorker(url: URL, options: WorkerOptions): Worker {
  if (!RUNNING_TYPESCRIPT || !url.pathname.endsWith('.ts')) return new Worker(url, options);
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(bootstrap, { ...options, eval: true });
}

/** Flags that load code: a worker needs them to run what its parent runs (tsx's `--import tsx`). */
const LOADER_FLAGS = new Set(['--import', '--loader', '--experimental-loader', '--require', '-r', '--conditions', '-C']);

/**
 * A worker inherits its parent's node flags, but `--input-type` (a broker embedded with `node -e`)
 * makes it fail to load its script; then only the loader flags are passed on. Not always filtered:
 * V8 flags such as --max-semi-space-size are refused in an explicit list, yet fine inherited.
 */
function workerExecArgv(parent: readonly string[]): string[] | undefined {
  if (!parent.some((arg) => arg === '--input-type' || arg.startsWith('--input-type='))) return undefined;
  const kept: string[] = [];
  for (let i = 0; i < parent.length; i++) {
    const arg = parent[i] as string;
    const name = arg.split('=')[0] as string;
    if (!LOADER_FLAGS.has(name)) continue;
    kept.push(arg);
    if (!arg.includes('=') && i + 1 < parent.length) kept.push(parent[++i] as string);
  }
  return kept;
}

export class HashPool {
  readonly size: number;
  readonly #report: AuthReport;
  readonly #workerUrl: URL;
  readonly #slots: Slot[] = [];
  /** Jobs no worker has taken yet, oldest first. The login queue keeps this short: it runs at most `size` checks. */
  readonly #backlog: Job[] = [];
  readonly #failureLog = new LogThrottle(10_000);
  #nextId = 1;
  #closed = false;

  constructor(options: HashPoolOptions) {
    const size = options.size ?? defaultHashWorkers();
    if (!Number.isInteger(size) || size < 1) throw new MoatError('MOAT_ERR_INVALID_ARGUMENT', `the hashing pool needs a whole number of workers from 1 up, got ${size}`);
    this.size = size;
    this.#report = options.report;
    this.#workerUrl = options.workerUrl ?? defaultWorkerUrl();
  }

  /** Workers running now (0 until the first job). */
  get workers(): number {
    return this.#slots.length;
  }

  /** Jobs being computed or waiting for a worker. */
  get pending(): number {
    return this.#backlog.length + this.#slots.filter((slot) => slot.job !== undefined).length;
  }

  /** The hash of `password` with `salt` as `spec` says; rejects with HashPoolError, never throws. */
  digest(spec: HashSpec, password: Buffer, salt: Buffer): Promise<Buffer> {
    if (this.#closed) return Promise.reject(new HashPoolError('the hashing pool is closed (the broker is shutting down)'));
    return new Promise<Buffer>((resolve, reject) => {
      // Only what the hash needs: `spec` may be a whole PasswordHash, whose stored digest stays here.
      const id = this.#nextId++;
      const request: HashRequest =
        spec.kind === 'sha512'
          ? { kind: 'sha512', id, password, salt, length: PASSWORD_HASH_BYTES }
          : { kind: 'sha512-pbkdf2', iterations: spec.iterations, id, password, salt, length: PASSWORD_HASH_BYTES };
      this.#backlog.push({ request, resolve, reject });
      this.#dispatch();
    });
  }

  /** Stops every worker; jobs not finished fail with HashPoolError. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const error = new HashPoolError('the hashing pool was closed before this hash was done (the broker is shutting down)');
    for (const job of this.#backlog.splice(0)) job.reject(error);
    for (const slot of this.#slots.splice(0)) {
      slot.dead = true;
      slot.job?.reject(error);
      slot.job = undefined;
      slot.worker.terminate().catch(() => {});
    }
  }

  #dispatch(): void {
    while (this.#backlog.length > 0) {
      let slot = this.#slots.find((candidate) => candidate.job === undefined);
      if (slot === undefined) {
        if (this.#slots.length >= this.size) return;
        try {
          slot = this.#spawn();
        } catch (error) {
          // A worker that cannot even be created (bad flags, no script): this job fails, the next tries again.
          const cause = error instanceof Error ? error : new MoatError('MOAT_ERR_HASH_POOL', String(error));
          (this.#backlog.shift() as Job).reject(new HashPoolError(`could not start a password hashing worker: ${cause.message}`, { cause }));
          this.#logFailure(cause);
          continue;
        }
      }
      const job = this.#backlog.shift() as Job;
      slot.job = job;
      // A busy worker keeps the process alive until its job is answered; an idle one does not.
      slot.worker.ref();
      slot.worker.postMessage(job.request);
    }
  }

  #spawn(): Slot {
    const execArgv = workerExecArgv(process.execArgv);
    const worker = createWorker(this.#workerUrl, execArgv === undefined ? { name: 'moat-hash' } : { name: 'moat-hash', execArgv });
    worker.unref();
    const slot: Slot = { worker, job: undefined, dead: false };
    worker.on('message', (response: HashResponse) => this.#answered(slot, response));
    worker.on('error', (error) => this.#lost(slot, error));
    worker.on('exit', (code) => this.#lost(slot, new MoatError('MOAT_ERR_HASH_POOL', `the worker exited with code ${code}`)));
    this.#slots.push(slot);
    return slot;
  }

  #answered(slot: Slot, response: HashResponse): void {
    const job = slot.job;
    if (slot.dead || job === undefined) return;
    slot.job = undefined;
    slot.worker.unref();
    if (response.id !== job.request.id) {
      // Not this job's answer: the worker is confused, so it is replaced rather than trusted.
      job.reject(new HashPoolError(`a hashing worker answered job ${response.id} while computing job ${job.request.id}`));
      this.#retire(slot, new MoatError('MOAT_ERR_HASH_POOL', 'answered the wrong job'));
    } else if ('error' in response) {
      job.reject(new HashPoolError(`computing a password hash failed: ${response.error}`));
    } else {
      job.resolve(Buffer.from(response.digest.buffer, response.digest.byteOffset, response.digest.byteLength));
    }
    this.#dispatch();
  }

  /** The worker died ('error' is followed by 'exit'; handled once): its job fails, the next job gets a new worker. */
  #lost(slot: Slot, cause: Error): void {
    if (slot.dead) return;
    const job = slot.job;
    slot.job = undefined;
    job?.reject(new HashPoolError(`a hashing worker stopped while computing a password hash (${cause.message})`, { cause }));
    this.#retire(slot, cause);
    this.#dispatch();
  }

  #retire(slot: Slot, cause: Error): void {
    slot.dead = true;
    const index = this.#slots.indexOf(slot);
    if (index !== -1) this.#slots.splice(index, 1);
    slot.worker.terminate().catch(() => {});
    this.#logFailure(cause);
  }

  #logFailure(cause: Error): void {
    const suppressed = this.#failureLog.take();
    if (suppressed !== undefined) {
      this.#report('hashWorkerFailed', { err: cause.message, suppressed });
    }
  }
}
