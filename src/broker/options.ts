// What a Broker is configured with. `parseBrokerOptions` fills defaults from the one table,
// CONFIG_DEFAULTS in config/types.ts (Mosquitto 2's, unless the MQTT specification says otherwise),
// and rejects bad values naming the option. A BrokerConfig becomes BrokerOptions in one place:
// server/broker-options.ts.
import { MoatError } from '../codec/errors.js';
import type { AccessControl } from '../auth/access-control.js';
import type { CertificateIdentity } from '../auth/certificate-identity.js';
import { DEFAULT_LOGIN_LIMITS } from '../auth/authenticator.js';
import type { QoS } from '../codec/types.js';
import { CONFIG_DEFAULTS as D } from '../config/types.js';
import { silentLogger, type Logger } from './logger.js';
import type { Bus } from '../cluster/bus.js';
import type { Store } from '../store/store.js';
import type { Message } from './message.js';

export interface BrokerOptions {
  /** Where retained messages are kept; default a MemoryStore. Closed by whoever opened it, after the broker. */
  store?: Store<Message> | undefined;
  /** Fan-out to other broker nodes; default a LocalBus of its own (one node). The broker closes it. */
  bus?: Bus | undefined;
  /** Longest keep alive a client may use, seconds; v5 clients asking more get Server Keep Alive. */
  maxKeepalive?: number;
  /** Largest whole packet accepted from a client, bytes; 0 = the protocol's maximum. */
  maxPacketSize?: number;
  /** Levels a topic name or filter may have (max_topic_levels); deeper ones are refused. */
  maxTopicLevels?: number;
  /** Largest PUBLISH payload accepted, bytes; 0 = no limit (Mosquitto's message_size_limit). */
  messageSizeLimit?: number;
  retainAvailable?: boolean;
  /** Cap on any session's expiry, seconds (Mosquitto's persistent_client_expiration); undefined = none. */
  persistentClientExpiration?: number | undefined;
  /** Outgoing QoS 1/2 messages in flight per client, and the Receive Maximum sent to v5 clients. */
  maxInflightMessages?: number;
  /** Messages queued per client beyond the in-flight window; QoS 0 to online clients is not counted. */
  maxQueuedMessages?: number;
  /** Queue QoS 0 messages for offline sessions too, within maxQueuedMessages (queue_qos0_messages). Default false. */
  queueQos0Messages?: boolean;
  /** Only client ids starting with this may connect (clientid_prefixes); others get CONNACK 0x87. Default: any. */
  clientIdPrefix?: string | undefined;
  /** Incoming topic aliases a v5 client may use (Topic Alias Maximum in CONNACK). */
  maxTopicAlias?: number;
  /** A socket that sends no CONNECT within this time is closed, milliseconds. */
  connectTimeoutMs?: number;
  /** Whether clients without credentials may connect; a listener's policy overrides it. */
  allowAnonymous?: boolean;
  /** Password file and ACL for connections whose listener policy has none. */
  accessControl?: AccessControl | undefined;
  /** Failed logins per address or user name before a ban (v5 CONNACK 0x8A, 3.1.1 code 5); 0 = never. */
  authFailureLimit?: number;
  /** How long a ban lasts, and the window failures are counted in, ms. */
  authBanMs?: number;
  /** Password hashing worker threads (moat's own, not libuv's pool); 0 (default) = one per core, at least 1, at most 4. */
  authHashWorkers?: number;
  /** Logins waiting for a password check, at most; beyond it v5 CONNACK 0x89 Server busy, 3.1.1 code 3. Default 256. */
  authQueueLimit?: number;
  /** The waiting password checks may be expected to take at most this long, ms; beyond it Server busy. Default 1000. */
  authQueueMaxWaitMs?: number;
  /** Logins in progress (checked, waiting, or an unknown name's delay) per source address, at most; beyond it Server busy. Default 2. */
  authAddressLimit?: number;
  /** Empty client ids from 3.1.1/5.0 clients get an assigned id with this prefix. */
  autoIdPrefix?: string;
  allowZeroLengthClientId?: boolean;
  /** Bytes buffered on a socket beyond which QoS 0 messages to it are dropped (slow consumer). */
  maxSocketBufferBytes?: number;
  /** Payload bytes queued per client; 0 = no byte limit (Mosquitto's max_queued_bytes). */
  maxQueuedBytes?: number;
  /** Payload bytes of outgoing QoS 1/2 messages in flight per client; 0 = no byte limit. */
  maxInflightBytes?: number;
  /** Deliver at the subscription's QoS even when the message was published lower (upgrade_outgoing_qos). */
  upgradeOutgoingQos?: boolean;
  /** Log every connect and disconnect at info level (connection_messages). */
  connectionMessages?: boolean;
  /** At most one "messages dropped" log line per client per this many ms. */
  dropLogIntervalMs?: number;
  /** Hold publishers while a connected QoS 1/2 subscriber they feed catches up, before dropping (flow-control.ts). */
  publisherFlowControl?: boolean;
  /** A retained message goes to a new subscriber only while its publisher may still write it (check_retain_source). */
  checkRetainSource?: boolean;
  /** Answer a wrong user name or password as Mosquitto does (3.1.1 code 5, v5 0x87) instead of code 4 / 0x86. */
  badPasswordAsNotAuthorized?: boolean;
  /** Grant ACL-denied subscriptions (and deliver nothing on them) as Mosquitto does, instead of refusing them in SUBACK. */
  grantDeniedSubscriptions?: boolean;
  /** Connections at once across all listeners (global_max_connections); -1 = unlimited. Past it CONNACK 0x97 / 3. */
  globalMaxConnections?: number;
  /** New connections per second to the whole broker (max_connection_rate); 0 = unlimited. Past it CONNACK 0x9F / 3. */
  maxConnectionRate?: number;
  /** New connections per second from one source address (max_connection_rate_per_address); 0 = unlimited. */
  maxConnectionRatePerAddress?: number;
  /** Bytes of V8 heap + external memory past which PUBLISH is refused (v5 QoS 1/2: 0x97) or dropped (memory_limit); 0 = none. */
  memoryLimit?: number;
  /** Subscriptions one session may hold (max_subscriptions_per_client); -1 = unlimited. Past it SUBACK 0x97 / 0x80. */
  maxSubscriptionsPerClient?: number;
  /** Longest topic name or filter, UTF-8 bytes (max_topic_length); 65535 = the protocol's own maximum. */
  maxTopicLength?: number;
  /** Stop reading the heaviest publishers while memory nears memoryLimit or the event loop lags (overload.ts). Default false. */
  overloadProtection?: boolean;
  /** Event-loop lag, ms, past which overload protection holds publishers; 0 = lag is not watched. */
  maxEventLoopLagMs?: number;
  logger?: Logger;
}

