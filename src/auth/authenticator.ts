// Decides whether a CONNECT may log in, with Mosquitto 2's rules: no user name → allow_anonymous
// decides; a user name with a password file → the password must verify; a user name without a
// password file → accepted only where anonymous clients are.
//
// Password checks are bounded, fair and cheap, so a storm of bad logins cannot lock good ones out
// (issue 9): they run in moat's own hashing pool (hash-pool.ts), behind a scheduler
// (login-queue.ts) that bounds them per address, per user name and overall and refuses the excess
// at once with Server busy; an unknown user name costs no hash, only a delay like a real check
// (hash-timing.ts), scheduled through a queue of its own with the same bounds, so a flood of
// unknown names is answered as a flood of known ones is; a login verified before skips the hash. Failed logins are counted per address
// and per user name; a user name's ban applies only to addresses that have failed themselves.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ReasonCode } from '../codec/reason-codes.js';
import type { AuthReport } from './auth-events.js';
import type { AccessControl } from './access-control.js';
import { FailureLimiter } from './failure-limiter.js';
import { defaultHashWorkers, HashPool } from './hash-pool.js';
import { hashSpecKey, HashTiming } from './hash-timing.js';
import { LogThrottle } from './log-throttle.js';
import { LoginQueue, type GoneHook, type LoginQueueLimits, type LoginTicket } from './login-queue.js';
import { DEFAULT_PBKDF2_ITERATIONS, type HashSpec, type PasswordFile, type PasswordHash } from './password-file.js';

export interface LoginAttempt {
  readonly clientId: string;
  /** The user name to check: from CONNECT, or from the client certificate. */
  readonly username: string | undefined;
  readonly password: Buffer | undefined;
  readonly address: string | undefined;
  /** The user name came from a verified client certificate: no password is checked. */
  readonly certified?: boolean;
  /** Tells the login when its client went away: one still waiting for its check is dropped unhashed. */
  readonly onGone?: GoneHook;
}

/** How password checks are bounded; the broker passes its resolved options (the same field names). */
export interface LoginLimits {
  /** Hashing worker threads (fixed by the first check). */
  readonly authHashWorkers: number;
  /** Logins waiting for a check, at most. */
  readonly authQueueLimit: number;
  /** The waiting checks may be expected to take at most this long, ms. */
  readonly authQueueMaxWaitMs: number;
  /** Logins in progress per source address, at most. */
  readonly authAddressLimit: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = Object.freeze({
  authHashWorkers: defaultHashWorkers(),
  authQueueLimit: 256,
  authQueueMaxWaitMs: 1000,
  authAddressLimit: 2,
});

export interface LoginRules {
  readonly allowAnonymous: boolean;
  readonly control: AccessControl | undefined;
}

export type LoginResult =
  /** `hash`: what the password verified against, so a reload can tell whether it still holds. */
  | { readonly accepted: true; readonly username: string | undefined; readonly hash?: PasswordHash }
  /** `reason` is for the client (CONNACK Reason String) and the log. */
  | { readonly accepted: false; readonly reasonCode: number; readonly reason: string };

export interface AuthenticatorOptions {
  /** Failed logins per address or user name before a ban; 0 = never ban. */
  readonly failureLimit: number;
  /** How long a ban lasts, and the window failures are counted in, ms. */
  readonly banMs: number;
  /** Where refusals, bans and failures are reported (the broker publishes them as events). */
  readonly report: AuthReport;
  /** Bounds on password checks; default DEFAULT_LOGIN_LIMITS. */
  readonly limits?: LoginLimits;
  /** The hashing worker's script (default hash-worker.js); tests pass one that fails. */
  readonly hashWorkerUrl?: URL;
}

/** Counters for $SYS and metrics. */
export interface AuthenticatorStats {
  /** Password hashes computed for logins. */
  checks: number;
  /** Logins accepted from the verified-login memory, without a hash. */
  remembered: number;
  /** Unknown user names (and known ones without a password) refused after a delay, without a hash. */
  unhashedRefusals: number;
  /** Logins refused at once because the checks were at their bounds: v5 0x89 Server busy, 3.1.1 code 3. */
  busyRefusals: number;
  /** Of those, logins that had waited and were pushed out by one from an address with fewer failures. */
  displaced: number;
  /** Most logins waiting for a check at once. */
  queueHighWater: number;
  /** Most unknown-name delays waiting at once (their queue has the same bounds). */
  unhashedQueueHighWater: number;
  /** Checks the hashing pool could not do (a worker died): refused with 0x80, not counted as failures. */
  errors: number;
}

/** Successful logins remembered, so a reconnect storm does not redo PBKDF2 for every device. */
const VERIFIED_CACHE_MAX = 10_000;
/** An unknown name's delay is capped: a real check would hit connect_timeout long before. */
const MAX_UNHASHED_DELAY_MS = 10_000;
/** What every bad user name or password is told: which one was wrong would say whether the name exists. */
const BAD_CREDENTIALS = 'bad user name or password';

type Counted = 'none' | 'address' | 'both';

export class Authenticator {
  readonly #limiter: FailureLimiter;
  readonly #report: AuthReport;
  readonly #hashWorkerUrl: URL | undefined;
  readonly #queue: LoginQueue;
  /** Where unknown names' delays wait their turn, as real checks do in #queue (but never in their place). */
  readonly #unhashed: LoginQueue;
  readonly #sleeps = new Set<{ readonly timer: NodeJS.Timeout; readonly done: () => void }>();
  #pool: HashPool | undefined;
  readonly #timing = new HashTiming();
  readonly #busyLog = new LogThrottle(10_000);
  readonly #stats: AuthenticatorStats = { checks: 0, remembered: 0, unhashedRefusals: 0, busyRefusals: 0, displaced: 0, queueHighWater: 0, unhashedQueueHighWater: 0, errors: 0 };
  /** The strength most of a password file's hashes have: what an unknown name's delay imitates. */
  readonly #fileStrength = new WeakMap<PasswordFile, HashSpec>();
  /** user name → the hash it verified against and an HMAC of the password under a per-process key. */
  readonly #verified = new Map<string, { readonly hash: PasswordHash; readonly digest: Buffer }>();
  readonly #cacheKey = randomBytes(32);
  #closed = false;

