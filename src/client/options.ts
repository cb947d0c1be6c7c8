// What a caller passes to `connect()`, and `parseClientOptions()`, which fills defaults and rejects
// a bad value with one MoatError naming the option. TLS (`tls`), WebSocket (`ws`), `reconnect` and
// `offlineQueue` are option groups; the user callbacks (onConnect, ...) are options too.
import type { MqttClient } from './client.js';
import { randomBytes } from 'node:crypto';
import { MoatError } from '../codec/errors.js';
import type { Properties, QoS } from '../codec/types.js';
import { validateTopicName } from '../topic/validate.js';
import type { ConnackPacket } from '../codec/types.js';
import type { DisconnectReason } from './client.js';
import type { ReceivedMessage } from './message-stream.js';
import type { OfflineQueueLimits, OverflowPolicy } from './offline-queue.js';
import type { ReconnectPolicy } from './reconnect.js';
import type { FailoverHandler } from './types.js';

/** The message the broker publishes for this client if it disconnects without a DISCONNECT. */
export interface WillOptions {
  topic: string;
  payload: string | Buffer;
  /** Default 0. */
  qos?: QoS;
  /** Default false. */
  retain?: boolean;
  /** MQTT 5 will properties (willDelayInterval, messageExpiryInterval, contentType, ...). */
  properties?: Properties;
}

export interface ClientOptions {
  /** 4 = MQTT 3.1.1, 5 = MQTT 5.0. Default 5. */
  protocolVersion?: 4 | 5;
  /** Default `moat-` followed by 16 random hex digits. */
  clientId?: string;
  /** Clean Session (3.1.1) / Clean Start (5.0). Default true. */
  clean?: boolean;
  /** Keep alive in seconds; 0 turns pings off. Default 60. A v5 server may override it (Server Keep Alive). */
  keepalive?: number;
  username?: string;
  password?: string | Buffer;
  will?: WillOptions;
  /**
   * MQTT 5 CONNECT properties (sessionExpiryInterval, receiveMaximum, maximumPacketSize,
   * topicAliasMaximum, userProperties, ...). Set topicAliasMaximum to let the server send topic
   * aliases; the client resolves them. Ignored with protocolVersion 4.
   */
  properties?: Properties;
  /**
   * MQTT 5: replace topics by topic aliases when the server allows them (CONNACK Topic Alias
   * Maximum > 0): the first PUBLISH of a topic carries topic + alias, later ones only the alias,
   * until the server's maximum is used up (then plain topics). Aliases are per connection and reset
   * on every reconnect. A PUBLISH with properties.topicAlias set by the caller is sent as it is.
   * Default true.
   */
  topicAliases?: boolean;
  /** Time allowed for TCP connect + TLS/WebSocket handshake + CONNECT/CONNACK, milliseconds. Default 30000 (a 6 s TLS handshake on a slow device passes). */
  connectTimeoutMs?: number;
  /**
   * Automatic reconnect after a connection that was up is lost: exponential back-off with full
   * jitter, delay for attempt n drawn from [0, min(maxDelayMs, initialDelayMs × multiplier^(n-1))].
   * Default enabled: { initialDelayMs: 1000, maxDelayMs: 60000, multiplier: 2, retryOnAuthFailure: false }.
   * `false` turns it off. The first connect() never retries: it rejects (with several broker URLs,
   * once each has been tried). With several URLs, each reconnect attempt is a round: the URL that
   * last worked, then the others in order, without a wait between them; the delay comes between rounds.
   */
  reconnect?: false | ReconnectOptions;
  /** Where publish() calls wait while reconnecting. Default { maxMessages: 1000, maxBytes: 1 MiB, overflow: 'drop-oldest' }. */
  offlineQueue?: OfflineQueueOptions;
  /** Called after each successful connect (the first and every reconnect), once subscriptions are restored. */
  onConnect?: (connack: ConnackPacket, client: MqttClient) => void;
  /** Called for every incoming message. */
  onMessage?: (message: ReceivedMessage) => void;
  /** Called each time the connection ends; `reason.reconnecting` says whether a reconnect follows. */
  onDisconnect?: (reason: DisconnectReason) => void;
  /**
   * Called before each reconnect wait, with the attempt number (1-based), the delay chosen and why
   * the last attempt failed. With several broker URLs an attempt is a round over all of them.
   */
  onReconnecting?: (attempt: number, delayMs: number, error?: Error) => void;
  /** With several broker URLs: called each time one fails and the client tries the next at once. */
  onFailover?: FailoverHandler;
  /** TLS for mqtts:// and wss://. */
  tls?: TlsOptions;
  /** WebSocket for ws:// and wss://. */
  ws?: WsOptions;
}

