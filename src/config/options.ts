// The mosquitto.conf options moat implements: one table entry per option, each with the example used in
// error messages and a function that validates the line and records the value in the draft.
// Structure (listener scoping, include_dir, defaults) lives in parse.ts.

import { CLIENT_OPTIONS } from './client-options.js';
import { LOG_OPTIONS } from './log-options.js';
import { TLS_OPTIONS } from './tls-options.js';
import { TRANSPORT_OPTIONS } from './transport-options.js';
import { isIP } from 'node:net';
import { CONFIG_ISSUE_KINDS, type ConfigIssueKind } from './errors.js';
import {
  CONFIG_DEFAULTS,
  LISTENER_PROTOCOLS,
  type ConfigSource,
  type ListenerProtocol,
  type LogDestination,
  type SocketDomain,
  type LogType,
} from './types.js';

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
    maxTopicLevels: number;
    publisherFlowControl: boolean;
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
  };
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

const INT32_MAX = 2_147_483_647;
const MAX_PAYLOAD = 268_435_455;
const MAX_PACKET = MAX_PAYLOAD + 5;

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
// Security options: per listener or global, and per_listener_settings must come first.

type SecurityKey = keyof SecurityDraft;

function setSecurity<K extends SecurityKey>(ctx: OptionContext, key: K, value: SecurityDraft[K]): void {
  const { draft, line } = ctx;
  const source = { file: line.file, line: line.line };
  draft.firstSecurityOption ??= { option: line.option, source };
  if (draft.perListenerSettings !== undefined) {
    ctx.listener.security[key] = value;
    if (!ctx.inListenerBlock) draft.defaultListenerOptions.push({ option: line.option, source });
    return;
  }
  const written = line.args.join(' ') || line.rest;
  const previous = draft.securityLines.get(line.option);
  if (ctx.inListenerBlock && previous !== undefined && previous.value !== written) {
    ctx.warn(
      `${line.option} ${written} replaces "${line.option} ${previous.value}" from ` +
        `${previous.source.file}:${previous.source.line} for every listener, not just this listener block, ` +
        `because per_listener_settings is false. Fix: put "per_listener_settings true" at the top of the main file ` +
        'to set it per listener.',
    );
  }
  draft.securityLines.set(line.option, { value: written, source });
  draft.security[key] = value;
}