/** What a listener may set differently from the broker-wide options. */
export interface ListenerPolicy {
  readonly allowAnonymous?: boolean | undefined;
  readonly allowZeroLengthClientId?: boolean | undefined;
  readonly autoIdPrefix?: string | undefined;
  readonly maxTopicAlias?: number | undefined;
  /** The listener's password file and ACL (shared by listeners when per_listener_settings is false). */
  readonly accessControl?: AccessControl | undefined;
  /** use_identity_as_username / use_subject_as_username: the client certificate names the user. */
  readonly certificateIdentity?: CertificateIdentity | undefined;
  /** max_qos: the highest QoS these clients may publish, subscribe or will with; default 2. */
  readonly maxQos?: QoS | undefined;
  /** mount_point: joined to the front of every topic these clients use, removed on the way out. */
  readonly mountPoint?: string | undefined;
  /** use_username_as_clientid: the logged-in user name replaces the client id; clients without one are refused (0x87). */
  readonly useUsernameAsClientId?: boolean | undefined;
}

export interface ResolvedBrokerOptions {
  readonly maxKeepalive: number;
  readonly maxPacketSize: number;
  readonly maxTopicLevels: number;
  readonly messageSizeLimit: number;
  readonly retainAvailable: boolean;
  readonly persistentClientExpiration: number | undefined;
  readonly maxInflightMessages: number;
  readonly maxQueuedMessages: number;
  readonly queueQos0Messages: boolean;
  readonly clientIdPrefix: string | undefined;
  readonly maxTopicAlias: number;
  readonly connectTimeoutMs: number;
  readonly allowAnonymous: boolean;
  readonly accessControl: AccessControl | undefined;
  readonly authFailureLimit: number;
  readonly authBanMs: number;
  readonly authHashWorkers: number;
  readonly authQueueLimit: number;
  readonly authQueueMaxWaitMs: number;
  readonly authAddressLimit: number;
  readonly autoIdPrefix: string;
  readonly allowZeroLengthClientId: boolean;
  readonly maxSocketBufferBytes: number;
  readonly maxQueuedBytes: number;
  readonly maxInflightBytes: number;
  readonly upgradeOutgoingQos: boolean;
  readonly connectionMessages: boolean;
  readonly dropLogIntervalMs: number;
  readonly publisherFlowControl: boolean;
  readonly checkRetainSource: boolean;
  readonly badPasswordAsNotAuthorized: boolean;
  readonly grantDeniedSubscriptions: boolean;
  readonly globalMaxConnections: number;
  readonly maxConnectionRate: number;
  readonly maxConnectionRatePerAddress: number;
  readonly memoryLimit: number;
  readonly maxSubscriptionsPerClient: number;
  readonly maxTopicLength: number;
  readonly overloadProtection: boolean;
  readonly maxEventLoopLagMs: number;
  readonly logger: Logger;
}

