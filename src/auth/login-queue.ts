// The scheduler in front of the hashing pool: bounded and fair, so a storm of bad logins cannot
// lock good ones out.
//  - Admission is decided before the user name is looked up, so it reveals nothing about the name:
//    at most `addressLimit` logins in progress per source address, and a bounded global queue — by
//    count and by the time its backlog is expected to take. Beyond that, a login is refused at once
//    (the caller answers Server busy).
//  - At most `concurrency` checks run (the pool's size, so no job waits unfairly inside the pool),
//    and at most one per user name: a storm on one name cannot take every worker.
//  - Waiting logins are served from the address with the fewest recent failures first, oldest
//    first among equals; when the queue is full, an arrival from a cleaner address displaces the
//    newest login from the dirtiest address in the queue.
// The work is whatever the caller passes: the Authenticator runs real checks through one queue and
// the delays that answer unknown user names through another with the same bounds (so a flood of
// unknown names is answered as a flood of known ones would be, without taking a real check's place).
import { MoatError } from '../codec/errors.js';

/** The bounds, read at each admission (so a config reload applies to the next login). */
export interface LoginQueueLimits {
  /** Checks running at once. Fixed by the first admission: it is the hashing pool's size. */
  readonly concurrency: number;
  /** Logins waiting for a check, at most. */
  readonly queueLimit: number;
  /** The waiting logins' expected checks may take at most this long to work off, ms. */
  readonly maxWaitMs: number;
  /** Logins in progress per source address, at most. */
  readonly addressLimit: number;
}

export type Outcome<T> = { readonly ran: true; readonly value: T } | { readonly ran: false; readonly reason: string };

/**
 * How a waiting login learns that its client went away: the queue passes `cancel`, the caller
 * calls it then (a listener on the socket's close; cheaper per CONNECT than an AbortController).
 */
export type GoneHook = (cancel: () => void) => void;

/** An admitted login's place: use exactly one of run, holdWhile and release. */
export interface LoginTicket {
  /**
   * Runs `work` (the password check) when a slot is free and no other check for `username` runs.
   * `costMs` is what the check is expected to take. Resolves `ran: false` when the login was
   * displaced, its client went away (`onGone`), or the queue was closed; rejects if `work` does.
   */
  run<T>(username: string, costMs: number, work: () => Promise<T>, onGone?: GoneHook): Promise<Outcome<T>>;
  /** Keeps the address's place until `done` settles (work done elsewhere); returns `done`. */
  holdWhile<T>(done: Promise<T>): Promise<T>;
  /** The login needs no check after all. */
  release(): void;
}

export type Admission = { readonly admitted: true; readonly ticket: LoginTicket } | { readonly admitted: false; readonly reason: string };

export interface LoginQueueStats {
  /** Most logins waiting at once. */
  queueHighWater: number;
  /** Waiting logins pushed out by an arrival from an address with fewer failures. */
  displaced: number;
}

/** Failure counts above this all rank the same: a noisy address is not made to wait forever behind slightly less noisy ones. */
const FAILURE_RANK_CAP = 1000;

interface Waiting {
  readonly seq: number;
  readonly address: string | undefined;
  readonly username: string;
  readonly costMs: number;
  readonly work: () => Promise<unknown>;
  readonly settle: (outcome: Outcome<unknown> | { readonly error: unknown }) => void;
}

export class LoginQueue {
  readonly stats: LoginQueueStats = { queueHighWater: 0, displaced: 0 };
  readonly #failures: (address: string) => number;
  readonly #limits: LoginQueueLimits;
  #concurrency: number | undefined;
  /** In arrival order. Picking scans it (it is small: bounded by queueLimit). */
  readonly #waiting: Waiting[] = [];
  #waitingCostMs = 0;
  #running = 0;
  readonly #runningUsers = new Set<string>();
  readonly #inProgress = new Map<string, number>();
  #seq = 0;
  #closed = false;

  /** `failures(address)`: that address's recent failed logins, read whenever the queue is ordered. */
  constructor(limits: LoginQueueLimits, failures: (address: string) => number) {
    this.#limits = limits;
    this.#failures = failures;
  }

  get concurrency(): number {
    return this.#concurrency ?? this.#limits.concurrency;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  get running(): number {
    return this.#running;
  }

  /** How long the waiting checks are expected to take to work off, ms. */
  get backlogMs(): number {
    return this.#waitingCostMs / this.concurrency;
  }

  /** Logins from `address` running, waiting or held now. */
  inProgress(address: string): number {
    return this.#inProgress.get(address) ?? 0;
  }

