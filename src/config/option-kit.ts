// What every option table (options.ts, client-options.ts, log-options.ts, tls-options.ts,
// transport-options.ts) shares: the draft an option writes into, the OptionSpec shape, and the value
// readers. A leaf: it imports none of the option tables, so each of them can be imported first (options.ts
// spreads the others into OPTIONS; they must not import it back).

import { isIP } from 'node:net';
import { CONFIG_ISSUE_KINDS, type ConfigIssueKind } from './errors.js';
import type { ConfigSource, ListenerProtocol, LogDestination, LogType, SocketDomain } from './types.js';

/** One meaningful config line, split into the option name and its arguments. */
export interface ConfigLine {
  readonly file: string;
  readonly line: number;
  readonly option: string;
  /** Whitespace-separated arguments, up to (not including) a token starting with "#". */
  readonly args: readonly string[];
  /** Everything after the option name, trimmed (for free-text values such as paths). */
  readonly rest: string;
}

/** Security settings that are per listener when per_listener_settings is true, else global. */
export interface SecurityDraft {
  allowAnonymous: boolean | undefined;
  allowZeroLengthClientId: boolean | undefined;
  autoIdPrefix: string | undefined;
  passwordFile: string | undefined;
  aclFile: string | undefined;
  /** `psk_file`, and the line that set it (for "no listener uses it" errors). */
  pskFile: string | undefined;
  pskFileSource: ConfigSource | undefined;
}

/** A listener while the file is being read. */
export interface ListenerDraft {
  port: number;
  host: string | undefined;
  /** `listener 0 PATH`: a Unix socket. */
  socketPath: string | undefined;
  protocol: ListenerProtocol;
  maxConnections: number;
  maxTopicAlias: number;
  /** `max_qos` / `maximum_qos`: highest QoS clients of this listener may use. */
  maxQos: 0 | 1 | 2;
  /** `mount_point`: prefix added to every topic of this listener's clients; undefined = none. */
  mountPoint: string | undefined;
  useUsernameAsClientid: boolean;
  socketDomain: SocketDomain | undefined;
  bindInterface: string | undefined;
  readonly security: SecurityDraft;
  /** TLS options given for this listener, with where each was set. */
  readonly tls: TlsDraft;
  source: ConfigSource;
}

export interface TlsDraft {
  cafile?: string;
  capath?: string;
  certfile?: string;
  keyfile?: string;
  tlsVersion?: 'tlsv1.2' | 'tlsv1.3';
  ciphers?: string;
  ciphersTls13?: string;
  dhparamfile?: string;
  requireCertificate?: boolean;
  crlfile?: string;
  /** `psk_hint`: the listener accepts TLS-PSK clients (and needs no certificate of its own). */
  pskHint?: string;
  /** The line of crlfile / psk_hint, for errors about the combination. */
  optionLines?: { crlfile?: ConfigSource; psk_hint?: ConfigSource };
  /** `tls_handshake_timeout`, seconds (moat extension). */
  handshakeTimeout?: number;
  useIdentityAsUsername?: boolean;
  useSubjectAsUsername?: boolean;
  /** The line of each use_*_as_username, for errors about the combination. */
  usernameLines?: { identity?: ConfigSource; subject?: ConfigSource };
  /** First TLS line, for errors about the combination. */
  source?: ConfigSource;
}

/** A value of an admin_* option and the line that set it. */
export interface AdminValue<T> {
  readonly value: T;
  readonly source: ConfigSource;
}

/** The admin_* options (admin-options.ts) as read so far. */
export interface AdminDraft {
  listener?: { readonly port: number; readonly host: string; readonly source: ConfigSource };
  token?: AdminValue<string>;
  tokenFile?: AdminValue<string>;
  certfile?: AdminValue<string>;
  keyfile?: AdminValue<string>;
}

