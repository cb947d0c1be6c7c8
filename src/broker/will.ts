// Wills: what a CONNECT's will must be to be accepted, the delay before it is sent, and the
// message it becomes. The life cycle around them (stored at CONNECT, started when the connection
// is lost, cancelled by a new connection to the client id [MQTT-3.1.2-8], sent at once when the
// session ends first [MQTT-3.1.3-9]) is Broker's: openSession, #detach and #endSession.
import type { Will } from '../codec/types.js';
import { checkTopicDepth, validateTopicName } from '../topic/validate.js';
import { forwardedProperties, type Access, type Message } from './message.js';

/** Why the will cannot be published as given, or undefined when it can. */
export function checkWill(will: Will, maxTopicLevels: number): string | undefined {
  const problem = validateTopicName(will.topic) ?? checkTopicDepth(will.topic, maxTopicLevels, 'will topic');
  if (problem !== undefined) return `will topic refused: ${problem}`;
  const responseTopic = will.properties?.responseTopic;
  if (responseTopic !== undefined && validateTopicName(responseTopic) !== undefined) {
    return `will Response Topic ${JSON.stringify(responseTopic)} is not a valid topic name (no wildcards, not empty), as in a PUBLISH [MQTT-3.3.2-14]`;
  }
  return undefined;
}

/** Seconds to wait before sending the will: its Will Delay Interval, but never past the session's end [MQTT-3.1.3-9]. */
export function willDelay(will: Will, sessionExpiryInterval: number): number {
  return Math.min(will.properties?.willDelayInterval ?? 0, sessionExpiryInterval);
}

/** The message a will becomes, published on the client's behalf with its access. */
export function willMessage(clientId: string, will: Will, source: Access | undefined): Message {
  const expiry = will.properties?.messageExpiryInterval;
  return {
    topic: will.topic,
    payload: will.payload,
    qos: will.qos,
    retain: will.retain,
    properties: forwardedProperties(will.properties),
    expiresAt: expiry === undefined ? 0 : Date.now() + expiry * 1000,
    origin: clientId,
    source,
  };
}
