// The resolved broker configuration: what parseConfig()/loadConfig()/defaultConfig() return.
// Every field is filled in (defaults applied); nothing here is optional unless "not set" means something.

/** Where a setting came from. `line` is 1-based; 0 means "built-in default, no line". */
export interface ConfigSource {
  readonly file: string;
  readonly line: number;
}

/** Wire protocols a listener can speak (mosquitto's `protocol` option). */
export const LISTENER_PROTOCOLS = ['mqtt', 'websockets'] as const;
export type ListenerProtocol = (typeof LISTENER_PROTOCOLS)[number];

/** `socket_domain`: the one IP version a listener binds. */
export const SOCKET_DOMAINS = ['ipv4', 'ipv6'] as const;
export type SocketDomain = (typeof SOCKET_DOMAINS)[number];

/** Log destinations moat can write to (mosquitto's `log_dest`; `none` clears the list). */
export const LOG_DESTINATIONS = ['stdout', 'stderr', 'topic', 'file'] as const;
export type LogDestination = (typeof LOG_DESTINATIONS)[number];

/** Log message types (mosquitto's `log_type`; `all` selects every type, `none` clears the list). */
export const LOG_TYPES = [
  'debug',
  'error',
  'warning',
  'notice',
  'information',
  'subscribe',
  'unsubscribe',
  'websockets',
  'internal',
] as const;
export type LogType = (typeof LOG_TYPES)[number];

/**
 * Built-in defaults; mosquitto 2.0's unless marked "moat". The one table: the config parser fills a
 * BrokerConfig from it and broker/options.ts (parseBrokerOptions) fills an embedded Broker's options
 * from it, converting units where the option's differs (seconds here, ms there). Entries marked
 * "engine" have no mosquitto.conf option yet.
 */
export const CONFIG_DEFAULTS = {
  port: 1883,
  localOnlyHost: '127.0.0.1',
  maxConnections: -1,
  maxTopicAlias: 10,
  allowZeroLengthClientId: true,
  autoIdPrefix: 'auto-',
  maxKeepalive: 65535,
  maxPacketSize: 0,
  messageSizeLimit: 0,
  retainAvailable: true,
  maxInflightMessages: 20,
  maxInflightBytes: 0,
  maxQueuedMessages: 1000,
  maxQueuedBytes: 0,
  sysInterval: 10,
  /** moat extension: percent of the connection limit at which $SYS/broker/capacity/alert is set. */
  capacityAlertThreshold: 80,
  /** moat extension: levels a topic or filter may have; Mosquitto 2.0 refuses more than 200 separators (201 levels). */
  maxTopicLevels: 201,
  /** moat extension: hold publishers while a QoS 1/2 subscriber they feed catches up, before dropping. */
  publisherFlowControl: true,
  /** moat extension. */
  connectTimeout: 10,
  /**
   * moat extension (`tls_handshake_timeout`, seconds): generous for ESP8266-class devices (2-6 s
   * handshakes), yet a socket that never finishes its handshake is still reaped.
   */
  tlsHandshakeTimeout: 30,
  /** moat extension: failed logins from one address or for one username before a ban; 0 = never ban. */
  authFailureLimit: 5,
  /** moat extension: seconds a ban lasts, and the window in which failures are counted. */
  authBanTime: 60,
  logDestinations: ['stderr'],
  logTypes: ['error', 'warning', 'notice', 'information'],
  logTimestamp: true,
  connectionMessages: true,
  upgradeOutgoingQos: false,
  // true, unlike Mosquitto: moat already batches a turn's packets into one write, so Nagle only adds delay.
  setTcpNodelay: true,
  checkRetainSource: true,
  /** moat extension: 'moat' answers a wrong password with 3.1.1 code 4 / v5 0x86; 'mosquitto' with 5 / 0x87. */
  badPasswordAnswer: 'moat',
  /** moat extension: 'moat' refuses an ACL-denied SUBSCRIBE in SUBACK; 'mosquitto' grants it and delivers nothing. */
  aclDeniedSubscribe: 'moat',
  queueQos0Messages: false,
  /** Durable by default (Mosquitto: false): acknowledged QoS 1/2 messages, sessions and retained messages survive kill -9. */
  persistence: true,
  /** 'normal' survives a process crash at one commit per turn without fsync; 'full' also a power cut, at one fsync per turn. */
  persistenceSync: 'normal' as 'normal' | 'full',
  /** Key and channel prefix of a cluster's Redis (several clusters can share one). */
  clusterPrefix: 'moat:',
  /** 0 = Node's own limit on HTTP request headers (16 KB; Mosquitto's libwebsockets: 1024 bytes). */
  websocketsHeadersSize: 0,
  /** engine: bytes buffered on a socket beyond which QoS 0 messages to it are dropped (slow consumer). */
  maxSocketBufferBytes: 8 * 1024 * 1024,
  /** engine: at most one "messages dropped" log line per client per this many seconds (and one refusal summary). */
  dropLogInterval: 10,
  /** moat extension: connections at once across all listeners; -1 = unlimited. */
  globalMaxConnections: -1,
  /** moat extension: new connections per second to the broker; 0 = unlimited. */
  maxConnectionRate: 0,
  /** moat extension: new connections per second from one address; 0 = unlimited. */
  maxConnectionRatePerAddress: 0,
  /** Mosquitto's memory_limit, bytes (moat: V8 heap + external memory, overload.ts); 0 = no limit. */
  memoryLimit: 0,
  /** moat extension: subscriptions per client; -1 = unlimited. */
  maxSubscriptionsPerClient: -1,
  /** moat extension: longest topic name or filter, bytes; 65535 is the protocol's own maximum. */
  maxTopicLength: 65535,
  /** moat extension: hold the heaviest publishers under memory or event-loop pressure. */
  overloadProtection: false,
  /** moat extension: event-loop lag (ms) overload protection reacts to; 0 = lag not watched. */
  maxEventLoopLag: 200,
} as const;

