// Errors the client reports. MqttError is an MQTT-level failure that carries the server's reason
// code (a refused CONNACK, a PUBACK/PUBREC failure); everything else is a plain MoatError with a
// stable code: MOAT_ERR_CONNECT, MOAT_ERR_CONNECT_TIMEOUT, MOAT_ERR_CONNECTION_CLOSED, ...
import { MoatError, type MoatErrorOptions } from '../codec/errors.js';
import { formatReason } from '../codec/reason-codes.js';
import type { PacketTypeName, Properties, ProtocolVersion } from '../codec/types.js';

/**
 * The server answered with a failure reason code. `code` names the packet (MOAT_ERR_CONNACK,
 * MOAT_ERR_PUBACK, MOAT_ERR_PUBREC, ...), `reasonCode` is the code the server sent, and the message
 * is the reason code's name and meaning from the codec's table (plus the server's reason string).
 */
export class MqttError extends MoatError {
  constructor(code: string, message: string, options: MoatErrorOptions = {}) {
    super(code, message, options);
    this.name = 'MqttError';
  }

  /** An MqttError for `reasonCode` received in `packet`, worded by the reason-code table. */
  static fromReason(packet: PacketTypeName, reasonCode: number, protocolVersion: ProtocolVersion, properties?: Properties): MqttError {
    let message = formatReason(reasonCode, { packet, protocolVersion });
    const reasonString = properties?.reasonString;
    if (reasonString !== undefined && reasonString !== '') message += ` (server says: ${reasonString})`;
    return new MqttError(`MOAT_ERR_${packet.toUpperCase()}`, message, { reasonCode });
  }
}