/** A security option whose value is a file path (password_file, acl_file, psk_file). */
function securityPath(key: 'passwordFile' | 'aclFile' | 'pskFile', example: string): OptionSpec {
  return {
    scope: 'security',
    example,
    apply: (ctx) => {
      const value = freeText(ctx, example);
      if (value === undefined) return;
      setSecurity(ctx, key, value);
      if (key === 'pskFile') {
        const security = ctx.draft.perListenerSettings !== undefined ? ctx.listener.security : ctx.draft.security;
        security.pskFileSource = { file: ctx.line.file, line: ctx.line.line };
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Listener-scoped options.

export function setListener(ctx: OptionContext, apply: (l: ListenerDraft) => void): void {
  apply(ctx.listener);
  if (!ctx.inListenerBlock) {
    ctx.draft.defaultListenerOptions.push({ option: ctx.line.option, source: { file: ctx.line.file, line: ctx.line.line } });
  }
}

// ---------------------------------------------------------------------------------------------

export function global<K extends keyof Draft['values']>(key: K, read: (ctx: OptionContext) => Draft['values'][K] | undefined) {
  return (ctx: OptionContext): void => {
    const value = read(ctx);
    if (value !== undefined) ctx.draft.values[key] = value;
  };
}

/**
 * The options moat implements. `listener`, `port`, `bind_address` and `include_dir` are structural and
 * handled by parse.ts; they are listed here so that suggestions and docs see them.
 */
export const OPTIONS: Readonly<Record<string, OptionSpec>> = {
  listener: { scope: 'structure', example: '1883', apply: () => {} },
  port: { scope: 'structure', example: '1883', apply: () => {} },
  bind_address: { scope: 'structure', example: '127.0.0.1', apply: () => {} },
  include_dir: { scope: 'structure', example: '/etc/mosquitto/conf.d', apply: () => {} },

  protocol: {
    scope: 'listener',
    example: 'mqtt',
    apply: (ctx) => {
      const value = oneOf(ctx, LISTENER_PROTOCOLS, 'mqtt');
      if (value !== undefined) setListener(ctx, (l) => (l.protocol = value));
    },
  },
  max_connections: {
    scope: 'listener',
    example: '1000',
    apply: (ctx) => {
      const value = wholeNumber(ctx, -1, INT32_MAX, '1000', `-1 (no limit) or a whole number 1-${INT32_MAX}`, (n) => n !== 0);
      if (value !== undefined) setListener(ctx, (l) => (l.maxConnections = value));
    },
  },
  ...TLS_OPTIONS,
  max_topic_alias: {
    scope: 'listener',
    example: '10',
    apply: (ctx) => {
      const value = wholeNumber(ctx, 0, 65535, '10');
      if (value !== undefined) setListener(ctx, (l) => (l.maxTopicAlias = value));
    },
  },
  max_qos: {
    scope: 'listener',
    example: '1',
    apply: (ctx) => applyMaxQos(ctx),
  },
  // Accepted as Mosquitto's own config reader accepts it, though its man page names only max_qos.
  maximum_qos: {
    scope: 'listener',
    example: '1',
    apply: (ctx) => applyMaxQos(ctx),
  },
  mount_point: {
    scope: 'listener',
    example: 'tenant-a/',
    apply: (ctx) => {
      const value = single(ctx, 'tenant-a/');
      if (value === undefined) return;
      if (/[+#]/.test(value) || value.startsWith('$')) {
        ctx.error(
          CONFIG_ISSUE_KINDS.invalidValue,
          `mount_point must be a plain topic prefix (no + or #, not starting with $), got "${value}"`,
          'write e.g. "mount_point tenant-a/".',
        );
        return;
      }
      if (!value.endsWith('/')) {
        ctx.warn(`mount_point "${value}" does not end with "/": it is joined to each topic as is (topic "x" becomes "${value}x"), as in Mosquitto.`);
      }
      setListener(ctx, (l) => (l.mountPoint = value));
    },
  },
  check_retain_source: {
    scope: 'global',
    example: 'true',
    apply: global('checkRetainSource', (ctx) => bool(ctx, 'true')),
  },

  per_listener_settings: {
    scope: 'global',
    example: 'true',
    apply: (ctx) => {
      const value = bool(ctx, 'true');
      if (value === undefined) return;
      const { draft, line } = ctx;
      const set = draft.perListenerSettings;
      if (set !== undefined) {
        if (!value) {
          ctx.error(
            CONFIG_ISSUE_KINDS.misplaced,
            `per_listener_settings was already set to true at ${set.file}:${set.line} and cannot be turned off again`,
            'remove one of the two lines.',
          );
        }
        return;
      }
      if (!value) return;
      const first = draft.firstSecurityOption;
      if (first !== undefined) {
        ctx.error(
          CONFIG_ISSUE_KINDS.misplaced,
          `per_listener_settings must come before every security option, but ${first.option} is already set at ` +
            `${first.source.file}:${first.source.line}`,
          `move "per_listener_settings true" to the top of ${draft.mainFile}.`,
        );
        return;
      }
      draft.perListenerSettings = { file: line.file, line: line.line };
    },
  },
  allow_anonymous: {
    scope: 'security',
    example: 'false',
    apply: (ctx) => {
      const value = bool(ctx, 'false');
      if (value !== undefined) setSecurity(ctx, 'allowAnonymous', value);
    },
  },
  allow_zero_length_clientid: {
    scope: 'security',
    example: 'true',
    apply: (ctx) => {
      const value = bool(ctx, 'true');
      if (value !== undefined) setSecurity(ctx, 'allowZeroLengthClientId', value);
    },
  },
  password_file: securityPath('passwordFile', '/etc/moat/passwd'),
  acl_file: securityPath('aclFile', '/etc/moat/acl'),
  psk_file: securityPath('pskFile', '/etc/moat/psk'),
  auto_id_prefix: {
    scope: 'security',
    example: 'auto-',
    apply: (ctx) => {
      const value = freeText(ctx, 'auto-');
      if (value === undefined) return;
      if (/[+#/\u0000]/.test(value)) {
        ctx.error(
          CONFIG_ISSUE_KINDS.invalidValue,
          `auto_id_prefix must not contain "+", "#", "/" or NUL (it becomes part of client ids), got "${value}"`,
          'write e.g. "auto_id_prefix auto-".',
        );
        return;
      }
      setSecurity(ctx, 'autoIdPrefix', value);
    },
  },

  max_keepalive: {
    scope: 'global',
    example: '60',
    apply: (ctx) => {
      const value = wholeNumber(ctx, 0, 65535, '60');
      if (value === undefined) return;
      if (value > 0 && value < 10) {
        ctx.warn(
          `max_keepalive ${value} is below 10 seconds, which mosquitto.conf(5) advises against: clients on slow links ` +
            'will be disconnected. Fix: use at least 10, e.g. "max_keepalive 60".',
        );
      }
      ctx.draft.values.maxKeepalive = value;
    },
  },
  max_packet_size: {
    scope: 'global',
    example: '1048576',
    apply: global('maxPacketSize', (ctx) =>
      wholeNumber(ctx, 0, MAX_PACKET, '1048576', `0 (no limit) or a whole number 20-${MAX_PACKET}`, (n) => n === 0 || n >= 20),
    ),
  },
  message_size_limit: {
    scope: 'global',
    example: '1048576',
    apply: global('messageSizeLimit', (ctx) => wholeNumber(ctx, 0, MAX_PAYLOAD, '1048576')),
  },
  retain_available: { scope: 'global', example: 'true', apply: global('retainAvailable', (ctx) => bool(ctx, 'true')) },
  persistent_client_expiration: {
    scope: 'global',
    example: '14d',
    apply: global('persistentClientExpiration', (ctx) => duration(ctx, '14d')),
  },
  max_inflight_messages: {
    scope: 'global',
    example: '20',
    apply: global('maxInflightMessages', (ctx) => wholeNumber(ctx, 0, 65535, '20')),
  },
  max_inflight_bytes: {
    scope: 'global',
    example: '1048576',
    apply: global('maxInflightBytes', (ctx) => wholeNumber(ctx, 0, Number.MAX_SAFE_INTEGER, '1048576')),
  },
  max_queued_messages: {
    scope: 'global',
    example: '1000',
    apply: global('maxQueuedMessages', (ctx) => wholeNumber(ctx, 0, INT32_MAX, '1000')),
  },
  max_queued_bytes: {
    scope: 'global',
    example: '10485760',
    apply: global('maxQueuedBytes', (ctx) => wholeNumber(ctx, 0, Number.MAX_SAFE_INTEGER, '10485760')),
  },
  max_topic_levels: {
    scope: 'global',
    example: '201',
    // 32,768 levels is already half of the longest topic MQTT can carry (65,535 bytes).
    apply: global('maxTopicLevels', (ctx) => wholeNumber(ctx, 1, 32_768, '201')),
  },
  // moat extensions restoring Mosquitto 2.0's answer where moat's differs (MIGRATING-FROM-MOSQUITTO.md).
  bad_password_answer: {
    scope: 'global',
    example: 'mosquitto',
    apply: global('badPasswordAnswer', (ctx) => oneOf(ctx, ['moat', 'mosquitto'] as const, 'mosquitto')),
  },
  acl_denied_subscribe: {
    scope: 'global',
    example: 'mosquitto',
    apply: global('aclDeniedSubscribe', (ctx) => oneOf(ctx, ['moat', 'mosquitto'] as const, 'mosquitto')),
  },
  publisher_flow_control: {
    scope: 'global',
    example: 'true',
    apply: global('publisherFlowControl', (ctx) => bool(ctx, 'true')),
  },
  sys_interval: { scope: 'global', example: '10', apply: global('sysInterval', (ctx) => wholeNumber(ctx, 0, 65535, '10')) },
  connect_timeout: {
    scope: 'global',
    example: '10',
    apply: global('connectTimeout', (ctx) => wholeNumber(ctx, 1, 65535, '10')),
  },
  auth_failure_limit: {
    scope: 'global',
    example: '5',
    apply: global('authFailureLimit', (ctx) => wholeNumber(ctx, 0, 1_000_000, '5')),
  },
  auth_ban_time: {
    scope: 'global',
    example: '60',
    apply: global('authBanTime', (ctx) => wholeNumber(ctx, 1, 86_400, '60')),
  },
  upgrade_outgoing_qos: {
    scope: 'global',
    example: 'false',
    apply: global('upgradeOutgoingQos', (ctx) => bool(ctx, 'false')),
  },
  set_tcp_nodelay: { scope: 'global', example: 'true', apply: global('setTcpNodelay', (ctx) => bool(ctx, 'true')) },
  pid_file: { scope: 'global', example: '/run/moat/moat.pid', apply: global('pidFile', (ctx) => freeText(ctx, '/run/moat/moat.pid')) },

  ...CLIENT_OPTIONS,
  ...TRANSPORT_OPTIONS,
  ...LOG_OPTIONS,
};

/** The implemented option spec for `name`, if any (own keys only). */
export function optionSpec(name: string): OptionSpec | undefined {
  return Object.hasOwn(OPTIONS, name) ? OPTIONS[name] : undefined;
}

/** Security options before any line set them. */
export function emptySecurity(): SecurityDraft {
  return {
    allowAnonymous: undefined,
    allowZeroLengthClientId: undefined,
    autoIdPrefix: undefined,
    passwordFile: undefined,
    aclFile: undefined,
    pskFile: undefined,
    pskFileSource: undefined,
  };
}

/** A fresh listener with mosquitto's per-listener defaults. */
export function newListener(port: number, host: string | undefined, source: ConfigSource): ListenerDraft {
  return {
    port,
    host,
    socketPath: undefined,
    protocol: 'mqtt',
    maxConnections: CONFIG_DEFAULTS.maxConnections,
    maxTopicAlias: CONFIG_DEFAULTS.maxTopicAlias,
    maxQos: 2,
    mountPoint: undefined,
    useUsernameAsClientid: false,
    socketDomain: undefined,
    bindInterface: undefined,
    security: emptySecurity(),
    tls: {},
    source,
  };
}

/** `max_qos` and its alias `maximum_qos`: 0, 1 or 2 for the current listener. */
function applyMaxQos(ctx: OptionContext): void {
  const value = wholeNumber(ctx, 0, 2, '1');
  if (value !== undefined) setListener(ctx, (l) => (l.maxQos = value as 0 | 1 | 2));
}