/** OpenSSL's PSK_MAX_IDENTITY_LEN: the longest identity hint (and identity) a TLS-PSK handshake carries. */
export const MAX_PSK_IDENTITY_BYTES = 256;

/**
 * TLS settings of a listener (cafile/capath/certfile/keyfile/crlfile/tls_version/ciphers/
 * require_certificate, tls_handshake_timeout, use_identity_as_username/use_subject_as_username,
 * psk_hint and the psk_file that applies to it).
 */
export interface ListenerTlsConfig {
  readonly cafile?: string;
  readonly capath?: string;
  /** Absent only on a TLS-PSK listener (psk_hint), which then accepts PSK clients only. */
  readonly certfile?: string;
  readonly keyfile?: string;
  /** `crlfile`: PEM CRLs checked against client certificates (require_certificate listeners). */
  readonly crlfile?: string;
  /** `psk_hint`: the listener accepts TLS-PSK clients. */
  readonly pskHint?: string;
  /** The `psk_file` of this listener (its own with per_listener_settings, else the global one); set exactly when pskHint is. */
  readonly pskFile?: string;
  readonly tlsVersion?: string;
  readonly ciphers?: string;
  /** `ciphers_tls1.3`: the TLS 1.3 cipher suites (`ciphers` is for TLS 1.2). */
  readonly ciphersTls13?: string;
  /** `dhparamfile`: PEM Diffie-Hellman parameters, which enable the DHE ciphers of TLS 1.2. */
  readonly dhparamfile?: string;
  readonly requireCertificate: boolean;
  /** `tls_handshake_timeout` in seconds (moat extension); the connect_timeout starts after it. */
  readonly handshakeTimeout: number;
  readonly useIdentityAsUsername: boolean;
  readonly useSubjectAsUsername: boolean;
}

