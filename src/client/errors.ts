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

/** connect() gave up waiting: says whether TCP or the CONNACK was the step that hung. */
export function connectTimeoutError(host: string, port: number, ms: number, tcpConnected: boolean): MoatError {
  const message = tcpConnected
    ? `Connect timed out: the TCP connection to ${host}:${port} opened, but no CONNACK came within ${ms} ms (connectTimeoutMs). Is an MQTT broker listening on that port?`
    : `Connect timed out: could not open a TCP connection to ${host}:${port} within ${ms} ms (connectTimeoutMs). Check the host, the port and any firewall.`;
  return new MoatError('MOAT_ERR_CONNECT_TIMEOUT', message);
}

/** The socket failed before CONNACK (ECONNREFUSED, EHOSTUNREACH, ...). */
export function connectError(url: string, error: Error): MoatError {
  const hint = (error as NodeJS.ErrnoException).code === 'ECONNREFUSED' ? ' Is the broker running, and on that port?' : '';
  return new MoatError('MOAT_ERR_CONNECT', `Could not connect to ${url}: ${error.message}.${hint}`, { cause: error });
}

/** Runs a user callback; an exception is rethrown outside the packet flow, so protocol state stays intact. */
export function callUser<T>(handler: (value: T) => void, value: T): void {
  try {
    handler(value);
  } catch (error) {
    process.nextTick(() => {
      throw error;
    });
  }
}
