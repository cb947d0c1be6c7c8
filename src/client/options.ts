// What a caller passes to `connect()`, and `parseClientOptions()`, which fills defaults and rejects
// a bad value with one MoatError naming the option. Reconnect, TLS and WebSocket options will join
// ClientOptions here (with their defaults) when those transports arrive.
import { randomBytes } from 'node:crypto';
import { MoatError } from '../codec/errors.js';
import type { Properties, QoS } from '../codec/types.js';
import { validateTopicName } from '../topic/validate.js';

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
  /** Time allowed for TCP connect + CONNECT/CONNACK, milliseconds. Default 30000. */
  connectTimeoutMs?: number;
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
  readonly connectTimeoutMs: number;
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
  'connectTimeoutMs',
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
    connectTimeoutMs: checkInteger('connectTimeoutMs', options.connectTimeoutMs ?? 30_000, 1, 3_600_000),
  });
}
