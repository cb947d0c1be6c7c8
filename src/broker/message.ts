// A message as the router sees it: version-neutral, encoded per wire shape only when sent.
import type { AccessControl } from '../auth/access-control.js';
import type { AclSubject } from '../auth/acl-file.js';
import type { Properties, ProtocolVersion, QoS } from '../codec/types.js';
import type { StoredMessage } from '../store/store.js';

/** Whose rules a client's actions are judged by: its listener's ACL and who it logged in as. */
export interface Access {
  readonly control: AccessControl;
  readonly subject: AclSubject;
}

/**
 * The stored fields (topic, payload, QoS, retain, the properties forwarded unaltered to v5
 * subscribers [MQTT-3.3.2-*], absolute expiry, the publisher's client id for No Local) and what
 * only this process needs on the way through.
 */
export interface Message extends StoredMessage {
  /**
   * The PUBLISH exactly as received, when it can be forwarded byte for byte to subscribers of the
   * same protocol version, QoS and retain flag (not DUP, no v5 properties): no re-encoding.
   */
  readonly wire?: Buffer | undefined;
  readonly wireVersion?: ProtocolVersion | undefined;
  /** The publisher's access, kept with retained messages for check_retain_source; undefined = no ACL. */
  readonly source?: Access | undefined;
}

/**
 * Whether a retained message may still go to a new subscriber: its publisher must still be allowed
 * to write the topic (check_retain_source, Mosquitto's default), so revoking write access also
 * withdraws what was retained under it.
 */
export function retainedSourceAllowed(message: Message): boolean {
  const source = message.source;
  return source === undefined || source.control.allows(source.subject, 'write', message.topic);
}

/** Seconds left before `message` expires (rounded up), or undefined when it has no expiry; <= 0 means expired. */
export function remainingExpiry(message: Message, now: number): number | undefined {
  if (message.expiresAt === 0) return undefined;
  return Math.ceil((message.expiresAt - now) / 1000);
}

const FORWARDED = ['payloadFormatIndicator', 'contentType', 'responseTopic', 'correlationData', 'userProperties'] as const;

/** The subset of a PUBLISH's properties that travel with the message to subscribers. */
export function forwardedProperties(properties: Properties | undefined): Properties | undefined {
  if (properties === undefined) return undefined;
  let out: Properties | undefined;
  for (const key of FORWARDED) {
    const value = properties[key];
    if (value !== undefined) {
      out ??= {};
      (out as Record<string, unknown>)[key] = value;
    }
  }
  return out;
}

/** How the broker publishes on its own behalf ($SYS, embedders): QoS 0 and not retained unless said. */
export interface PublishOptions {
  readonly qos?: QoS;
  readonly retain?: boolean;
  /** v5 properties forwarded to subscribers (content type, user properties, ...). */
  readonly properties?: Properties;
  /** Message Expiry Interval, seconds. */
  readonly expirySeconds?: number;
}

/** A message the broker publishes itself (origin '', so No Local never hides it). */
export function brokerMessage(topic: string, payload: Buffer | string, options: PublishOptions = {}): Message {
  return {
    topic,
    payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
    qos: options.qos ?? 0,
    retain: options.retain ?? false,
    properties: options.properties,
    expiresAt: options.expirySeconds === undefined ? 0 : Date.now() + options.expirySeconds * 1000,
    origin: '',
  };
}