/** TLS options; strings are PEM contents, not file paths (read the files yourself). */
export interface TlsOptions {
  /** CA certificate(s) that signed the server's certificate; default Node's built-in CA list. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Client certificate (PEM), for servers with require_certificate; needs `key`. */
  cert?: string | Buffer;
  /** Private key (PEM) of `cert`. */
  key?: string | Buffer;
  /** Name for SNI and the certificate check; default the URL's host. */
  servername?: string;
  /** Verify the server's certificate. Default true; set false (only explicitly) to accept any certificate. */
  rejectUnauthorized?: boolean;
  /** Lowest TLS version accepted. Default 'TLSv1.2'. */
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
}

export interface WsOptions {
  /** HTTP path when the URL has none. Default '/mqtt'. */
  path?: string;
  /** Extra HTTP headers for the upgrade request (e.g. Authorization). */
  headers?: Record<string, string>;
}

export interface ResolvedTlsOptions {
  readonly ca: readonly (string | Buffer)[] | undefined;
  readonly cert: string | Buffer | undefined;
  readonly key: string | Buffer | undefined;
  readonly servername: string | undefined;
  readonly rejectUnauthorized: boolean;
  readonly minVersion: 'TLSv1.2' | 'TLSv1.3';
}

export interface ResolvedWsOptions {
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface ResolvedWill {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly properties: Properties | undefined;
}

export interface ResolvedClientOptions {
  readonly protocolVersion: 4 | 5;
  readonly clientId: string;
  readonly clean: boolean;
  readonly keepalive: number;
  readonly username: string | undefined;
  readonly password: Buffer | undefined;
  readonly will: ResolvedWill | undefined;
  readonly properties: Readonly<Properties> | undefined;
  readonly topicAliases: boolean;
  readonly connectTimeoutMs: number;
  /** undefined: reconnect is off. */
  readonly reconnect: ReconnectPolicy | undefined;
  readonly offlineQueue: OfflineQueueLimits;
  readonly callbacks: ClientCallbacks;
  readonly tls: ResolvedTlsOptions;
  readonly ws: ResolvedWsOptions;
}

const KNOWN_OPTIONS: ReadonlySet<string> = new Set([
  'protocolVersion',
  'clientId',
  'clean',
  'keepalive',
  'username',
  'password',
  'will',
  'properties',
  'topicAliases',
  'connectTimeoutMs',
  'reconnect',
  'offlineQueue',
  'onConnect',
  'onMessage',
  'onDisconnect',
  'onReconnecting',
  'onFailover',
  'tls',
  'ws',
]);

function invalid(message: string): never {
  throw new MoatError('MOAT_ERR_INVALID_OPTION', message);
}

function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    invalid(`Client option ${name} must be a whole number from ${min} to ${max}, got ${describe(value)}.`);
  }
  return value;
}

function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') invalid(`Client option ${name} must be true or false, got ${describe(value)}.`);
  return value;
}

