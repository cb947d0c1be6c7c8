// UNSUBSCRIBE: remove each filter; v5 reports per filter whether a subscription existed [MQTT-3.11.3].
import { ProtocolError } from '../../codec/errors.js';
import { ReasonCode } from '../../codec/reason-codes.js';
import type { UnsubscribePacket } from '../../codec/types.js';
import { validateTopicFilter } from '../../topic/validate.js';
import type { Connection } from '../connection.js';

export function handleUnsubscribe(connection: Connection, packet: UnsubscribePacket): void {
  const session = connection.session;
  if (session === undefined) return;
  for (const filter of packet.filters) {
    const problem = validateTopicFilter(filter);
    if (problem !== undefined) throw new ProtocolError(ReasonCode.MalformedPacket, `invalid topic filter "${filter}": ${problem}`, 'unsubscribe');
  }
  const reasonCodes: number[] = [];
  for (const filter of packet.filters) {
    const stored = connection.brokerFilter(filter);
    const existed = connection.broker.unsubscribe(session, stored);
    reasonCodes.push(existed ? ReasonCode.Success : ReasonCode.NoSubscriptionExisted);
  }
  connection.writePacket({ type: 'unsuback', packetId: packet.packetId, reasonCodes: connection.protocolVersion === 5 ? reasonCodes : [] });
}
