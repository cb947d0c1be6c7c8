// Who may use the admin listener. With a token: every request but /healthz and /readyz carries
// `Authorization: Bearer TOKEN`, compared in constant time (both sides hashed to 32 bytes first, so
// neither the content nor the length leaks through timing). Without one (loopback only, config/
// admin-options.ts refuses anything else): open to this machine, but not to a web page this
// machine's browser shows — requests with an Origin header, or a Host header other than a loopback
// name (DNS rebinding), are refused, because the browser would send them without asking anyone.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isLoopbackHost } from '../config/security.js';

export type AccessVerdict =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly status: 401; readonly reason: 'missing' | 'wrong'; readonly message: string }
  | { readonly allowed: false; readonly status: 403; readonly message: string };

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** The host name of a Host header ("127.0.0.1:9100", "[::1]:9100", "localhost"). */
function hostName(header: string): string {
  const bracketed = /^\[([^\]]+)\]/.exec(header);
  if (bracketed?.[1] !== undefined) return bracketed[1];
  return header.replace(/:\d*$/, '');
}

export class AdminAuth {
  #token: Buffer | undefined;

  /** `token` undefined: the open, loopback-only mode. */
  constructor(token: string | undefined) {
    this.#token = token === undefined ? undefined : digest(token);
  }

  /** A new token (admin_token_file re-read on SIGHUP); requests from now on need it. */
  setToken(token: string): void {
    this.#token = digest(token);
  }

  get open(): boolean {
    return this.#token === undefined;
  }

  check(request: IncomingMessage): AccessVerdict {
    const expected = this.#token;
    if (expected === undefined) {
      if (request.headers.origin !== undefined) return { allowed: false, status: 403, message: 'requests from web pages (with an Origin header) are refused by an admin listener without admin_token' };
      const host = request.headers.host;
      if (host !== undefined && !isLoopbackHost(hostName(host))) return { allowed: false, status: 403, message: `Host "${host}" is not a loopback name; an admin listener without admin_token answers only 127.0.0.1, [::1] and localhost` };
      return { allowed: true };
    }
    const header = request.headers.authorization;
    const match = header === undefined ? null : /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    if (match?.[1] === undefined) return { allowed: false, status: 401, reason: 'missing', message: 'this admin API needs "Authorization: Bearer TOKEN" (the token of admin_token or admin_token_file)' };
    if (!timingSafeEqual(digest(match[1]), expected)) return { allowed: false, status: 401, reason: 'wrong', message: 'the bearer token is not this broker\'s admin token' };
    return { allowed: true };
  }
}