function toBuffer(name: string, value: unknown): Buffer {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (Buffer.isBuffer(value)) return value;
  return invalid(`Client option ${name} must be a string or a Buffer, got ${describe(value)}.`);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

function parseWill(will: unknown): ResolvedWill {
  if (will === null || typeof will !== 'object') invalid(`Client option will must be an object { topic, payload, qos?, retain? }, got ${describe(will)}.`);
  const w = will as WillOptions;
  if (typeof w.topic !== 'string') invalid(`Client option will.topic must be a string, got ${describe(w.topic)}.`);
  const problem = validateTopicName(w.topic);
  if (problem !== undefined) invalid(`Client option will.topic is not a valid topic name: ${problem}.`);
  const qos = w.qos ?? 0;
  if (qos !== 0 && qos !== 1 && qos !== 2) invalid(`Client option will.qos must be 0, 1 or 2, got ${describe(qos)}.`);
  return {
    topic: w.topic,
    payload: toBuffer('will.payload', w.payload),
    qos,
    retain: checkBoolean('will.retain', w.retain ?? false),
    properties: w.properties,
  };
}

function isPem(value: unknown): value is string | Buffer {
  return typeof value === 'string' || Buffer.isBuffer(value);
}

function checkPem(name: string, value: unknown): string | Buffer | undefined {
  if (value === undefined || isPem(value)) return value;
  return invalid(`Client option ${name} must be PEM text (a string or a Buffer; the contents, not a file path), got ${describe(value)}.`);
}

function checkObject(name: string, value: unknown, known: readonly string[]): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) invalid(`Client option ${name} must be an object, got ${describe(value)}.`);
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) invalid(`Unknown client option ${name}.${key}; known ${name} options: ${known.join(', ')}.`);
  }
  return value as Record<string, unknown>;
}

function parseTls(tls: unknown = {}): ResolvedTlsOptions {
  const t = checkObject('tls', tls, ['ca', 'cert', 'key', 'servername', 'rejectUnauthorized', 'minVersion']);
  const ca = t['ca'] === undefined ? undefined : Array.isArray(t['ca']) ? t['ca'] : [t['ca']];
  ca?.forEach((entry, i) => checkPem(Array.isArray(t['ca']) ? `tls.ca[${i}]` : 'tls.ca', entry));
  const cert = checkPem('tls.cert', t['cert']);
  const key = checkPem('tls.key', t['key']);
  if ((cert === undefined) !== (key === undefined)) invalid('Client options tls.cert and tls.key go together: give both the client certificate and its private key.');
  const servername = t['servername'];
  if (servername !== undefined && (typeof servername !== 'string' || servername === '')) invalid(`Client option tls.servername must be a host name, got ${describe(servername)}.`);
  const minVersion = t['minVersion'] ?? 'TLSv1.2';
  if (minVersion !== 'TLSv1.2' && minVersion !== 'TLSv1.3') invalid(`Client option tls.minVersion must be 'TLSv1.2' or 'TLSv1.3', got ${describe(minVersion)}.`);
  return Object.freeze({
    ca: ca === undefined ? undefined : Object.freeze([...(ca as Array<string | Buffer>)]),
    cert,
    key,
    servername,
    // Only an explicit boolean false turns verification off; anything else is an error, not "falsy".
    rejectUnauthorized: t['rejectUnauthorized'] === undefined ? true : checkBoolean('tls.rejectUnauthorized', t['rejectUnauthorized']),
    minVersion,
  });
}

function parseWs(ws: unknown = {}): ResolvedWsOptions {
  const w = checkObject('ws', ws, ['path', 'headers']);
  const path = w['path'] ?? '/mqtt';
  if (typeof path !== 'string' || !path.startsWith('/')) invalid(`Client option ws.path must be a path starting with "/", such as "/mqtt", got ${describe(path)}.`);
  const headers = w['headers'] ?? {};
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) invalid(`Client option ws.headers must be an object of header names to strings, got ${describe(headers)}.`);
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== 'string') invalid(`Client option ws.headers[${JSON.stringify(name)}] must be a string, got ${describe(value)}.`);
  }
  return Object.freeze({ path, headers: Object.freeze({ ...(headers as Record<string, string>) }) });
}