/** The largest count limit (connections, subscriptions): a 32-bit signed integer, as mosquitto.conf reads them. */
export const MAX_LIMIT = 2_147_483_647;
/** Connections per second, at most, a rate limit may allow. */
export const MAX_CONNECTION_RATE = 1_000_000;

/** The protocol's own ceiling: 1 byte header + 4 byte remaining length + 268,435,455. */
export const PROTOCOL_MAX_PACKET_SIZE = 268_435_460;

// Widened from the table's literal types, so the comparisons below still read as what they mean.
const BAD_PASSWORD_ANSWER: 'moat' | 'mosquitto' = D.badPasswordAnswer;
const ACL_DENIED_SUBSCRIBE: 'moat' | 'mosquitto' = D.aclDeniedSubscribe;

export function parseBrokerOptions(options: BrokerOptions = {}): ResolvedBrokerOptions {
  const resolved: ResolvedBrokerOptions = {
    maxKeepalive: options.maxKeepalive ?? D.maxKeepalive,
    // 0 (max_packet_size's default in the table) means the protocol's own ceiling.
    maxPacketSize: options.maxPacketSize || PROTOCOL_MAX_PACKET_SIZE,
    maxTopicLevels: options.maxTopicLevels ?? D.maxTopicLevels,
    messageSizeLimit: options.messageSizeLimit ?? D.messageSizeLimit,
    retainAvailable: options.retainAvailable ?? D.retainAvailable,
    persistentClientExpiration: options.persistentClientExpiration,
    maxInflightMessages: options.maxInflightMessages ?? D.maxInflightMessages,
    maxQueuedMessages: options.maxQueuedMessages ?? D.maxQueuedMessages,
    queueQos0Messages: options.queueQos0Messages ?? D.queueQos0Messages,
    clientIdPrefix: options.clientIdPrefix,
    maxTopicAlias: options.maxTopicAlias ?? D.maxTopicAlias,
    connectTimeoutMs: options.connectTimeoutMs ?? D.connectTimeout * 1000,
    // An embedded Broker (no listener) lets anyone in; `moat broker` decides per listener (config/security.ts)
    // and passes false here, with each listener's answer in its ListenerPolicy.
    allowAnonymous: options.allowAnonymous ?? true,
    accessControl: options.accessControl,
    authFailureLimit: options.authFailureLimit ?? D.authFailureLimit,
    authBanMs: options.authBanMs ?? D.authBanTime * 1000,
    authHashWorkers: options.authHashWorkers || DEFAULT_LOGIN_LIMITS.authHashWorkers,
    authQueueLimit: options.authQueueLimit ?? DEFAULT_LOGIN_LIMITS.authQueueLimit,
    authQueueMaxWaitMs: options.authQueueMaxWaitMs ?? DEFAULT_LOGIN_LIMITS.authQueueMaxWaitMs,
    authAddressLimit: options.authAddressLimit ?? DEFAULT_LOGIN_LIMITS.authAddressLimit,
    autoIdPrefix: options.autoIdPrefix ?? D.autoIdPrefix,
    allowZeroLengthClientId: options.allowZeroLengthClientId ?? D.allowZeroLengthClientId,
    maxSocketBufferBytes: options.maxSocketBufferBytes ?? D.maxSocketBufferBytes,
    maxQueuedBytes: options.maxQueuedBytes ?? D.maxQueuedBytes,
    maxInflightBytes: options.maxInflightBytes ?? D.maxInflightBytes,
    upgradeOutgoingQos: options.upgradeOutgoingQos ?? D.upgradeOutgoingQos,
    // Connection messages nobody would see are not built (they cost an address lookup per client).
    connectionMessages: (options.connectionMessages ?? D.connectionMessages) && (options.logger?.isLevelEnabled?.('info') ?? true),
    dropLogIntervalMs: options.dropLogIntervalMs ?? D.dropLogInterval * 1000,
    publisherFlowControl: options.publisherFlowControl ?? D.publisherFlowControl,
    checkRetainSource: options.checkRetainSource ?? D.checkRetainSource,
    badPasswordAsNotAuthorized: options.badPasswordAsNotAuthorized ?? BAD_PASSWORD_ANSWER === 'mosquitto',
    grantDeniedSubscriptions: options.grantDeniedSubscriptions ?? ACL_DENIED_SUBSCRIBE === 'mosquitto',
    globalMaxConnections: options.globalMaxConnections ?? D.globalMaxConnections,
    maxConnectionRate: options.maxConnectionRate ?? D.maxConnectionRate,
    maxConnectionRatePerAddress: options.maxConnectionRatePerAddress ?? D.maxConnectionRatePerAddress,
    memoryLimit: options.memoryLimit ?? D.memoryLimit,
    maxSubscriptionsPerClient: options.maxSubscriptionsPerClient ?? D.maxSubscriptionsPerClient,
    maxTopicLength: options.maxTopicLength ?? D.maxTopicLength,
    overloadProtection: options.overloadProtection ?? D.overloadProtection,
    maxEventLoopLagMs: options.maxEventLoopLagMs ?? D.maxEventLoopLag,
    logger: options.logger ?? silentLogger,
  };
  checkRange('maxKeepalive', resolved.maxKeepalive, 0, 65535);
  checkRange('maxTopicLevels', resolved.maxTopicLevels, 1, 32_768);
  checkRange('maxPacketSize', resolved.maxPacketSize, 2, PROTOCOL_MAX_PACKET_SIZE);
  checkRange('messageSizeLimit', resolved.messageSizeLimit, 0, PROTOCOL_MAX_PACKET_SIZE);
  checkRange('maxInflightMessages', resolved.maxInflightMessages, 1, 65535);
  checkRange('maxQueuedMessages', resolved.maxQueuedMessages, 0, Number.MAX_SAFE_INTEGER);
  checkRange('maxTopicAlias', resolved.maxTopicAlias, 0, 65535);
  checkRange('maxQueuedBytes', resolved.maxQueuedBytes, 0, Number.MAX_SAFE_INTEGER);
  checkRange('maxInflightBytes', resolved.maxInflightBytes, 0, Number.MAX_SAFE_INTEGER);
  checkRange('authFailureLimit', resolved.authFailureLimit, 0, 1_000_000);
  checkRange('authBanMs', resolved.authBanMs, 1, 86_400_000);
  checkRange('dropLogIntervalMs', resolved.dropLogIntervalMs, 1, 86_400_000);
  checkRange('authHashWorkers', options.authHashWorkers ?? 0, 0, 64);
  // The queue is scanned to pick the next login: bounded so that stays cheap.
  checkRange('authQueueLimit', resolved.authQueueLimit, 1, 10_000);
  checkRange('authQueueMaxWaitMs', resolved.authQueueMaxWaitMs, 1, 3_600_000);
  checkRange('authAddressLimit', resolved.authAddressLimit, 1, 10_000);
  checkRange('connectTimeoutMs', resolved.connectTimeoutMs, 1, 3_600_000);
  checkRange('globalMaxConnections', resolved.globalMaxConnections, -1, MAX_LIMIT);
  checkRange('maxConnectionRate', resolved.maxConnectionRate, 0, MAX_CONNECTION_RATE);
  checkRange('maxConnectionRatePerAddress', resolved.maxConnectionRatePerAddress, 0, MAX_CONNECTION_RATE);
  checkRange('memoryLimit', resolved.memoryLimit, 0, Number.MAX_SAFE_INTEGER);
  checkRange('maxSubscriptionsPerClient', resolved.maxSubscriptionsPerClient, -1, MAX_LIMIT);
  checkRange('maxTopicLength', resolved.maxTopicLength, 1, 65535);
  checkRange('maxEventLoopLagMs', resolved.maxEventLoopLagMs, 0, 60_000);
  if (resolved.globalMaxConnections === 0 || resolved.maxSubscriptionsPerClient === 0) {
    throw new MoatError('MOAT_ERR_INVALID_OPTION', 'Broker options globalMaxConnections and maxSubscriptionsPerClient take -1 (unlimited) or at least 1: 0 would refuse everyone.');
  }
  return resolved;
}

function checkRange(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new MoatError('MOAT_ERR_INVALID_OPTION', `Broker option ${name} must be a whole number from ${min} to ${max}, got ${value}.`);
  }
}
