// The error family every moat module uses. It lives in codec/ because codec imports nothing of ours.
import { ReasonCode } from './reason-codes.js';

/**
 * Every error code moat uses, with what it means and what to do about it. docs/ERRORS.md lists the
 * same codes (a test keeps the two in step); add a code here before throwing it.
 */
export const ERROR_CODES = {
  // Codec: packets on the wire.
  MOAT_ERR_ENCODE: {
    summary: 'A packet could not be encoded: a field or property is out of range or not allowed for this packet and protocol version.',
    fix: 'Check the value the message names (topic, payload size, property) against the MQTT limits and the protocol version in use.',
  },
  MOAT_ERR_MALFORMED_PACKET: {
    summary: 'The peer sent bytes that are not a valid MQTT packet (MQTT reason code 0x81 Malformed Packet).',
    fix: 'The peer has a bug or is not speaking MQTT; check that it connects to the right port and speaks the protocol version it announces.',
  },
  MOAT_ERR_PROTOCOL: {
    summary: 'The peer broke a protocol rule (MQTT reason code 0x82 Protocol Error, or the code the error carries).',
    fix: 'The message names the rule ([MQTT-x.y.z-n]); fix the client or server that broke it.',
  },
  MOAT_ERR_UNSUPPORTED_PROTOCOL_VERSION: {
    summary: 'The CONNECT asked for a protocol version moat does not speak (0x84; 3.1.1 return code 1).',
    fix: 'Use MQTT 3.1, 3.1.1 or 5.0.',
  },
  MOAT_ERR_PACKET_TOO_LARGE: {
    summary: 'A packet is larger than the Maximum Packet Size the receiver allows (0x95 Packet too large).',
    fix: 'Send smaller messages, or raise max_packet_size (broker) / the Maximum Packet Size the server announces.',
  },

  // Options and arguments.
  MOAT_ERR_INVALID_OPTION: {
    summary: 'An option given to a moat API (parser, broker, client, listener) has a value it cannot use.',
    fix: 'The message names the option, the allowed values and what was given; pass a value in range.',
  },
  MOAT_ERR_INVALID_ARGUMENT: {
    summary: 'A function was called with an argument it cannot use (a packet field, an iteration count, a pool size...).',
    fix: 'The message names the argument and what is allowed; pass a valid value.',
  },
  MOAT_ERR_INTERNAL: {
    summary: 'moat reached a state it should never reach, or caught a thrown value that is not an Error.',
    fix: 'This is a bug in moat (or in a callback it called); please report it with the message and stack trace.',
  },
  MOAT_ERR_NOT_IN_WORKER: {
    summary: 'A worker-thread script of moat (the hashing pool worker, the bench worker) was run as a program of its own.',
    fix: 'Do not run it directly; moat starts it itself.',
  },

  // Configuration and files.
  MOAT_ERR_CONFIG: {
    summary: 'The configuration (mosquitto.conf-style file, password file, ACL file) could not be used; every problem is listed with file:line.',
    fix: 'Each problem line says what is wrong and how to fix it; fix them and start again (or send SIGHUP).',
  },
  MOAT_ERR_LOG_FILE: {
    summary: 'The log file named by log_dest file could not be opened.',
    fix: 'Fix the path or its permissions (a FIFO needs its reader running first), or remove the log_dest file line.',
  },
  MOAT_ERR_TLS_FILE: {
    summary: 'A TLS listener file (certfile, keyfile, cafile, capath, crlfile, dhparamfile, psk_file) is missing, unreadable or not valid.',
    fix: 'The message names the option and the file; fix the file (PEM format, matching key and certificate) or the path.',
  },
  MOAT_ERR_BAD_CERTIFICATE: {
    summary: 'A certificate could not be parsed (its DER structure is not what X.509 requires).',
    fix: 'Check the certificate file or the certificate the peer presented; re-issue it if it is damaged.',
  },
  MOAT_ERR_BAD_CRL: {
    summary: 'A certificate revocation list (crlfile) could not be parsed as an X.509 CertificateList.',
    fix: 'Give crlfile a PEM CRL (-----BEGIN X509 CRL-----) as `openssl ca -gencrl` writes it.',
  },
  MOAT_ERR_START_REFUSED: {
    summary: 'The broker refused to start: a listener would be reachable from the network with no authentication.',
    fix: 'Set password_file (or certificates with use_identity_as_username) on that listener, bind it to 127.0.0.1, or set allow_anonymous true on purpose.',
  },
  MOAT_ERR_PID_FILE: {
    summary: 'The pid_file could not be written.',
    fix: 'Correct the path in pid_file, or make its directory writable by the user moat runs as.',
  },
  MOAT_ERR_STORE_SCHEMA: {
    summary: 'The persistence file was written by a newer moat: its schema version is higher than this moat knows.',
    fix: 'Run the newer moat on it, or point persistence_file at another file.',
  },
  MOAT_ERR_REDIS_URL: {
    summary: 'The cluster_redis / --cluster URL cannot be read: its scheme, host, port or path is wrong.',
    fix: 'Write redis://host:6379, rediss://user:password@host:6380, redis+sentinel://host:26379,host2:26379/MASTER or redis+cluster://host:7000,host2:7001.',
  },
  MOAT_ERR_STORE_LOCKED: {
    summary: 'Another moat broker has the persistence file open: two brokers cannot share one file.',
    fix: 'Stop the other broker, or give this one its own persistence_location or persistence_file.',
  },
  MOAT_ERR_STORE_FILE: {
    summary: 'The persistence file cannot be opened or created, or is not a moat (SQLite) file, e.g. Mosquitto\'s mosquitto.db.',
    fix: 'Check that the directory exists and is writable by the broker\'s user, or set persistence_location / persistence_file to a new file.',
  },
  MOAT_ERR_BUS_CONNECT: {
    summary: 'The cluster bus could not reach Redis when the broker started.',
    fix: 'Check that Redis runs and that the cluster URL names its host, port and password; the broker keeps serving alone only after it has joined once.',
  },
  MOAT_ERR_STORE_COMMIT: {
    summary: 'The store could not commit its writes (a full disk, a removed or read-only file); nothing was acknowledged on them.',
    fix: 'Free disk space or restore write access to the persistence file; clients resend what was not acknowledged.',
  },
  MOAT_ERR_STORE_UNAVAILABLE: {
    summary: 'The Redis store cannot reach Redis (connection refused, lost or timed out): it cannot open, or a session cannot be loaded (the client is refused with 0x88 Server unavailable).',
    fix: 'Check that Redis runs at the cluster_redis URL and that this node reaches it; the store reconnects by itself when Redis is back.',
  },
  MOAT_ERR_LISTEN: {
    summary: 'A listener could not be opened: its port is taken, or the address it names does not fit (socket_domain, bind_interface, a unix socket path in the way).',
    fix: 'The message names the listener and its file:line; stop what holds the port or pick another, or an address of the right family, an existing interface, a free socket path.',
  },
  MOAT_ERR_HASH_POOL: {
    summary: 'A password hash could not be computed: a hashing worker died or failed, or the pool was closed (a login gets 0x80 Unspecified error).',
    fix: 'The broker log says why the worker failed; check memory and thread limits. The pool replaces a dead worker on the next login.',
  },

  // Client.
  MOAT_ERR_INVALID_URL: {
    summary: 'The broker URL given to connect() is not a URL or has no host.',
    fix: 'Write it as mqtt://host:port (or mqtts://, ws://, wss://), e.g. mqtt://127.0.0.1:1883.',
  },
  MOAT_ERR_UNSUPPORTED_SCHEME: {
    summary: 'The broker URL has a scheme the moat client does not speak.',
    fix: 'Use mqtt://, mqtts://, ws:// or wss://.',
  },
  MOAT_ERR_CONNECT: {
    summary: 'The client could not connect: the socket failed (refused, unreachable, TLS verification) or closed before CONNACK.',
    fix: 'The message has the cause and a hint: check that the broker runs on that host and port, and the TLS settings (tls.ca, tls.servername).',
  },
  MOAT_ERR_CONNECT_TIMEOUT: {
    summary: 'connect() gave up waiting; the message says which step hung (TCP, TLS, WebSocket upgrade or CONNACK).',
    fix: 'Check host, port and firewall for TCP; that the port speaks TLS for TLS; raise connectTimeoutMs for slow links.',
  },
  MOAT_ERR_NO_BROKER: {
    summary: 'connect() was given several broker URLs and none accepted the connection (each was tried once).',
    fix: 'The message lists each URL with why it failed (refused, timed out, a CONNACK refusal such as server unavailable or quota exceeded); start or fix at least one of those brokers.',
  },
  MOAT_ERR_WEBSOCKET_SUBPROTOCOL: {
    summary: 'The WebSocket server did not accept the "mqtt" subprotocol.',
    fix: 'Check the URL path (often /mqtt) and that the server is an MQTT-over-WebSocket endpoint.',
  },
  MOAT_ERR_CONNACK: {
    summary: 'The server refused the connection; `reasonCode` is the CONNACK reason code (3.1.1: the return code).',
    fix: 'The message gives the reason code\'s name, meaning and remedy (bad user name or password, not authorized, ...).',
  },
  MOAT_ERR_PUBACK: {
    summary: 'The server answered a QoS 1 PUBLISH with a failure PUBACK; `reasonCode` is its reason code.',
    fix: 'The message gives the reason code\'s meaning and remedy (not authorized, topic name invalid, quota exceeded, ...).',
  },
  MOAT_ERR_PUBREC: {
    summary: 'The server answered a QoS 2 PUBLISH with a failure PUBREC; `reasonCode` is its reason code.',
    fix: 'The message gives the reason code\'s meaning and remedy (not authorized, topic name invalid, quota exceeded, ...).',
  },
  MOAT_ERR_CONNECTION_CLOSED: {
    summary: 'The connection closed before a packet was written or answered.',
    fix: 'With reconnect on, publish again after onConnect (QoS 1 and 2 messages are resent); otherwise connect again.',
  },
  MOAT_ERR_CLIENT_CLOSED: {
    summary: 'The client is not connected: end() was called, or it is between connections.',
    fix: 'Do not use the client after end(); while it reconnects, wait for onConnect or use the offline queue.',
  },
  MOAT_ERR_INVALID_TOPIC: {
    summary: 'A topic name or filter given to publish(), subscribe(), unsubscribe() or messages() is not valid, or a topic alias has no topic yet.',
    fix: 'The message names the problem: no wildcards in topic names, + and # only as whole levels, no NUL, at most 65535 bytes.',
  },
  MOAT_ERR_INVALID_TOPIC_FILTER: {
    summary: 'A topic filter is not valid (0x8F Topic Filter invalid).',
    fix: 'Use + and # only as whole levels, # only last, and share groups as $share/group/filter.',
  },
  MOAT_ERR_QOS_NOT_SUPPORTED: {
    summary: 'publish() asked for a QoS above the server\'s Maximum QoS (0x9B QoS not supported).',
    fix: 'Publish at the QoS the server allows (client.serverCapabilities) or raise the broker\'s max_qos.',
  },
  MOAT_ERR_RETAIN_NOT_SUPPORTED: {
    summary: 'publish() asked to retain a message, and the server does not support retained messages (0x9A).',
    fix: 'Publish without retain, or enable retain_available on the broker.',
  },
  MOAT_ERR_PACKET_IDS_EXHAUSTED: {
    summary: 'All 65535 packet identifiers are in use by unacknowledged messages.',
    fix: 'Wait for acknowledgements (await publish()) before sending more.',
  },
  MOAT_ERR_CONCURRENT_NEXT: {
    summary: 'messages(): next() was called again before the previous call resolved.',
    fix: 'Await each next(), or use for await ... of.',
  },
  MOAT_ERR_OFFLINE_QUEUE_FULL: {
    summary: 'A message published while the client was reconnecting did not fit in the offline queue.',
    fix: 'Raise the offlineQueue limits, or wait for onConnect before publishing.',
  },
  MOAT_ERR_OFFLINE_QUEUE_DROPPED: {
    summary: 'A message published while the client was reconnecting was dropped from the offline queue (by a newer one, or by end()).',
    fix: 'Raise the offlineQueue limits or pick another overflow policy; publish again if the message matters.',
  },

  // Command-line tools.
  MOAT_ERR_CLI: {
    summary: 'moat pub / moat sub could not do their job; the process exits with the code the error carries (as mosquitto_pub/sub do).',
    fix: 'The message says what went wrong (flags, connection, reason code); fix that and run again.',
  },
  MOAT_ERR_PASSWD: {
    summary: 'moat passwd could not update the password file (bad flags, a bad user name, an unreadable file).',
    fix: 'The message names the problem; see moat passwd --help.',
  },
  MOAT_ERR_CERTS: {
    summary: 'moat certs could not make or write certificates.',
    fix: 'The message names the file or directory and why; fix the path, its permissions or the CA files.',
  },
  MOAT_ERR_CA_UNUSABLE: {
    summary: 'An existing CA given to moat certs cannot sign: not a CA certificate, a key that is not its own, or a key type moat cannot sign with.',
    fix: 'Give a CA certificate (basicConstraints CA:TRUE) with its own RSA or ECDSA (P-256, P-384, P-521) key.',
  },
  MOAT_ERR_AUDIT: {
    summary: 'moat audit could not run at all (a config that does not load, a broker that cannot be reached).',
    fix: 'The message says why; fix the config or the address and run the audit again.',
  },
  MOAT_ERR_TLS_PROBE: {
    summary: 'The TLS probe of moat audit got no usable answer: no handshake in time, or no server certificate.',
    fix: 'Check that the port speaks TLS and that the server presents a certificate.',
  },
  MOAT_ERR_DEBUG_SCHEMA: {
    summary: 'moat debug --schema FILE is not a JSON file, or not a JSON Schema ajv can compile.',
    fix: 'Check the file: valid JSON, a JSON Schema (draft 2020-12, 2019-09 or draft-07, as its $schema says); the message quotes the parse or compile error.',
  },

  // moat bench.
  MOAT_ERR_BENCH_OPTION: {
    summary: 'A moat bench flag has a value it cannot use.',
    fix: 'The message names the flag and the allowed range.',
  },
  MOAT_ERR_BENCH_NOFILE: {
    summary: 'The open-file limit (ulimit -n) is too low for the connections moat bench was asked to open.',
    fix: 'Raise ulimit -n in the shell (and for the broker), or pass a smaller --connections.',
  },
  MOAT_ERR_BENCH_CONNECTION: {
    summary: 'A moat bench connection failed: could not connect, was refused, or was closed or disconnected by the broker.',
    fix: 'Check the --url, that the broker runs and accepts anonymous clients (or the credentials), and the broker log.',
  },
  MOAT_ERR_BENCH_TIMEOUT: {
    summary: 'A moat bench step did not finish in time (an acknowledgement, a connection, a worker).',
    fix: 'The broker is overloaded or stuck; lower the rate or the connections, or check the broker log.',
  },
  MOAT_ERR_BENCH_WORKER: {
    summary: 'A moat bench worker thread failed or exited before reporting a result.',
    fix: 'The message has the worker\'s error; if it is a moat bug, report it.',
  },
  MOAT_ERR_BENCH: {
    summary: 'A moat bench scenario produced no result (no connection succeeded, nothing measured).',
    fix: 'The message says what is missing; check the broker and the flags.',
  },
} as const satisfies Record<string, { readonly summary: string; readonly fix: string }>;