export interface ReconnectOptions {
  /** Cap of the first attempt's delay, ms. Default 1000. */
  initialDelayMs?: number;
  /** Largest delay, ms; also the delay when the broker limits us (0x88, 0x97, 0x9F; DISCONNECT 0x89). A CONNACK 0x89 Server busy (3.1.1: 3) gets the normal back-off. Default 60000. */
  maxDelayMs?: number;
  /** Growth of the cap per attempt. Default 2. */
  multiplier?: number;
  /** Retry after 0x86 / 0x87 / 0x8A (3.1.1: 4 / 5) instead of stopping. Default false. */
  retryOnAuthFailure?: boolean;
}

export interface OfflineQueueOptions {
  /** Default 1000. */
  maxMessages?: number;
  /** Total encoded size, bytes. Default 1 MiB. */
  maxBytes?: number;
  /** What a publish() that does not fit does. Default 'drop-oldest'. */
  overflow?: OverflowPolicy;
}

/** The user callbacks given as options. */
export interface ClientCallbacks {
  readonly onConnect: ClientOptions['onConnect'];
  readonly onMessage: ClientOptions['onMessage'];
  readonly onDisconnect: ClientOptions['onDisconnect'];
  readonly onReconnecting: ClientOptions['onReconnecting'];
  readonly onFailover: ClientOptions['onFailover'];
}

function parseReconnect(value: unknown): ReconnectPolicy | undefined {
  if (value === false) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) invalid(`Client option reconnect must be false or an object { initialDelayMs?, maxDelayMs?, multiplier?, retryOnAuthFailure? }, got ${describe(value)}.`);
  const r = value as ReconnectOptions;
  for (const key of Object.keys(r)) {
    if (!['initialDelayMs', 'maxDelayMs', 'multiplier', 'retryOnAuthFailure'].includes(key)) invalid(`Unknown client option reconnect.${key}; known: initialDelayMs, maxDelayMs, multiplier, retryOnAuthFailure.`);
  }
  const initialDelayMs = checkInteger('reconnect.initialDelayMs', r.initialDelayMs ?? 1000, 0, 86_400_000);
  const maxDelayMs = checkInteger('reconnect.maxDelayMs', r.maxDelayMs ?? Math.max(60_000, initialDelayMs), 0, 86_400_000);
  if (maxDelayMs < initialDelayMs) invalid(`Client option reconnect.maxDelayMs (${maxDelayMs}) must not be below reconnect.initialDelayMs (${initialDelayMs}).`);
  const multiplier = r.multiplier ?? 2;
  if (typeof multiplier !== 'number' || !Number.isFinite(multiplier) || multiplier < 1 || multiplier > 100) {
    invalid(`Client option reconnect.multiplier must be a number from 1 to 100, got ${describe(multiplier)}.`);
  }
  return Object.freeze({ initialDelayMs, maxDelayMs, multiplier, retryOnAuthFailure: checkBoolean('reconnect.retryOnAuthFailure', r.retryOnAuthFailure ?? false) });
}

function parseOfflineQueue(value: unknown): OfflineQueueLimits {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) invalid(`Client option offlineQueue must be an object { maxMessages?, maxBytes?, overflow? }, got ${describe(value)}.`);
  const q = value as OfflineQueueOptions;
  for (const key of Object.keys(q)) {
    if (!['maxMessages', 'maxBytes', 'overflow'].includes(key)) invalid(`Unknown client option offlineQueue.${key}; known: maxMessages, maxBytes, overflow.`);
  }
  const overflow = q.overflow ?? 'drop-oldest';
  if (overflow !== 'drop-oldest' && overflow !== 'drop-newest' && overflow !== 'error') {
    invalid(`Client option offlineQueue.overflow must be 'drop-oldest', 'drop-newest' or 'error', got ${describe(overflow)}.`);
  }
  return Object.freeze({
    maxMessages: checkInteger('offlineQueue.maxMessages', q.maxMessages ?? 1000, 0, 10_000_000),
    maxBytes: checkInteger('offlineQueue.maxBytes', q.maxBytes ?? 1024 * 1024, 0, 2 ** 40),
    overflow,
  });
}