/** Everything read so far. */
export interface Draft {
  readonly mainFile: string;
  readonly files: string[];
  readonly listeners: ListenerDraft[];
  /** mosquitto's implicit default listener: configured by port/bind_address and listener options before any `listener`. */
  readonly defaultListener: ListenerDraft;
  /** The first port/bind_address line: the default listener is opened. */
  defaultListenerDeclared: ConfigSource | undefined;
  /** Listener-scoped lines that configured the default listener. */
  readonly defaultListenerOptions: { readonly option: string; readonly source: ConfigSource }[];
  /** The first `listener` line anywhere. */
  firstListener: (ConfigSource & { readonly port: number }) | undefined;
  readonly security: SecurityDraft;
  perListenerSettings: ConfigSource | undefined;
  /** The first security option (per_listener_settings must come before it). */
  firstSecurityOption: { readonly option: string; readonly source: ConfigSource } | undefined;
  /** Last line that set each global security option, with its value as written. */
  readonly securityLines: Map<string, { readonly value: string; readonly source: ConfigSource }>;
  readonly values: {
    maxKeepalive: number;
    maxPacketSize: number;
    messageSizeLimit: number;
    retainAvailable: boolean;
    persistentClientExpiration: number | undefined;
    maxInflightMessages: number;
    maxInflightBytes: number;
    maxQueuedMessages: number;
    maxQueuedBytes: number;
    sysInterval: number;
    capacityAlertThreshold: number;
    maxTopicLevels: number;
    publisherFlowControl: boolean;
    globalMaxConnections: number;
    maxConnectionRate: number;
    maxConnectionRatePerAddress: number;
    memoryLimit: number;
    maxSubscriptionsPerClient: number;
    maxTopicLength: number;
    overloadProtection: boolean;
    maxEventLoopLag: number;
    connectTimeout: number;
    authFailureLimit: number;
    authBanTime: number;
    upgradeOutgoingQos: boolean;
    setTcpNodelay: boolean;
    checkRetainSource: boolean;
    badPasswordAnswer: 'moat' | 'mosquitto';
    aclDeniedSubscribe: 'moat' | 'mosquitto';
    queueQos0Messages: boolean;
    clientidPrefixes: string | undefined;
    websocketsHeadersSize: number;
    pidFile: string | undefined;
    persistence: boolean;
    persistenceFile: string | undefined;
    persistenceLocation: string | undefined;
    persistenceSync: 'normal' | 'full';
    clusterRedis: string | undefined;
    clusterPrefix: string;
  };
  /** admin_listener and its options. */
  readonly admin: AdminDraft;
  readonly log: {
    /** undefined = log_dest never given (default applies). */
    destinations: Set<LogDestination> | undefined;
    file: { readonly path: string; readonly source: ConfigSource } | undefined;
    types: Set<LogType> | undefined;
    timestamp: boolean;
    timestampFormat: string | undefined;
    connectionMessages: boolean;
  };
}

/** What an option handler gets: the line, where it applies, and how to report problems. */
export interface OptionContext {
  readonly line: ConfigLine;
  readonly draft: Draft;
  /** The listener this line belongs to: the last `listener` of this file, else the default listener. */
  readonly listener: ListenerDraft;
  /** True when a `listener` line came earlier in this file. */
  readonly inListenerBlock: boolean;
  /** Record an error. `text` says what is wrong; `fix` (optional) is appended as "Fix: ...". */
  error(kind: ConfigIssueKind, text: string, fix?: string): void;
  /** Record a warning (parsing goes on). */
  warn(text: string): void;
}

/** Where an option applies. */
export const OPTION_SCOPES = {
  /** Opens or shapes listeners (listener, port, bind_address, include_dir). */
  structure: 'structure',
  /** The current listener (or the default listener before any `listener` line). */
  listener: 'listener',
  /** The current listener when per_listener_settings is true, else global. */
  security: 'security',
  /** The whole broker. */
  global: 'global',
} as const;
export type OptionScope = (typeof OPTION_SCOPES)[keyof typeof OPTION_SCOPES];

export interface OptionSpec {
  readonly scope: OptionScope;
  /** A valid value, used in "Fix: write e.g. ..." messages. */
  readonly example: string;
  readonly apply: (ctx: OptionContext) => void;
}

// ---------------------------------------------------------------------------------------------
// Value readers. Each reports its own error and returns undefined when the value is unusable.

export function fixFor(ctx: OptionContext, example: string): string {
  return `write e.g. "${ctx.line.option} ${example}".`;
}

/** The single argument of the line. */
export function single(ctx: OptionContext, example: string): string | undefined {
  const { option, args } = ctx.line;
  const [value, ...extra] = args;
  if (value === undefined) {
    ctx.error(CONFIG_ISSUE_KINDS.invalidValue, `${option} needs a value`, fixFor(ctx, example));
    return undefined;
  }
  if (extra.length > 0) {
    ctx.error(
      CONFIG_ISSUE_KINDS.invalidValue,
      `${option} takes one value, got "${args.join(' ')}"`,
      `${fixFor(ctx, example)} A comment after the value must start with "#".`,
    );
    return undefined;
  }
  return value;
}

/** Free text: the rest of the line (paths, prefixes, formats). mosquitto keeps a trailing "# ..." in it; so does moat. */
export function freeText(ctx: OptionContext, example: string): string | undefined {
  const { option, rest } = ctx.line;
  if (rest === '') {
    ctx.error(CONFIG_ISSUE_KINDS.invalidValue, `${option} needs a value`, fixFor(ctx, example));
    return undefined;
  }
  if (/\s#/.test(rest)) {
    ctx.warn(
      `${option} value "${rest}" contains " #"; like mosquitto, moat treats it as part of the value, not as a comment. ` +
        'Fix: put the comment on its own line.',
    );
  }
  return rest;
}

