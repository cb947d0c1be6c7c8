// Decides whether a CONNECT may log in, with Mosquitto 2's rules: no user name → allow_anonymous
// decides; a user name with a password file → the password must verify; a user name without a
// password file → accepted only where anonymous clients are. Password checks run off the event loop
// (PBKDF2 in libuv's thread pool) and failed logins are rate-limited per address and per user name.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ReasonCode } from '../codec/reason-codes.js';
import type { Logger } from '../broker/logger.js';
import type { AccessControl } from './access-control.js';
import { FailureLimiter } from './failure-limiter.js';
import { verifyPassword, type PasswordHash } from './password-file.js';

export interface LoginAttempt {
  readonly clientId: string;
  /** The user name to check: from CONNECT, or from the client certificate. */
  readonly username: string | undefined;
  readonly password: Buffer | undefined;
  readonly address: string | undefined;
  /** The user name came from a verified client certificate: no password is checked. */
  readonly certified?: boolean;
}

export interface LoginRules {
  readonly allowAnonymous: boolean;
  readonly control: AccessControl | undefined;
}

export type LoginResult =
  /** `hash`: what the password verified against, so a reload can tell whether it still holds. */
  | { readonly accepted: true; readonly username: string | undefined; readonly hash?: PasswordHash }
  | { readonly accepted: false; readonly reasonCode: number; readonly reason: string };

export interface AuthenticatorOptions {
  /** Failed logins per address or user name before a ban; 0 = never ban. */
  readonly failureLimit: number;
  /** How long a ban lasts, and the window failures are counted in, ms. */
  readonly banMs: number;
  readonly logger: Logger;
}

/** Successful logins remembered, so a reconnect storm does not redo PBKDF2 for every device. */
const VERIFIED_CACHE_MAX = 10_000;

export class Authenticator {
  readonly #limiter: FailureLimiter;
  readonly #logger: Logger;
  /** user name → the hash it verified against and an HMAC of the password under a per-process key. */
  readonly #verified = new Map<string, { readonly hash: PasswordHash; readonly digest: Buffer }>();
  readonly #cacheKey = randomBytes(32);

  constructor(options: AuthenticatorOptions) {
    this.#limiter = new FailureLimiter(options.failureLimit, options.banMs);
    this.#logger = options.logger;
  }

  /** A result now when no password has to be checked, else a promise of one. */
  login(rules: LoginRules, attempt: LoginAttempt): LoginResult | Promise<LoginResult> {
    const banned = this.#banned(attempt);
    if (banned !== undefined) return banned;
    const { username } = attempt;
    if (username === undefined) {
      if (rules.allowAnonymous) return { accepted: true, username };
      return this.#refuse(attempt, ReasonCode.NotAuthorized, 'anonymous clients are not allowed on this listener; connect with a user name and password', false);
    }
    if (attempt.certified === true) return { accepted: true, username };
    const passwords = rules.control?.passwords;
    if (passwords === undefined) {
      if (rules.allowAnonymous) return { accepted: true, username };
      return this.#refuse(attempt, ReasonCode.NotAuthorized, 'this listener has no password file, so it cannot check user names; anonymous clients are not allowed', false);
    }
    const hash = passwords.lookup(username);
    const password = attempt.password ?? Buffer.alloc(0);
    if (hash !== undefined && this.#remembered(username, hash, password)) return this.#accept(attempt, hash);
    // An unknown user costs the same work as a known one, so timing does not reveal which names exist.
    const against = hash ?? decoyFor(passwords.lookup(passwords.usernames()[0] ?? ''));
    return verifyPassword(against, password).then((ok) => {
      if (ok && hash !== undefined && attempt.password !== undefined) {
        this.#remember(username, hash, password);
        return this.#accept(attempt, hash);
      }
      const reason = hash === undefined ? 'unknown user name' : attempt.password === undefined ? 'no password given' : 'wrong password';
      return this.#refuse(attempt, ReasonCode.BadUserNameOrPassword, reason, true);
    });
  }

  #banned(attempt: LoginAttempt): LoginResult | undefined {
    const byAddress = attempt.address === undefined ? 0 : this.#limiter.bannedFor(addressKey(attempt.address));
    const byUser = attempt.username === undefined ? 0 : this.#limiter.bannedFor(userKey(attempt.username));
    const seconds = Math.max(byAddress, byUser);
    if (seconds === 0) return undefined;
    const who = byAddress >= byUser ? `from ${attempt.address ?? 'this address'}` : `for user "${attempt.username ?? ''}"`;
    return this.#refuse(attempt, ReasonCode.Banned, `too many failed logins ${who}; try again in ${seconds} s`, false);
  }

  #accept(attempt: LoginAttempt, hash: PasswordHash): LoginResult {
    if (attempt.address !== undefined) this.#limiter.recordSuccess(addressKey(attempt.address));
    if (attempt.username !== undefined) this.#limiter.recordSuccess(userKey(attempt.username));
    return { accepted: true, username: attempt.username, hash };
  }

  #refuse(attempt: LoginAttempt, reasonCode: number, reason: string, countsAsFailure: boolean): LoginResult {
    const context = { event: 'auth_failed', address: attempt.address, username: attempt.username, clientId: attempt.clientId, reasonCode, reason };
    this.#logger.warn(context, 'login refused');
    if (countsAsFailure) {
      const keys = [attempt.address === undefined ? undefined : addressKey(attempt.address), attempt.username === undefined ? undefined : userKey(attempt.username)];
      for (const key of keys) {
        if (key !== undefined && this.#limiter.recordFailure(key)) {
          this.#logger.warn({ event: 'auth_banned', key, address: attempt.address, username: attempt.username }, 'too many failed logins; banning for a while');
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

function addressKey(address: string): string {
  return `address ${address}`;
}

function userKey(username: string): string {
  return `user ${username}`;
}

/** A hash nothing verifies against, as costly to check as `like`. */
function decoyFor(like: PasswordHash | undefined): PasswordHash {
  const salt = randomBytes(12);
  const hash = randomBytes(64);
  if (like === undefined || like.kind === 'sha512') return { kind: 'sha512', salt, hash };
  return { kind: 'sha512-pbkdf2', iterations: like.iterations, salt, hash };
}