/** One network listener (mosquitto's `listener PORT [BIND_ADDRESS]` block, or its default listener). */
export interface ListenerConfig {
  /** TCP port; 0 (moat extension) means "let the OS pick a free port". */
  readonly port: number;
  /** Address to bind (listener's 2nd argument or `bind_address`); undefined = all interfaces. */
  readonly host: string | undefined;
  /** `listener 0 PATH`: the Unix socket to listen on instead of a TCP port (port is 0, host undefined). */
  readonly socketPath: string | undefined;
  /** `protocol`: plain MQTT over TCP, or MQTT over WebSockets. */
  readonly protocol: ListenerProtocol;
  /**
   * `allow_anonymous` as written: the listener's own value when per_listener_settings is true,
   * else the global one. undefined = not set; resolveSecurity() turns that into the effective answer.
   */
  readonly allowAnonymous: boolean | undefined;
  /** `allow_zero_length_clientid` (per listener when per_listener_settings, else global). */
  readonly allowZeroLengthClientId: boolean;
  /** `auto_id_prefix` for broker-assigned client ids (per listener when per_listener_settings, else global). */
  readonly autoIdPrefix: string;
  /** `max_connections`: most clients connected at once through this listener; -1 = unlimited. */
  readonly maxConnections: number;
  /** `max_topic_alias`: most topic aliases an MQTT 5 client may create (per listener in mosquitto); 0 = none. */
  readonly maxTopicAlias: number;
  /** `max_qos` (alias `maximum_qos`): highest QoS this listener's clients may publish, subscribe or will with. */
  readonly maxQos: 0 | 1 | 2;
  /** `mount_point`: prefix joined to every topic this listener's clients use, removed on the way out. */
  readonly mountPoint?: string;
  /** `use_username_as_clientid`: a client's user name replaces its client id; clients without one are refused. */
  readonly useUsernameAsClientid: boolean;
  /** `socket_domain`: bind IPv4 only or IPv6 only; undefined = whatever the address gives (both for all interfaces). */
  readonly socketDomain: SocketDomain | undefined;
  /** `bind_interface`: bind the address of this network interface (looked up when the broker starts). */
  readonly bindInterface: string | undefined;
  /** `password_file` for this listener (its own when per_listener_settings, else the global one); undefined = none. */
  readonly passwordFile: string | undefined;
  /** `acl_file` for this listener (its own when per_listener_settings, else the global one); undefined = none. */
  readonly aclFile: string | undefined;
  /** TLS settings; absent = plain TCP/WebSocket. */
  readonly tls?: ListenerTlsConfig;
  /** The `listener`/`port`/`bind_address` line that created it (line 0 = moat's local-only default). */
  readonly source: ConfigSource;
}

/**
 * moat's admin HTTP listener (`admin_listener PORT [ADDRESS]`): /metrics, /healthz, /readyz and the
 * JSON admin API. Off unless configured; a token is required on any non-loopback address.
 */
export interface AdminConfig {
  readonly port: number;
  /** The bind address; 127.0.0.1 when the line names none. */
  readonly host: string;
  /** `admin_token`: the bearer token, written in the config. */
  readonly token?: string;
  /** `admin_token_file`: a file whose first line is the token (read when the server starts). */
  readonly tokenFile?: string;
  readonly tokenFileSource?: ConfigSource;
  /** `admin_certfile` / `admin_keyfile`: serve HTTPS. */
  readonly tls?: { readonly certfile: string; readonly keyfile: string };
  /** The admin_listener line. */
  readonly source: ConfigSource;
}

