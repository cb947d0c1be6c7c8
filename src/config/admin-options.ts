// moat's admin HTTP listener (/metrics, /healthz, /readyz, the JSON admin API): admin_listener,
// admin_token / admin_token_file, admin_certfile / admin_keyfile. Each line records its value and
// where it was written; checkAdmin (once the whole file is read) refuses the combinations that
// cannot be safe: a non-loopback address without a token, a certificate without its key.
import { CONFIG_ISSUE_KINDS } from './errors.js';
import { bindAddress, freeText, single, type AdminDraft, type Draft, type OptionContext, type OptionSpec } from './option-kit.js';
import { isLoopbackHost } from './security.js';
import type { ReportIssue } from './tls-listener.js';
import { CONFIG_DEFAULTS, type AdminConfig, type ConfigSource } from './types.js';

/** Shortest token accepted: 16 characters; `openssl rand -hex 32` gives 64. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;

const TOKEN_FIX = 'generate one with "openssl rand -hex 32" and put it in a file named by "admin_token_file PATH"';

function sourceOf(ctx: OptionContext): ConfigSource {
  return { file: ctx.line.file, line: ctx.line.line };
}

/** A token too short to resist guessing, as an error sentence; undefined when it is long enough. */
export function weakTokenProblem(token: string, what: string): string | undefined {
  if (token.length >= MIN_ADMIN_TOKEN_LENGTH) return undefined;
  return `${what} is ${token.length} characters long; an admin token must have at least ${MIN_ADMIN_TOKEN_LENGTH}`;
}

function adminPath(key: 'tokenFile' | 'certfile' | 'keyfile', example: string): OptionSpec {
  return {
    scope: 'global',
    example,
    apply: (ctx) => {
      const value = freeText(ctx, example);
      if (value !== undefined) ctx.draft.admin[key] = { value, source: sourceOf(ctx) };
    },
  };
}

export const ADMIN_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  admin_listener: {
    scope: 'global',
    example: '9100',
    apply: (ctx) => {
      const [portText, hostText, ...extra] = ctx.line.args;
      const fix = 'write e.g. "admin_listener 9100" (127.0.0.1) or "admin_listener 9100 0.0.0.0" (with admin_token_file).';
      if (portText === undefined || extra.length > 0) {
        ctx.error(
          CONFIG_ISSUE_KINDS.invalidValue,
          portText === undefined ? 'admin_listener needs a port' : `admin_listener takes a port and an optional bind address, got "${ctx.line.args.join(' ')}"`,
          fix,
        );
        return;
      }
      const port = /^\d+$/.test(portText) ? Number(portText) : NaN;
      if (!(port >= 0 && port <= 65535)) {
        ctx.error(CONFIG_ISSUE_KINDS.invalidValue, `admin_listener expects a port 0-65535 (0 = any free port), got "${portText}"`, fix);
        return;
      }
      const host = hostText === undefined ? CONFIG_DEFAULTS.localOnlyHost : bindAddress(ctx, hostText, '9100 127.0.0.1');
      if (host === undefined) return;
      const previous = ctx.draft.admin.listener;
      if (previous !== undefined) {
        ctx.error(
          CONFIG_ISSUE_KINDS.invalidValue,
          `admin_listener is already set at ${previous.source.file}:${previous.source.line}; moat opens one admin listener`,
          'remove one of the two lines.',
        );
        return;
      }
      ctx.draft.admin.listener = { port, host, source: sourceOf(ctx) };
    },
  },
  admin_token: {
    scope: 'global',
    example: '6f1c0e5b2a9d4c7e8b3a1f0d2c4e6a8b',
    apply: (ctx) => {
      const value = single(ctx, '6f1c0e5b2a9d4c7e8b3a1f0d2c4e6a8b');
      if (value === undefined) return;
      const weak = weakTokenProblem(value, 'admin_token');
      if (weak !== undefined) {
        ctx.error(CONFIG_ISSUE_KINDS.invalidValue, weak, `${TOKEN_FIX}.`);
        return;
      }
      ctx.draft.admin.token = { value, source: sourceOf(ctx) };
    },
  },
  admin_token_file: adminPath('tokenFile', '/etc/moat/admin-token'),
  admin_certfile: adminPath('certfile', '/etc/moat/admin.crt'),
  admin_keyfile: adminPath('keyfile', '/etc/moat/admin.key'),
};

