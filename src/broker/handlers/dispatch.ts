// The one place that maps a packet to its handler, and enforces CONNECT-first [MQTT-3.1.0-1].
import { ProtocolError } from '../../codec/errors.js';
import { ReasonCode } from '../../codec/reason-codes.js';
import type { Packet } from '../../codec/types.js';
import type { Connection } from '../connection.js';
import { handleConnect } from './connect.js';
import { handleDisconnect } from './disconnect.js';
import { handlePuback, handlePubcomp, handlePublish, handlePubrec, handlePubrel } from './publish.js';
import { handleSubscribe } from './subscribe.js';
import { handleUnsubscribe } from './unsubscribe.js';

/** PINGRESP is the same two bytes in every version: one shared Buffer, nothing allocated per PINGREQ. */
const PINGRESP = Buffer.from([0xd0, 0x00]);

export function dispatch(connection: Connection, packet: Packet): void {
  if (packet.type === 'connect') {
    handleConnect(connection, packet);
    return;
  }
  if (connection.state !== 'connected') {
    throw new ProtocolError(ReasonCode.ProtocolError, `${packet.type.toUpperCase()} before CONNECT: the first packet must be CONNECT [MQTT-3.1.0-1]`, packet.type);
  }
  switch (packet.type) {
    case 'publish':
      handlePublish(connection, packet);
      return;
    case 'puback':
      handlePuback(connection, packet);
      return;
    case 'pubrec':
      handlePubrec(connection, packet);
      return;
    case 'pubrel':
      handlePubrel(connection, packet);
      return;
    case 'pubcomp':
      handlePubcomp(connection, packet);
      return;
    case 'subscribe':
      handleSubscribe(connection, packet);
      return;
    case 'unsubscribe':
      handleUnsubscribe(connection, packet);
      return;
    case 'pingreq':
      connection.write(PINGRESP);
      return;
    case 'disconnect':
      handleDisconnect(connection, packet);
      return;
    case 'auth':
      // No enhanced authentication method is offered, so a client may never send AUTH [MQTT-4.12.0-1].
      throw new ProtocolError(ReasonCode.ProtocolError, 'AUTH received but no authentication method was agreed', 'auth');
    default:
      throw new ProtocolError(ReasonCode.ProtocolError, `${packet.type.toUpperCase()} is not sent by clients`, packet.type);
  }
}
