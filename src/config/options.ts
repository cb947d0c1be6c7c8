// The mosquitto.conf options moat implements: one table entry per option, each with the example used in
// error messages and a function that validates the line and records the value in the draft.
// Structure (listener scoping, include_dir, defaults) lives in parse.ts; the draft types and value readers
// shared with the other option tables live in option-kit.ts.

import { ADMIN_OPTIONS } from './admin-options.js';
import { CLIENT_OPTIONS } from './client-options.js';
import { CLUSTER_OPTIONS } from './cluster-options.js';
import { CONFIG_ISSUE_KINDS } from './errors.js';
import { LOG_OPTIONS } from './log-options.js';
import { PERSISTENCE_OPTIONS } from './persistence-options.js';
import {
  bool,
  duration,
  freeText,
  global,
  oneOf,
  setListener,
  single,
  wholeNumber,
  type ListenerDraft,
  type OptionContext,
  type OptionSpec,
  type SecurityDraft,
} from './option-kit.js';
import { TLS_OPTIONS } from './tls-options.js';
import { TRANSPORT_OPTIONS } from './transport-options.js';
import { CONFIG_DEFAULTS, LISTENER_PROTOCOLS, type ConfigSource } from './types.js';

const INT32_MAX = 2_147_483_647;
const MAX_PAYLOAD = 268_435_455;
const MAX_PACKET = MAX_PAYLOAD + 5;

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

/** Connections per second: 0 or -1 = no limit (read as 0), else 1-1000000. */
function connectionRate(ctx: OptionContext, example: string): number | undefined {
  const value = wholeNumber(ctx, -1, 1_000_000, example, '0 (no limit) or connections per second 1-1000000');
  return value === -1 ? 0 : value;
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
  // Mosquitto's memory_limit, measured as V8 heap + external memory (broker/overload.ts).
  memory_limit: {
    scope: 'global',
    example: '1073741824',
    apply: global('memoryLimit', (ctx) => wholeNumber(ctx, 0, Number.MAX_SAFE_INTEGER, '1073741824', `0 (no limit) or a number of bytes up to ${Number.MAX_SAFE_INTEGER}`)),
  },
  // moat extensions: the limits Mosquitto lacks (docs/CONFIG.md, "Limits and protocol").
  global_max_connections: {
    scope: 'global',
    example: '10000',
    apply: global('globalMaxConnections', (ctx) => wholeNumber(ctx, -1, INT32_MAX, '10000', `-1 (no limit) or a whole number 1-${INT32_MAX}`, (n) => n !== 0)),
  },
  max_connection_rate: {
    scope: 'global',
    example: '500',
    apply: global('maxConnectionRate', (ctx) => connectionRate(ctx, '500')),
  },
  max_connection_rate_per_address: {
    scope: 'global',
    example: '10',
    apply: global('maxConnectionRatePerAddress', (ctx) => connectionRate(ctx, '10')),
  },
  max_subscriptions_per_client: {
    scope: 'global',
    example: '100',
    apply: global('maxSubscriptionsPerClient', (ctx) => wholeNumber(ctx, -1, INT32_MAX, '100', `-1 (no limit) or a whole number 1-${INT32_MAX}`, (n) => n !== 0)),
  },
  max_topic_length: {
    scope: 'global',
    example: '1024',
    apply: global('maxTopicLength', (ctx) => wholeNumber(ctx, 1, 65535, '1024')),
  },
  overload_protection: {
    scope: 'global',
    example: 'true',
    apply: global('overloadProtection', (ctx) => bool(ctx, 'true')),
  },
  max_event_loop_lag: {
    scope: 'global',
    example: '200',
    apply: global('maxEventLoopLag', (ctx) => wholeNumber(ctx, 0, 60_000, '200', '0 (lag not watched) or a number of milliseconds 1-60000')),
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
  capacity_alert_threshold: {
    scope: 'global',
    example: '80',
    apply: global('capacityAlertThreshold', (ctx) => wholeNumber(ctx, 1, 100, '80')),
  },
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
  ...ADMIN_OPTIONS,
  ...PERSISTENCE_OPTIONS,
  ...CLUSTER_OPTIONS,
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
