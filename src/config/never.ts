// mosquitto.conf options (and option values) moat will never implement. Each one is an error, never
// silently ignored, saying why moat does not do it and what to write instead. Options moat will
// implement later live in not-supported.ts instead.

/** Why moat refuses an option for good, and what to do instead. */
export interface NeverReason {
  /** Why, as a clause: "Node cannot load ...". */
  readonly why: string;
  /** What to do instead, as a clause: "remove the line and ...". */
  readonly instead: string;
}

const C_PLUGIN: NeverReason = {
  why: "it loads a Mosquitto C plugin (a .so file built against Mosquitto's plugin API), which a Node.js process cannot load",
  instead: 'remove the line and use password_file and acl_file',
};
const PLUGIN_SETTING: NeverReason = {
  why: 'it configures a Mosquitto C plugin (auth_plugin / plugin), which a Node.js process cannot load',
  instead: 'remove the line and use password_file and acl_file',
};
const OPENSSL_ENGINE: NeverReason = {
  why: 'moat does not load OpenSSL engines (deprecated since OpenSSL 3.0, and in Node.js)',
  instead: 'remove the line and give the private key as a PEM file (keyfile PATH)',
};

/** Option name → why it will not be implemented. */
export const NEVER_SUPPORTED: Readonly<Record<string, NeverReason>> = {
  auth_plugin: C_PLUGIN,
  plugin: C_PLUGIN,
  // Mosquitto 2.1's name; 2.0.11 does not know it, but configs written for 2.1 may carry it.
  global_plugin: C_PLUGIN,
  auth_plugin_deny_special_chars: PLUGIN_SETTING,
  tls_engine: OPENSSL_ENGINE,
  tls_engine_kpass_sha1: OPENSSL_ENGINE,
  user: {
    why: 'moat does not start as root to switch to another user afterwards',
    instead:
      'remove the line and start moat as the user it should run as (systemd User=, docker run --user); ' +
      'for a port below 1024 grant it CAP_NET_BIND_SERVICE (systemd AmbientCapabilities=) rather than root',
  },
  websockets_log_level: {
    why: "it is a bit mask for libwebsockets' internal log, and moat's WebSocket listener does not use libwebsockets",
    instead: 'remove the line; moat logs refused WebSocket upgrades at log_type information and handshake errors at log_type debug',
  },
};

/** Option-name prefixes that will not be implemented (settings passed to Mosquitto C plugins). */
export const NEVER_SUPPORTED_PREFIXES: Readonly<Record<string, NeverReason>> = {
  auth_opt_: PLUGIN_SETTING,
  plugin_opt_: PLUGIN_SETTING,
};

/** Values of implemented options that will not be implemented: `option value` → why. */
export const NEVER_SUPPORTED_VALUES: Readonly<Record<string, NeverReason>> = {
  'log_dest syslog': {
    why: "Node.js has no syslog client (it cannot write to syslog's /dev/log datagram socket)",
    instead: 'log to stdout or stderr ("log_dest stderr") and let journald or your service manager forward it',
  },
  'log_dest dlt': {
    why: "it needs the automotive Diagnostic Log and Trace C library, which a Node.js process cannot use",
    instead: 'log to stdout or stderr ("log_dest stderr") instead',
  },
  'tls_version tlsv1.1': {
    why: 'TLS 1.1 is deprecated (RFC 8996) and moat accepts TLS 1.2 and newer only',
    instead: 'write "tls_version tlsv1.2"; clients that cannot do TLS 1.2 need updating',
  },
  'tls_keyform engine': OPENSSL_ENGINE,
};

/** Why `option` will never be supported, if it is one of the options above (name or prefix). */
export function neverReasonOf(option: string): NeverReason | undefined {
  if (Object.hasOwn(NEVER_SUPPORTED, option)) return NEVER_SUPPORTED[option];
  for (const [prefix, reason] of Object.entries(NEVER_SUPPORTED_PREFIXES)) {
    if (option.startsWith(prefix)) return reason;
  }
  return undefined;
}

/** Why `option value` will never be supported, if that value of an implemented option is one of the above. */
export function neverReasonOfValue(option: string, value: string): NeverReason | undefined {
  const key = `${option} ${value}`;
  return Object.hasOwn(NEVER_SUPPORTED_VALUES, key) ? NEVER_SUPPORTED_VALUES[key] : undefined;
}

/** "X is not supported by moat and will not be: <why>; <instead>." */
export function neverSupportedMessage(what: string, reason: NeverReason): string {
  return `${what} is not supported by moat and will not be: ${reason.why}; ${reason.instead}.`;
}