function parseWhole(text: string): number | undefined {
  return /^[+-]?\d+$/.test(text) ? Number(text) : undefined;
}

/** A whole number in [min, max]; `expects` describes the accepted values in the error. */
export function wholeNumber(
  ctx: OptionContext,
  min: number,
  max: number,
  example: string,
  expects = `a whole number ${min}-${max}`,
  accept: (n: number) => boolean = () => true,
): number | undefined {
  const text = single(ctx, example);
  if (text === undefined) return undefined;
  const n = parseWhole(text);
  if (n === undefined || n < min || n > max || !accept(n)) {
    ctx.error(CONFIG_ISSUE_KINDS.invalidValue, `${ctx.line.option} expects ${expects}, got "${text}"`, fixFor(ctx, example));
    return undefined;
  }
  return n;
}

/** true/false (mosquitto also accepts 1/0). */
export function bool(ctx: OptionContext, example: 'true' | 'false'): boolean | undefined {
  const text = single(ctx, example);
  if (text === undefined) return undefined;
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  ctx.error(CONFIG_ISSUE_KINDS.invalidValue, `${ctx.line.option} expects true or false, got "${text}"`, fixFor(ctx, example));
  return undefined;
}

/** One of a fixed set of words. */
export function oneOf<T extends string>(ctx: OptionContext, allowed: readonly T[], example: T): T | undefined {
  const text = single(ctx, example);
  if (text === undefined) return undefined;
  if ((allowed as readonly string[]).includes(text)) return text as T;
  ctx.error(
    CONFIG_ISSUE_KINDS.invalidValue,
    `${ctx.line.option} expects one of ${allowed.join(', ')}, got "${text}"`,
    fixFor(ctx, example),
  );
  return undefined;
}

const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** An IP address or host name to bind to; the error names `what`. */
export function bindAddress(ctx: OptionContext, text: string, example: string): string | undefined {
  if (isIP(text) !== 0 || HOST_NAME.test(text)) return text;
  const bracketed = /^\[(.*)\]$/.exec(text)?.[1];
  const fix =
    bracketed !== undefined && isIP(bracketed) === 6
      ? `write the IPv6 address without brackets, e.g. "${ctx.line.option} ${example.replace(/\S+$/, bracketed)}".`
      : fixFor(ctx, example);
  ctx.error(
    CONFIG_ISSUE_KINDS.invalidValue,
    `${ctx.line.option} expects an IP address or host name to bind to, got "${text}"`,
    fix,
  );
  return undefined;
}

const DURATION_UNITS = { h: 3600, d: 86_400, w: 7 * 86_400, m: 30 * 86_400, y: 365 * 86_400 } as const;

/** mosquitto's duration: a whole number followed by h, d, w, m (30 days) or y (365 days); returns seconds. */
export function duration(ctx: OptionContext, example: string): number | undefined {
  const text = single(ctx, example);
  if (text === undefined) return undefined;
  const match = /^(\d+)([hdwmy])$/.exec(text);
  const count = match?.[1] === undefined ? undefined : Number(match[1]);
  const unit = match?.[2] as keyof typeof DURATION_UNITS | undefined;
  if (count === undefined || unit === undefined || count < 1) {
    ctx.error(
      CONFIG_ISSUE_KINDS.invalidValue,
      `${ctx.line.option} expects a duration: a whole number of at least 1 followed by h, d, w, m or y ` +
        `(hours, days, weeks, 30-day months, 365-day years), got "${text}"`,
      fixFor(ctx, example),
    );
    return undefined;
  }
  return count * DURATION_UNITS[unit];
}

// ---------------------------------------------------------------------------------------------
// Listener-scoped and global options.

/** Applies a listener-scoped option to the current listener, noting when that is the default listener. */
export function setListener(ctx: OptionContext, apply: (l: ListenerDraft) => void): void {
  apply(ctx.listener);
  if (!ctx.inListenerBlock) {
    ctx.draft.defaultListenerOptions.push({ option: ctx.line.option, source: { file: ctx.line.file, line: ctx.line.line } });
  }
}

/** An option handler that stores what `read` returns in `draft.values[key]` (nothing when unusable). */
export function global<K extends keyof Draft['values']>(key: K, read: (ctx: OptionContext) => Draft['values'][K] | undefined) {
  return (ctx: OptionContext): void => {
    const value = read(ctx);
    if (value !== undefined) ctx.draft.values[key] = value;
  };
}