function checkCallback<T>(name: string, value: T): T {
  if (value !== undefined && typeof value !== 'function') invalid(`Client option ${name} must be a function, got ${describe(value)}.`);
  return value;
}

/** Fills defaults and checks every option; throws MoatError MOAT_ERR_INVALID_OPTION naming the first bad one. */
export function parseClientOptions(options: ClientOptions = {}): ResolvedClientOptions {
  if (options === null || typeof options !== 'object') invalid(`Client options must be an object, got ${describe(options)}.`);
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) invalid(`Unknown client option ${JSON.stringify(key)}; known options: ${[...KNOWN_OPTIONS].join(', ')}.`);
  }
  const protocolVersion = options.protocolVersion ?? 5;
  if (protocolVersion !== 4 && protocolVersion !== 5) {
    invalid(`Client option protocolVersion must be 4 (MQTT 3.1.1) or 5 (MQTT 5.0), got ${describe(protocolVersion)}.`);
  }
  const clientId = options.clientId ?? `moat-${randomBytes(8).toString('hex')}`;
  if (typeof clientId !== 'string') invalid(`Client option clientId must be a string, got ${describe(clientId)}.`);
  if (Buffer.byteLength(clientId, 'utf8') > 65535) invalid('Client option clientId is longer than 65535 bytes of UTF-8.');
  const clean = checkBoolean('clean', options.clean ?? true);
  if (clientId === '' && protocolVersion === 4 && !clean) {
    invalid('Client option clientId may be empty only with clean: true under MQTT 3.1.1 [MQTT-3.1.3-7].');
  }
  const username = options.username;
  if (username !== undefined && typeof username !== 'string') invalid(`Client option username must be a string, got ${describe(username)}.`);
  const password = options.password === undefined ? undefined : toBuffer('password', options.password);
  if (password !== undefined && username === undefined && protocolVersion === 4) {
    invalid('Client option password needs a username under MQTT 3.1.1 [MQTT-3.1.2-22].');
  }
  const properties = options.properties;
  if (properties !== undefined && (properties === null || typeof properties !== 'object')) {
    invalid(`Client option properties must be an object of MQTT 5 CONNECT properties, got ${describe(properties)}.`);
  }
  if (properties?.topicAliasMaximum !== undefined) checkInteger('properties.topicAliasMaximum', properties.topicAliasMaximum, 0, 65535);
  if (properties?.receiveMaximum !== undefined) checkInteger('properties.receiveMaximum', properties.receiveMaximum, 1, 65535);
  if (properties?.maximumPacketSize !== undefined) checkInteger('properties.maximumPacketSize', properties.maximumPacketSize, 2, 268_435_460);
  return Object.freeze({
    protocolVersion,
    clientId,
    clean,
    keepalive: checkInteger('keepalive', options.keepalive ?? 60, 0, 65535),
    username,
    password,
    will: options.will === undefined ? undefined : Object.freeze(parseWill(options.will)),
    properties: properties === undefined ? undefined : Object.freeze({ ...properties }),
    topicAliases: checkBoolean('topicAliases', options.topicAliases ?? true),
    connectTimeoutMs: checkInteger('connectTimeoutMs', options.connectTimeoutMs ?? 30_000, 1, 3_600_000),
    reconnect: parseReconnect(options.reconnect ?? {}),
    offlineQueue: parseOfflineQueue(options.offlineQueue ?? {}),
    callbacks: Object.freeze({
      onConnect: checkCallback('onConnect', options.onConnect),
      onMessage: checkCallback('onMessage', options.onMessage),
      onDisconnect: checkCallback('onDisconnect', options.onDisconnect),
      onReconnecting: checkCallback('onReconnecting', options.onReconnecting),
      onFailover: checkCallback('onFailover', options.onFailover),
    }),
    tls: parseTls(options.tls),
    ws: parseWs(options.ws),
  });
}
