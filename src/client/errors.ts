// Errors the client reports. MqttError is an MQTT-level failure that carries the server's reason
// code (a refused CONNACK, a PUBACK/PUBREC failure); everything else is a plain MoatError with a
// stable code: MOAT_ERR_CONNECT, MOAT_ERR_CONNECT_TIMEOUT, MOAT_ERR_CONNECTION_CLOSED, ...
import { MoatError, type ErrorCode, type MoatErrorOptions } from '../codec/errors.js';
import { formatReason } from '../codec/reason-codes.js';
import type { PacketTypeName, Properties, ProtocolVersion } from '../codec/types.js';
import type { TransportStage } from './transport.js';

/**
 * The server answered with a failure reason code. `code` names the packet (MOAT_ERR_CONNACK,
 * MOAT_ERR_PUBACK, MOAT_ERR_PUBREC, ...), `reasonCode` is the code the server sent, and the message
 * is the reason code's name and meaning from the codec's table (plus the server's reason string).
 */
/** The code of an MqttError for a failure reason code in each packet the client acts on. */
const REASON_ERROR_CODES = {
  connack: 'MOAT_ERR_CONNACK',
  puback: 'MOAT_ERR_PUBACK',
  pubrec: 'MOAT_ERR_PUBREC',
} as const satisfies Partial<Record<PacketTypeName, ErrorCode>>;

export class MqttError extends MoatError {
  constructor(code: ErrorCode, message: string, options: MoatErrorOptions = {}) {
    super(code, message, options);
    this.name = 'MqttError';
  }

  /** An MqttError for `reasonCode` received in `packet`, worded by the reason-code table. */
  static fromReason(packet: keyof typeof REASON_ERROR_CODES, reasonCode: number, protocolVersion: ProtocolVersion, properties?: Properties): MqttError {
    let message = formatReason(reasonCode, { packet, protocolVersion });
    const reasonString = properties?.reasonString;
    if (reasonString !== undefined && reasonString !== '') message += ` (server says: ${reasonString})`;
    return new MqttError(REASON_ERROR_CODES[packet], message, { reasonCode });
  }
}

/**
 * connect() gave up waiting: says which step hung. `stage` is the transport's stage ('tcp', 'tls',
 * 'websocket', or 'open' = waiting for CONNACK); a boolean means TCP connected (true) or not (false).
 */
export function connectTimeoutError(host: string, port: number, ms: number, stage: boolean | TransportStage): MoatError {
  const step = stage === true ? 'open' : stage === false ? 'tcp' : stage;
  const within = `within ${ms} ms (connectTimeoutMs)`;
  const messages: Record<TransportStage, string> = {
    tcp: `Connect timed out: could not open a TCP connection to ${host}:${port} ${within}. Check the host, the port and any firewall.`,
    tls: `Connect timed out: the TCP connection to ${host}:${port} opened, but the TLS handshake did not finish ${within}. Is that a TLS port? A slow device or link may need a larger connectTimeoutMs.`,
    websocket: `Connect timed out: the WebSocket handshake (TCP, TLS for wss://, HTTP upgrade) with ${host}:${port} did not finish ${within}. Check the host, the port and the path.`,
    open: `Connect timed out: the TCP connection to ${host}:${port} opened, but no CONNACK came ${within}. Is an MQTT broker listening on that port?`,
  };
  return new MoatError('MOAT_ERR_CONNECT_TIMEOUT', messages[step]);
}

/** Hints for TLS failures by OpenSSL/Node error code. */
const TLS_HINTS: Readonly<Record<string, string>> = {
  SELF_SIGNED_CERT_IN_CHAIN: "The server's certificate is not signed by a CA this client trusts: pass the CA that signed it as tls.ca (PEM).",
  DEPTH_ZERO_SELF_SIGNED_CERT: "The server's certificate is self-signed: pass it (or its CA) as tls.ca (PEM).",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "The server's certificate is not signed by a CA this client trusts: pass the CA that signed it as tls.ca (PEM).",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "The server's certificate is not signed by a CA this client trusts: pass the CA that signed it as tls.ca (PEM).",
  ERR_TLS_CERT_ALTNAME_INVALID: "The server's certificate is not valid for this host name: connect by a name it lists, or set tls.servername.",
  CERT_HAS_EXPIRED: "The server's certificate has expired.",
};

/** The socket failed before CONNACK (ECONNREFUSED, EHOSTUNREACH, ...). */
export function connectError(url: string, error: Error): MoatError {
  const code = (error as NodeJS.ErrnoException).code;
  const tlsHint = code === undefined ? undefined : TLS_HINTS[code];
  const hint = code === 'ECONNREFUSED' ? ' Is the broker running, and on that port?' : tlsHint === undefined ? '' : ` ${tlsHint}`;
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
