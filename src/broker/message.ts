// A message as the router sees it: version-neutral, encoded per wire shape only when sent.
import type { Properties, ProtocolVersion, QoS } from '../codec/types.js';

export interface Message {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
  /** Properties forwarded unaltered to v5 subscribers [MQTT-3.3.2-*]: format, content type, response topic, correlation data, user properties. */
  readonly properties: Properties | undefined;
  /** Absolute expiry (Date.now() ms), 0 = never. */
  readonly expiresAt: number;
  /** Client id of the publisher ('' for wills and $SYS), for No Local. */
  readonly origin: string;
  /**
   * The PUBLISH exactly as received, when it can be forwarded byte for byte to subscribers of the
   * same protocol version, QoS and retain flag (not DUP, no v5 properties): no re-encoding.
   */
  readonly wire?: Buffer | undefined;
  readonly wireVersion?: ProtocolVersion | undefined;
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
