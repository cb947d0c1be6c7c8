// Pure builders for what the client sends: CONNECT from the resolved options, PUBLISH and
// SUBSCRIBE from a call's arguments, each checked against the protocol version and the server's
// CONNACK capabilities. They throw MoatError naming the argument; nothing here touches a socket.
import { MoatError } from '../codec/errors.js';
import { ReasonCode } from '../codec/reason-codes.js';
import type { ConnectPacket, Properties, ProtocolVersion, PublishPacket, QoS, Subscription } from '../codec/types.js';
import { validateTopicFilter, validateTopicName } from '../topic/validate.js';
import type { ResolvedClientOptions } from './options.js';

export interface PublishOptions {
  /** Default 0. */
  qos?: QoS;
  /** Default false. */
  retain?: boolean;
  /** MQTT 5 PUBLISH properties; ignored under 3.1.1. */
  properties?: Properties;
}

export interface SubscribeOptions {
  /** Maximum QoS to receive; default 0. */
  qos?: QoS;
  /** MQTT 5: do not receive own messages. */
  noLocal?: boolean;
  /** MQTT 5: keep the retain flag as published. */
  retainAsPublished?: boolean;
  /** MQTT 5: 0 send retained on subscribe (default), 1 only for a new subscription, 2 never. */
  retainHandling?: 0 | 1 | 2;
  /** MQTT 5 SUBSCRIBE properties (subscriptionIdentifiers, userProperties). */
  properties?: Properties;
}

export interface UnsubscribeOptions {
  /** MQTT 5 UNSUBSCRIBE properties (userProperties). */
  properties?: Properties;
}

export function invalid(message: string): MoatError {
  return new MoatError('MOAT_ERR_INVALID_ARGUMENT', message);
}

export function connectPacket(options: ResolvedClientOptions): ConnectPacket {
  const version = options.protocolVersion;
  const packet: ConnectPacket = { type: 'connect', protocolName: 'MQTT', protocolVersion: version, clean: options.clean, keepalive: options.keepalive, clientId: options.clientId };
  if (options.username !== undefined) packet.username = options.username;
  if (options.password !== undefined) packet.password = options.password;
  if (options.will !== undefined) {
    const { topic, payload, qos, retain, properties } = options.will;
    packet.will = properties === undefined || version === 4 ? { topic, payload, qos, retain } : { topic, payload, qos, retain, properties };
  }
  if (options.properties !== undefined && version === 5) packet.properties = { ...options.properties };
  return packet;
}

/**
 * A PUBLISH for `publish(topic, payload, options)`. QoS > 0 gets packet id 1 as a placeholder; the
 * Outbox patches the real one in when the message leaves the queue.
 */
export function publishPacket(topic: string, payload: string | Buffer, options: PublishOptions, version: ProtocolVersion, server: Readonly<Properties>): PublishPacket {
  const { qos = 0, retain = false } = options;
  if (qos !== 0 && qos !== 1 && qos !== 2) throw invalid(`publish(): qos must be 0, 1 or 2, got ${String(qos)}.`);
  if (typeof retain !== 'boolean') throw invalid(`publish(): retain must be true or false, got ${String(retain)}.`);
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  if (!Buffer.isBuffer(body)) throw invalid('publish(): payload must be a string or a Buffer.');
  const properties = version === 5 ? options.properties : undefined;
  const alias = properties?.topicAlias;
  const aliasMaximum = server.topicAliasMaximum ?? 0;
  if (alias !== undefined && (alias < 1 || alias > aliasMaximum)) {
    throw invalid(`publish(): topic alias ${alias} is outside 1..${aliasMaximum}, the server's Topic Alias Maximum [MQTT-3.3.2-9].`);
  }
  if (typeof topic !== 'string') throw invalid('publish(): topic must be a string.');
  const problem = topic === '' && alias !== undefined ? undefined : validateTopicName(topic);
  if (problem !== undefined) throw new MoatError('MOAT_ERR_INVALID_TOPIC', `publish(): ${problem}.`);
  const maximumQoS = server.maximumQoS ?? 2;
  if (qos > maximumQoS) {
    throw new MoatError('MOAT_ERR_QOS_NOT_SUPPORTED', `publish(): the server accepts QoS up to ${maximumQoS} (CONNACK Maximum QoS), not ${qos} [MQTT-3.2.2-11].`, { reasonCode: ReasonCode.QoSNotSupported });
  }
  if (retain && server.retainAvailable === 0) {
    throw new MoatError('MOAT_ERR_RETAIN_NOT_SUPPORTED', 'publish(): the server does not support retained messages (CONNACK Retain Available 0) [MQTT-3.2.2-14].', { reasonCode: ReasonCode.RetainNotSupported });
  }
  const packet: PublishPacket = { type: 'publish', topic, payload: body, qos, retain, dup: false };
  if (qos > 0) packet.packetId = 1;
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

/** The subscription list for `subscribe(filters, options)`: one entry per filter, same options. */
export function subscriptions(filters: readonly string[], options: SubscribeOptions, version: ProtocolVersion): Subscription[] {
  const { qos = 0, noLocal = false, retainAsPublished = false, retainHandling = 0 } = options;
  if (qos !== 0 && qos !== 1 && qos !== 2) throw invalid(`subscribe(): qos must be 0, 1 or 2, got ${String(qos)}.`);
  if (retainHandling !== 0 && retainHandling !== 1 && retainHandling !== 2) {
    throw invalid(`subscribe(): retainHandling must be 0, 1 or 2, got ${String(retainHandling)}.`);
  }
  if (version !== 5 && (noLocal || retainAsPublished || retainHandling !== 0)) {
    throw invalid('subscribe(): noLocal, retainAsPublished and retainHandling need MQTT 5 (protocolVersion 5).');
  }
  if (noLocal && filters.some((filter) => filter.startsWith('$share/'))) {
    throw invalid('subscribe(): noLocal cannot be used on a shared subscription [MQTT-3.8.3-4].');
  }
  return filters.map((filter) => ({ filter, qos, noLocal, retainAsPublished, retainHandling }));
}

/** `filters` as a checked, non-empty array of valid topic filters. */
export function filterList(what: string, filters: string | readonly string[]): string[] {
  const list = typeof filters === 'string' ? [filters] : Array.isArray(filters) ? [...filters] : [];
  if (list.length === 0) throw invalid(`${what}(): give a topic filter or a non-empty array of them.`);
  for (const filter of list) {
    const problem = typeof filter === 'string' ? validateTopicFilter(filter) : 'a topic filter must be a string';
    if (problem !== undefined) throw new MoatError('MOAT_ERR_INVALID_TOPIC', `${what}(): ${problem}.`);
  }
  return list;
}