/** Logging settings (mosquitto's log_* options and connection_messages). */
export interface LogConfig {
  /** `log_dest`: where log lines go; empty = logging off (`log_dest none`). */
  readonly destinations: readonly LogDestination[];
  /** Path given with `log_dest file PATH`; set exactly when destinations includes 'file'. */
  readonly file: string | undefined;
  /** `log_type`: which message types are logged; empty = none. */
  readonly types: readonly LogType[];
  /** `log_timestamp`: prefix each line with a timestamp. */
  readonly timestamp: boolean;
  /** `log_timestamp_format`: strftime-style format; undefined = seconds since the epoch. */
  readonly timestampFormat: string | undefined;
  /** `connection_messages`: log client connects and disconnects. */
  readonly connectionMessages: boolean;
}

/** A non-fatal remark about the config (deprecated option, surprising mosquitto behaviour, ...). */
export interface ConfigWarning {
  readonly file: string;
  readonly line: number;
  /** Full text, starting with "file:line: ". */
  readonly message: string;
}

/** The whole resolved configuration. */
export interface BrokerConfig {
  /** Files read, main file first, then include_dir files in load order; empty for defaultConfig(). */
  readonly files: readonly string[];
  /** Listeners to open, in the order mosquitto opens them (explicit listeners, then the default listener). */
  readonly listeners: readonly ListenerConfig[];
  /**
   * True when no `listener`, `port` or `bind_address` was given: moat then opens one listener on
   * 127.0.0.1:1883 that allows anonymous clients (mosquitto 2's "local only mode").
   */
  readonly localOnly: boolean;
  /** `per_listener_settings`: security options apply per listener instead of globally. */
  readonly perListenerSettings: boolean;
  /** Global `allow_anonymous`; undefined = not set explicitly (see resolveSecurity()). */
  readonly allowAnonymous: boolean | undefined;
  /** Global `allow_zero_length_clientid`. */
  readonly allowZeroLengthClientId: boolean;
  /** Global `auto_id_prefix`. */
  readonly autoIdPrefix: string;
  /** Global `password_file`: mosquitto_passwd format ($6$ / $7$ hashes). */
  readonly passwordFile: string | undefined;
  /** Global `acl_file`: mosquitto's ACL format. */
  readonly aclFile: string | undefined;
  /** `auth_failure_limit` (moat): failed logins per address or username within auth_ban_time before a ban; 0 = off. */
  readonly authFailureLimit: number;
  /** `auth_ban_time` (moat): seconds a ban lasts and the window failures are counted in. */
  readonly authBanTime: number;
  /** `max_keepalive`: MQTT 5 server keep alive sent when a client asks for more (seconds). */
  readonly maxKeepalive: number;
  /** `max_packet_size`: largest packet accepted from clients, in bytes; 0 = no limit. */
  readonly maxPacketSize: number;
  /** `message_size_limit`: largest PUBLISH payload accepted, in bytes; 0 = no limit. */
  readonly messageSizeLimit: number;
  /** `retain_available`: whether clients may publish retained messages. */
  readonly retainAvailable: boolean;
  /** `persistent_client_expiration` in seconds; undefined = persistent sessions never expire. */
  readonly persistentClientExpiration: number | undefined;
  /** `max_inflight_messages`: outgoing QoS 1/2 messages in flight per client (and MQTT 5 receive maximum); 0 = no limit. */
  readonly maxInflightMessages: number;
  /** `max_inflight_bytes`: outgoing in-flight bytes per client; 0 = no limit. */
  readonly maxInflightBytes: number;
  /** `max_queued_messages`: QoS 1/2 messages queued per client beyond those in flight; 0 = no limit. */
  readonly maxQueuedMessages: number;
  /** `max_queued_bytes`: queued bytes per client; 0 = no limit. */
  readonly maxQueuedBytes: number;
  /** `max_topic_levels` (moat extension): topic names and filters with more levels are refused. */
  readonly maxTopicLevels: number;
  /** `publisher_flow_control` (moat extension): slow publishers to a draining subscriber's pace before dropping. */
  readonly publisherFlowControl: boolean;
  /** `global_max_connections` (moat extension): clients connected at once across all listeners; -1 = unlimited. */
  readonly globalMaxConnections: number;
  /** `max_connection_rate` (moat extension): new connections per second to the broker; 0 = unlimited. */
  readonly maxConnectionRate: number;
  /** `max_connection_rate_per_address` (moat extension): new connections per second from one address; 0 = unlimited. */
  readonly maxConnectionRatePerAddress: number;
  /** `memory_limit`: bytes of memory past which PUBLISH is refused or dropped; 0 = no limit. */
  readonly memoryLimit: number;
  /** `max_subscriptions_per_client` (moat extension): -1 = unlimited. */
  readonly maxSubscriptionsPerClient: number;
  /** `max_topic_length` (moat extension): longest topic name or filter in bytes. */
  readonly maxTopicLength: number;
  /** `overload_protection` (moat extension): hold the heaviest publishers under pressure. */
  readonly overloadProtection: boolean;
  /** `max_event_loop_lag` (moat extension): ms; 0 = lag not watched. */
  readonly maxEventLoopLag: number;
  /** `sys_interval`: seconds between $SYS updates; 0 = $SYS off. */
  readonly sysInterval: number;
  /** `capacity_alert_threshold` (moat extension): percent of the connection limit at which the capacity alert is set, 1-100. */
  readonly capacityAlertThreshold: number;
  /** `connect_timeout` (moat extension): seconds a new connection has to send CONNECT. */
  readonly connectTimeout: number;
  /** `upgrade_outgoing_qos`: deliver at the subscription's QoS even if the message's is lower (non-standard). */
  readonly upgradeOutgoingQos: boolean;
  /** `set_tcp_nodelay`: disable Nagle's algorithm on client sockets. */
  readonly setTcpNodelay: boolean;
  /** `check_retain_source`: a retained message goes to a new subscriber only while its publisher may still write it. */
  readonly checkRetainSource: boolean;
  /** `bad_password_answer` (moat extension): the CONNACK code for a wrong user name or password. */
  readonly badPasswordAnswer: 'moat' | 'mosquitto';
  /** `acl_denied_subscribe` (moat extension): refuse ACL-denied filters in SUBACK, or grant them as Mosquitto does. */
  readonly aclDeniedSubscribe: 'moat' | 'mosquitto';
  /** `queue_qos0_messages`: queue QoS 0 messages for offline persistent sessions too (within max_queued_messages). */
  readonly queueQos0Messages: boolean;
  /** `clientid_prefixes` (deprecated in Mosquitto): only client ids starting with this may connect; undefined = any. */
  readonly clientidPrefixes: string | undefined;
  /** `websockets_headers_size`: largest HTTP request header of a WebSocket upgrade, bytes; 0 = Node's default. */
  readonly websocketsHeadersSize: number;
  /** `pid_file`: the broker writes its process id here at start and removes it at exit. */
  readonly pidFile: string | undefined;
  /** `persistence` (default true, unlike Mosquitto): keep state in the SQLite store; false = memory only. */
  readonly persistence: boolean;
  /** `persistence_file` as written; undefined = moat.db. */
  readonly persistenceFile: string | undefined;
  /** `persistence_location` as written; undefined = moat's state directory (docs/DURABILITY.md). */
  readonly persistenceLocation: string | undefined;
  /** `persistence_sync` (moat extension). */
  readonly persistenceSync: 'normal' | 'full';
  /** `cluster_redis` (moat extension): the Redis this node shares with the others of its cluster; undefined = a broker alone. */
  readonly clusterRedis: string | undefined;
  /** `cluster_prefix` (moat extension): prefix of its keys and channels. */
  readonly clusterPrefix: string;
  /** The admin HTTP listener; undefined = none (the default). */
  readonly admin: AdminConfig | undefined;
  /** Logging. */
  readonly log: LogConfig;
  /** Remarks worth printing at startup; parsing succeeded regardless. */
  readonly warnings: readonly ConfigWarning[];
}