  constructor(options: AuthenticatorOptions) {
    this.#limiter = new FailureLimiter(options.failureLimit, options.banMs);
    this.#report = options.report;
    this.#hashWorkerUrl = options.hashWorkerUrl;
    const limits = queueLimits(options.limits ?? DEFAULT_LOGIN_LIMITS);
    const failures = (address: string): number => this.#limiter.failures(addressKey(address));
    this.#queue = new LoginQueue(limits, failures);
    this.#unhashed = new LoginQueue(limits, failures);
  }

  get stats(): Readonly<AuthenticatorStats> {
    const queue = this.#queue.stats;
    const unhashed = this.#unhashed.stats;
    return { ...this.#stats, displaced: queue.displaced + unhashed.displaced, queueHighWater: queue.queueHighWater, unhashedQueueHighWater: unhashed.queueHighWater };
  }

  /** Stops the hashing pool and answers every waiting login (the broker is shutting down). */
  close(): void {
    this.#closed = true;
    this.#queue.close();
    this.#unhashed.close();
    for (const sleep of [...this.#sleeps]) sleep.done();
    this.#pool?.close();
  }

  /** A result now when no password has to be checked, else a promise of one (which never rejects). */
  login(rules: LoginRules, attempt: LoginAttempt): LoginResult | Promise<LoginResult> {
    const byAddress = this.#addressBan(attempt);
    if (byAddress !== undefined) return byAddress;
    const { username } = attempt;
    if (username === undefined) {
      if (rules.allowAnonymous) return { accepted: true, username };
      return this.#refuse(attempt, ReasonCode.NotAuthorized, 'anonymous clients are not allowed on this listener; connect with a user name and password', 'anonymous', 'none');
    }
    if (attempt.certified === true) return { accepted: true, username };
    const passwords = rules.control?.passwords;
    if (passwords === undefined) {
      if (rules.allowAnonymous) return { accepted: true, username };
      return this.#refuse(attempt, ReasonCode.NotAuthorized, 'this listener has no password file, so it cannot check user names; anonymous clients are not allowed', 'no password file', 'none');
    }
    const hash = passwords.lookup(username);
    // A remembered login proves the password at no cost, so it gets in past a ban on the user name.
    if (hash !== undefined && attempt.password !== undefined && this.#remembered(username, hash, attempt.password)) {
      this.#stats.remembered++;
      return this.#accept(attempt, hash);
    }
    const byUser = this.#userBan(attempt);
    if (byUser !== undefined) return byUser;
    if (this.#closed) return this.#shutdownRefusal();
    // Admitted or refused before anything depends on whether the name exists.
    const admission = this.#queue.admit(attempt.address);
    if (!admission.admitted) return this.#busy(attempt, admission.reason);
    if (hash === undefined || attempt.password === undefined) {
      return this.#refuseUnhashed(admission.ticket, passwords, attempt, hash === undefined ? 'unknown user name' : 'no password given');
    }
    return this.#check(admission.ticket, rules.control, attempt, username, attempt.password, hash);
  }

  /** Waits for a slot, then checks the password in the hashing pool. */
  #check(ticket: LoginTicket, control: AccessControl | undefined, attempt: LoginAttempt, username: string, password: Buffer, hash: PasswordHash): Promise<LoginResult> {
    const work = async (): Promise<LoginResult> => {
      // The file may have been reloaded while this login waited, and another login may have proved this password meanwhile.
      const current = control?.passwords?.lookup(username) ?? hash;
      if (this.#remembered(username, current, password)) {
        this.#stats.remembered++;
        return this.#accept(attempt, current);
      }
      if (!(await this.#verify(current, password))) return this.#refuse(attempt, ReasonCode.BadUserNameOrPassword, BAD_CREDENTIALS, 'wrong password', 'both');
      this.#remember(username, current, password);
      return this.#accept(attempt, current);
    };
    return ticket.run(username, this.#timing.expected(hash), work, attempt.onGone).then(
      (outcome) => (outcome.ran ? outcome.value : this.#busy(attempt, outcome.reason)),
      // Closing the broker stops the pool under running checks: their clients are gone, nothing to log.
      (error: unknown) => (this.#closed ? this.#shutdownRefusal() : this.#internalError(attempt, error)),
    );
  }

  /**
   * An unknown user name (or a known one without a password) is refused after a delay drawn from
   * real checks of the file's usual strength: no hash. The delay waits its turn in a queue of its
   * own with the real one's bounds and rules (one per user name, cleaner addresses first, Server
   * busy beyond the bounds), so a flood of unknown names meets what a flood of known names meets
   * — and never takes a real check's place. The address's place is held meanwhile.
   */
  #refuseUnhashed(ticket: LoginTicket, passwords: PasswordFile, attempt: LoginAttempt, detail: string): LoginResult | Promise<LoginResult> {
    const admission = this.#unhashed.admit(attempt.address);
    if (!admission.admitted) {
      ticket.release();
      return this.#busy(attempt, admission.reason);
    }
    const spec = this.#strengthOf(passwords);
    this.#measureIfStale(spec);
    const delay = admission.ticket.run(attempt.username ?? '', this.#timing.expected(spec), () => this.#sleep(Math.min(MAX_UNHASHED_DELAY_MS, this.#timing.draw(spec))), attempt.onGone);
    return ticket.holdWhile(delay).then((outcome) => {
      if (!outcome.ran) return this.#busy(attempt, outcome.reason);
      this.#stats.unhashedRefusals++;
      return this.#refuse(attempt, ReasonCode.BadUserNameOrPassword, BAD_CREDENTIALS, detail, 'both');
    });
  }

  /** A timer in place of a hash; close() ends it at once. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const sleep = {
        timer: setTimeout(() => sleep.done(), ms),
        done: (): void => {
          clearTimeout(sleep.timer);
          this.#sleeps.delete(sleep);
          resolve();
        },
      };
      this.#sleeps.add(sleep);
    });
  }

  async #verify(hash: PasswordHash, password: Buffer): Promise<boolean> {
    const started = performance.now();
    const computed = await this.#hashPool().digest(hash, password, hash.salt);
    this.#timing.record(hash, performance.now() - started);
    this.#stats.checks++;
    return computed.length === hash.hash.length && timingSafeEqual(computed, hash.hash);
  }

  /** Unknown names imitate real checks, so real checks of that strength are measured now and then (at most one a minute, only when idle). */
  #measureIfStale(spec: HashSpec): void {
    if (!this.#timing.stale(spec)) return;
    const started = this.#queue.runIfIdle(async () => {
      const begun = performance.now();
      await this.#hashPool().digest(spec, randomBytes(16), randomBytes(12));
      this.#timing.record(spec, performance.now() - begun);
    });
    if (started) this.#timing.measuring(spec);
  }

  /** Started on the first check, with as many workers as the queue runs checks at once. */
  #hashPool(): HashPool {
    this.#pool ??= new HashPool({
      size: this.#queue.concurrency,
      report: this.#report,
      ...(this.#hashWorkerUrl === undefined ? {} : { workerUrl: this.#hashWorkerUrl }),
    });
    return this.#pool;
  }

  #strengthOf(passwords: PasswordFile): HashSpec {
    let spec = this.#fileStrength.get(passwords);
    if (spec !== undefined) return spec;
    const counts = new Map<string, { spec: HashSpec; count: number }>();
    for (const name of passwords.usernames()) {
      const hash = passwords.lookup(name);
      if (hash === undefined) continue;
      const key = hashSpecKey(hash);
      const entry = counts.get(key) ?? { spec: hash.kind === 'sha512' ? { kind: 'sha512' } : { kind: 'sha512-pbkdf2', iterations: hash.iterations }, count: 0 };
      entry.count++;
      counts.set(key, entry);
    }
    let best: { spec: HashSpec; count: number } | undefined;
    for (const entry of counts.values()) if (best === undefined || entry.count > best.count) best = entry;
    // An empty file: what `moat passwd` would write.
    spec = best?.spec ?? { kind: 'sha512-pbkdf2', iterations: DEFAULT_PBKDF2_ITERATIONS };
    this.#fileStrength.set(passwords, spec);
    return spec;
  }

  #addressBan(attempt: LoginAttempt): LoginResult | undefined {
    if (attempt.address === undefined) return undefined;
    const seconds = this.#limiter.bannedFor(addressKey(attempt.address));
    if (seconds === 0) return undefined;
    return this.#refuse(attempt, ReasonCode.Banned, `too many failed logins from ${attempt.address}; try again in ${seconds} s`, 'address banned', 'none');
  }

  /**
   * A user name's failures ban it only for addresses that have failed themselves (or unknown
   * addresses, which cannot be told apart): a storm of guesses must not lock the real user out.
   */
  #userBan(attempt: LoginAttempt): LoginResult | undefined {
    if (attempt.username === undefined) return undefined;
    if (attempt.address !== undefined && this.#limiter.failures(addressKey(attempt.address)) === 0) return undefined;
    const seconds = this.#limiter.bannedFor(userKey(attempt.username));
    if (seconds === 0) return undefined;
    // Counted against the address, so guesses against the remembered logins still run into the address's limit.
    return this.#refuse(attempt, ReasonCode.Banned, `too many failed logins for user "${attempt.username}"; try again in ${seconds} s`, 'user name banned', 'address');
  }

  #accept(attempt: LoginAttempt, hash: PasswordHash): LoginResult {
    if (attempt.address !== undefined) this.#limiter.recordSuccess(addressKey(attempt.address));
    if (attempt.username !== undefined) this.#limiter.recordSuccess(userKey(attempt.username));
    return { accepted: true, username: attempt.username, hash };
  }