/** Nothing admin_* set yet. */
export function emptyAdmin(): AdminDraft {
  return {};
}

/**
 * Once the whole file is read: one token option, not both; a certificate with its key; a token on
 * any address other machines can reach. admin_* lines without admin_listener only warn.
 */
export function checkAdmin(draft: Draft, report: ReportIssue, warn: (source: ConfigSource, text: string) => void): void {
  const admin = draft.admin;
  const invalid = CONFIG_ISSUE_KINDS.invalidValue;
  const listener = admin.listener;
  if (listener === undefined) {
    for (const [option, entry] of [['admin_token', admin.token], ['admin_token_file', admin.tokenFile], ['admin_certfile', admin.certfile], ['admin_keyfile', admin.keyfile]] as const) {
      if (entry !== undefined) warn(entry.source, `${option} has no effect without "admin_listener PORT". Fix: add "admin_listener 9100", or remove the line.`);
    }
    return;
  }
  if (admin.token !== undefined && admin.tokenFile !== undefined) {
    const { file, line } = admin.tokenFile.source;
    report(invalid, file, line, 'admin_token_file', `admin_token is already set at ${admin.token.source.file}:${admin.token.source.line}; the admin listener takes one token`, 'keep one of the two lines');
  }
  const hasCert = admin.certfile !== undefined;
  if (hasCert !== (admin.keyfile !== undefined)) {
    const given = admin.certfile ?? admin.keyfile;
    if (given !== undefined) {
      report(invalid, given.source.file, given.source.line, hasCert ? 'admin_certfile' : 'admin_keyfile', `the admin listener has ${hasCert ? 'admin_certfile but no admin_keyfile' : 'admin_keyfile but no admin_certfile'}`, 'give both "admin_certfile PATH" and "admin_keyfile PATH", or neither for plain HTTP');
    }
  }
  const hasToken = admin.token !== undefined || admin.tokenFile !== undefined;
  const where = `${listener.host.includes(':') ? `[${listener.host}]` : listener.host}:${listener.port}`;
  if (!isLoopbackHost(listener.host)) {
    if (!hasToken) {
      report(
        invalid,
        listener.source.file,
        listener.source.line,
        'admin_listener',
        `admin_listener on ${where} is reachable from other machines, and without a token anyone there could list clients and disconnect them`,
        'add "admin_token_file /etc/moat/admin-token" (a file holding a token from "openssl rand -hex 32"), or bind it to 127.0.0.1',
      );
    } else if (!hasCert) {
      warn(listener.source, `admin_listener on ${where} sends its token and the client list unencrypted over the network. Fix: add "admin_certfile PATH" and "admin_keyfile PATH", or bind it to 127.0.0.1.`);
    }
  }
}

/** The resolved admin listener, or undefined when admin_listener is not set. */
export function adminConfig(admin: AdminDraft): AdminConfig | undefined {
  const listener = admin.listener;
  if (listener === undefined) return undefined;
  return Object.freeze({
    port: listener.port,
    host: listener.host,
    source: Object.freeze({ ...listener.source }),
    ...(admin.token === undefined ? {} : { token: admin.token.value }),
    ...(admin.tokenFile === undefined ? {} : { tokenFile: admin.tokenFile.value, tokenFileSource: Object.freeze({ ...admin.tokenFile.source }) }),
    ...(admin.certfile === undefined || admin.keyfile === undefined ? {} : { tls: Object.freeze({ certfile: admin.certfile.value, keyfile: admin.keyfile.value }) }),
  });
}
