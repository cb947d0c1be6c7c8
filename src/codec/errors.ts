// The error family every moat module uses. It lives in codec/ because codec imports nothing of ours.

export interface MoatErrorOptions {
  reasonCode?: number;
  cause?: unknown;
}

/** Base error: a stable `code` string (MOAT_ERR_*), and the MQTT reason code where the protocol has one. */
export class MoatError extends Error {
  readonly code: string;
  readonly reasonCode: number | undefined;

  constructor(code: string, message: string, options: MoatErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MoatError';
    this.code = code;
    this.reasonCode = options.reasonCode;
  }
}

/**
 * The peer sent bytes that break the protocol. `reasonCode` is what a 5.0 DISCONNECT (or CONNACK,
 * when the CONNECT itself is bad) should carry: 0x81 malformed, 0x82 protocol error,
 * 0x84 unsupported protocol version, 0x95 packet too large, ...
 */
export class ProtocolError extends MoatError {
  /** The packet type being decoded when the error was found, if known. */
  readonly packetType: string | undefined;

  constructor(reasonCode: number, message: string, packetType?: string) {
    super(codeFor(reasonCode), message, { reasonCode });
    this.name = 'ProtocolError';
    this.packetType = packetType;
  }
}

function codeFor(reasonCode: number): string {
  switch (reasonCode) {
    case 0x81:
      return 'MOAT_ERR_MALFORMED_PACKET';
    case 0x84:
      return 'MOAT_ERR_UNSUPPORTED_PROTOCOL_VERSION';
    case 0x95:
      return 'MOAT_ERR_PACKET_TOO_LARGE';
    default:
      return 'MOAT_ERR_PROTOCOL';
  }
}