  /** Server busy: not the client's fault, so not counted as a failure; logged at most every 10 s. */
  #busy(attempt: LoginAttempt, detail: string): LoginResult {
    this.#stats.busyRefusals++;
    const suppressed = this.#busyLog.take();
    if (suppressed !== undefined) {
      this.#report('busy', { address: attempt.address, username: attempt.username, clientId: attempt.clientId, reasonCode: ReasonCode.ServerBusy, detail, suppressed, busyRefusals: this.#stats.busyRefusals });
    }
    return { accepted: false, reasonCode: ReasonCode.ServerBusy, reason: 'the broker is busy checking other logins; try again shortly' };
  }

  #shutdownRefusal(): LoginResult {
    return { accepted: false, reasonCode: ReasonCode.ServerUnavailable, reason: 'the broker is shutting down' };
  }

  #internalError(attempt: LoginAttempt, error: unknown): LoginResult {
    this.#stats.errors++;
    this.#report('error', { address: attempt.address, username: attempt.username, clientId: attempt.clientId, err: error instanceof Error ? error.message : String(error) });
    return { accepted: false, reasonCode: ReasonCode.UnspecifiedError, reason: 'internal error while checking the password; try again' };
  }

  #refuse(attempt: LoginAttempt, reasonCode: number, reason: string, detail: string, counted: Counted): LoginResult {
    this.#report('failed', { address: attempt.address, username: attempt.username, clientId: attempt.clientId, reasonCode, reason, detail });
    if (counted !== 'none') {
      const keys = [attempt.address === undefined ? undefined : addressKey(attempt.address), counted === 'both' && attempt.username !== undefined ? userKey(attempt.username) : undefined];
      for (const key of keys) {
        if (key !== undefined && this.#limiter.recordFailure(key)) {
          this.#report('banned', { key, address: attempt.address, username: attempt.username });
        }
      }
    }
    return { accepted: false, reasonCode, reason };
  }

  #digest(password: Buffer): Buffer {
    return createHmac('sha256', this.#cacheKey).update(password).digest();
  }

  #remembered(username: string, hash: PasswordHash, password: Buffer): boolean {
    const entry = this.#verified.get(username);
    // A reloaded password file gives new hash objects, so an old entry never matches a changed password.
    return entry !== undefined && entry.hash === hash && timingSafeEqual(entry.digest, this.#digest(password));
  }

  #remember(username: string, hash: PasswordHash, password: Buffer): void {
    if (this.#verified.size >= VERIFIED_CACHE_MAX) this.#verified.clear();
    this.#verified.set(username, { hash, digest: this.#digest(password) });
  }
}

function queueLimits(limits: LoginLimits): LoginQueueLimits {
  return { concurrency: limits.authHashWorkers, queueLimit: limits.authQueueLimit, maxWaitMs: limits.authQueueMaxWaitMs, addressLimit: limits.authAddressLimit };
}

function addressKey(address: string): string {
  return `address ${address}`;
}

function userKey(username: string): string {
  return `user ${username}`;
}
