// DISCONNECT from the client: a clean goodbye discards the will unless 0x04 asks for it [MQTT-3.14.4-3].
import { ProtocolError } from '../../codec/errors.js';
import { ReasonCode } from '../../codec/reason-codes.js';
import type { DisconnectPacket } from '../../codec/types.js';
import type { Connection } from '../connection.js';

export function handleDisconnect(connection: Connection, packet: DisconnectPacket): void {
  const session = connection.session;
  const requestedExpiry = packet.properties?.sessionExpiryInterval;
  if (requestedExpiry !== undefined && session !== undefined) {
    if (connection.connectSessionExpiry === 0 && requestedExpiry !== 0) {
      throw new ProtocolError(ReasonCode.ProtocolError, 'DISCONNECT may not set a Session Expiry Interval when CONNECT had 0 [MQTT-3.14.2-2]', 'disconnect');
    }
    session.expiryInterval = connection.broker.capSessionExpiry(requestedExpiry);
  }
  connection.graceful = (packet.reasonCode ?? ReasonCode.NormalDisconnection) !== ReasonCode.DisconnectWithWillMessage;
  connection.closeAfterDisconnect();
}