  /** A place for a login from `address` (undefined: no per-address bound), or why there is none. */
  admit(address: string | undefined): Admission {
    if (this.#closed) return { admitted: false, reason: 'the broker is shutting down' };
    this.#concurrency ??= this.#limits.concurrency;
    if (address !== undefined && this.inProgress(address) >= this.#limits.addressLimit) {
      return { admitted: false, reason: `${this.#limits.addressLimit} logins from this address are already in progress` };
    }
    if (this.#full()) {
      const victim = this.#dirtiest();
      if (victim === undefined || this.#rank(victim.address) <= this.#rank(address)) {
        return { admitted: false, reason: `the login queue is full (${this.#waiting.length} waiting, about ${Math.round(this.backlogMs)} ms of checks)` };
      }
      this.stats.displaced++;
      this.#drop(victim, 'a login from an address with fewer failed logins took its place in the full queue');
    }
    if (address !== undefined) this.#inProgress.set(address, this.inProgress(address) + 1);
    let used = false;
    const use = (): void => {
      if (used) throw new MoatError('MOAT_ERR_INTERNAL', 'a login ticket is used once');
      used = true;
    };
    return {
      admitted: true,
      ticket: {
        run: <T>(username: string, costMs: number, work: () => Promise<T>, onGone?: GoneHook): Promise<Outcome<T>> => {
          use();
          return this.#enqueue(address, username, costMs, work, onGone) as Promise<Outcome<T>>;
        },
        holdWhile: <T>(done: Promise<T>): Promise<T> => {
          use();
          const release = (): void => this.#release(address);
          done.then(release, release);
          return done;
        },
        release: (): void => {
          use();
          this.#release(address);
        },
      },
    };
  }

  /**
   * Runs `work` in a free slot if nothing waits and another slot stays free for a login (a
   * measurement of hash timing is worth a check only when no login wants it). False otherwise —
   * always with a single slot.
   */
  runIfIdle(work: () => Promise<void>): boolean {
    if (this.#closed || this.#waiting.length > 0 || this.#running + 1 >= this.concurrency) return false;
    this.#running++;
    void work()
      .catch(() => {})
      .finally(() => {
        this.#running--;
        this.#pump();
      });
    return true;
  }

  /** Drops every waiting login (ran: false) and admits no more; running work is left to finish. */
  close(): void {
    this.#closed = true;
    for (const entry of [...this.#waiting]) this.#drop(entry, 'the broker is shutting down');
  }

  #full(): boolean {
    return this.#waiting.length >= this.#limits.queueLimit || this.backlogMs >= this.#limits.maxWaitMs;
  }

  #rank(address: string | undefined): number {
    return address === undefined ? 0 : Math.min(FAILURE_RANK_CAP, this.#failures(address));
  }

  /** The newest waiting login from the address with the most failures. */
  #dirtiest(): Waiting | undefined {
    let worst: Waiting | undefined;
    let worstRank = -1;
    for (const entry of this.#waiting) {
      const rank = this.#rank(entry.address);
      if (rank >= worstRank) {
        worst = entry;
        worstRank = rank;
      }
    }
    return worst;
  }

  /** The oldest waiting login from the address with the fewest failures whose user name has no check running. */
  #next(): Waiting | undefined {
    let best: Waiting | undefined;
    let bestRank = Infinity;
    for (const entry of this.#waiting) {
      if (this.#runningUsers.has(entry.username)) continue;
      const rank = this.#rank(entry.address);
      if (rank < bestRank) {
        best = entry;
        bestRank = rank;
        if (rank === 0) break;
      }
    }
    return best;
  }

  #enqueue(address: string | undefined, username: string, costMs: number, work: () => Promise<unknown>, onGone: GoneHook | undefined): Promise<Outcome<unknown>> {
    if (this.#closed) {
      this.#release(address);
      return Promise.resolve({ ran: false, reason: 'the broker is shutting down' });
    }
    return new Promise<Outcome<unknown>>((resolve, reject) => {
      const entry: Waiting = {
        seq: this.#seq++,
        address,
        username,
        costMs,
        work,
        settle: (outcome) => ('error' in outcome ? reject(outcome.error) : resolve(outcome)),
      };
      this.#waiting.push(entry);
      this.#waitingCostMs += costMs;
      if (this.#waiting.length > this.stats.queueHighWater) this.stats.queueHighWater = this.#waiting.length;
      // Once it runs (or ran), going away changes nothing: #drop ignores what is not waiting.
      onGone?.(() => this.#drop(entry, 'the client went away'));
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#running < this.concurrency) {
      const entry = this.#next();
      if (entry === undefined) return;
      this.#unwait(entry);
      this.#start(entry);
    }
  }

  #start(entry: Waiting): void {
    this.#running++;
    this.#runningUsers.add(entry.username);
    const finish = (outcome: Outcome<unknown> | { readonly error: unknown }): void => {
      this.#running--;
      this.#runningUsers.delete(entry.username);
      this.#release(entry.address);
      entry.settle(outcome);
      this.#pump();
    };
    let running: Promise<unknown>;
    try {
      running = entry.work();
    } catch (error) {
      running = Promise.reject(error);
    }
    running.then(
      (value) => finish({ ran: true, value }),
      (error: unknown) => finish({ error }),
    );
  }

  #unwait(entry: Waiting): void {
    const index = this.#waiting.indexOf(entry);
    if (index === -1) return;
    this.#waiting.splice(index, 1);
    this.#waitingCostMs = this.#waiting.length === 0 ? 0 : this.#waitingCostMs - entry.costMs;
  }

  /** Takes a waiting login out of the queue without running it. */
  #drop(entry: Waiting, reason: string): void {
    if (!this.#waiting.includes(entry)) return;
    this.#unwait(entry);
    this.#release(entry.address);
    entry.settle({ ran: false, reason });
  }

  #release(address: string | undefined): void {
    if (address === undefined) return;
    const count = this.inProgress(address) - 1;
    if (count > 0) this.#inProgress.set(address, count);
    else this.#inProgress.delete(address);
  }
}