/** A stable error code (MOAT_ERR_*): one of ERROR_CODES. */
export type ErrorCode = keyof typeof ERROR_CODES;

export interface MoatErrorOptions {
  reasonCode?: number;
  cause?: unknown;
}

/** Base error: a stable `code` (MOAT_ERR_*, one of ERROR_CODES), and the MQTT reason code where the protocol has one. */
export class MoatError extends Error {
  readonly code: ErrorCode;
  readonly reasonCode: number | undefined;

  constructor(code: ErrorCode, message: string, options: MoatErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MoatError';
    this.code = code;
    this.reasonCode = options.reasonCode;
  }
}

/**
 * The peer sent bytes that break the protocol. `reasonCode` is what a 5.0 DISCONNECT (or CONNACK,
 * when the CONNECT itself is bad) should carry: 0x81 malformed, 0x82 protocol error,
 * 0x84 unsupported protocol version, 0x95 packet too large, ...
 */
export class ProtocolError extends MoatError {
  /** The packet type being decoded when the error was found, if known. */
  readonly packetType: string | undefined;

  constructor(reasonCode: number, message: string, packetType?: string) {
    super(codeFor(reasonCode), message, { reasonCode });
    this.name = 'ProtocolError';
    this.packetType = packetType;
  }
}

function codeFor(reasonCode: number): ErrorCode {
  switch (reasonCode) {
    case ReasonCode.MalformedPacket:
      return 'MOAT_ERR_MALFORMED_PACKET';
    case ReasonCode.UnsupportedProtocolVersion:
      return 'MOAT_ERR_UNSUPPORTED_PROTOCOL_VERSION';
    case ReasonCode.PacketTooLarge:
      return 'MOAT_ERR_PACKET_TOO_LARGE';
    default:
      return 'MOAT_ERR_PROTOCOL';
  }
}
