// The incremental MQTT parser: bytes in, Packet objects out, any chunking.
//
// Hot-path choices: a packet whose body sits whole in one chunk is decoded in place (no copy, the
// payload is a subarray of the chunk); a packet split across reads is kept as a list of slices and
// concatenated once, when complete (no quadratic re-buffering). The fixed header and remaining
// length are read byte by byte (at most 5 bytes), so limits are enforced before any body is
// buffered. One Reader is reused for every packet; decoders throw ProtocolError and one try/catch
// per packet turns that into onError.
//
// Zero-copy caveat: decoded payloads/binary fields reference the pushed chunks. Callers must not
// reuse a chunk's memory after push (net.Socket never does), and whoever keeps a payload for long
// (retained store, queues) may copy it to avoid pinning a whole socket read buffer.
import { decodeBody } from './decode.js';
import { MoatError, ProtocolError } from './errors.js';
import { MALFORMED, PROTOCOL_ERROR, Reader } from './reader.js';
import type { Packet, PacketTypeName, ProtocolVersion } from './types.js';

export interface ParserHandler {
  onPacket(packet: Packet): void;
  onError(error: ProtocolError): void;
}

export interface ParserOptions {
  /** Largest whole packet (fixed header + remaining length) accepted, bytes. Default 268435460. */
  maxPacketSize?: number;
  /** Known version (client side sets it; server side learns it from CONNECT). */
  protocolVersion?: ProtocolVersion;
  /**
   * Which direction's packets are legal: 'server' receives CONNECT/PUBLISH/PUBACK/PUBREC/PUBREL/
   * PUBCOMP/SUBSCRIBE/UNSUBSCRIBE/PINGREQ/DISCONNECT/AUTH; 'client' receives CONNACK/PUBLISH/acks/
   * SUBACK/UNSUBACK/PINGRESP/DISCONNECT/AUTH; 'any' (default) both.
   */
  side?: 'server' | 'client' | 'any';
}

/** 1 + 4 + 268435455: the largest packet MQTT can express. */
export const MAX_PACKET_SIZE = 268435460;

const TYPE_NAMES: readonly (PacketTypeName | 'reserved')[] = [
  'reserved',
  'connect',
  'connack',
  'publish',
  'puback',
  'pubrec',
  'pubrel',
  'pubcomp',
  'subscribe',
  'suback',
  'unsubscribe',
  'unsuback',
  'pingreq',
  'pingresp',
  'disconnect',
  'auth',
];

function maskOf(types: number[]): number {
  let m = 0;
  for (const t of types) m |= 1 << t;
  return m;
}
/** Place values of the remaining length's bytes: 128^0 .. 128^3. */
const LENGTH_MULTIPLIERS = [1, 128, 16384, 2097152] as const;

const SIDE_MASK = {
  server: maskOf([1, 3, 4, 5, 6, 7, 8, 10, 12, 14, 15]),
  client: maskOf([2, 3, 4, 5, 6, 7, 9, 11, 13, 14, 15]),
  any: 0xfffe,
} as const;

const HEADER = 0;
const LENGTH = 1;
const BODY = 2;

const EMPTY = Buffer.alloc(0);

// One Reader for every parser: a body is decoded synchronously and the reader is released before
// onPacket runs, so parsers never share it at the same time, and idle connections save its memory.
const READER = new Reader();

export class Parser {
  /** Version used to decode; set from the first CONNECT when undefined. Undefined decodes as 3.1.1. */
  protocolVersion: ProtocolVersion | undefined;
  maxPacketSize: number;

  readonly #handler: ParserHandler;
  /** Which packet types this side receives (SIDE_MASK); the side's name is derived from it for messages. */
  readonly #sideMask: number;
  #failed = false;
  #state = HEADER;
  /** Fixed header byte of the packet being read. */
  #header = 0;
  #length = 0;
  /** Remaining-length bytes read so far: the next one's place value is LENGTH_MULTIPLIERS[#lengthBytes]. */
  #lengthBytes = 0;
  /** Offset of the current packet's first byte in the chunk being pushed, or -1 if it began in an earlier chunk. */
  #packetStart = -1;
  /** Where the packet being delivered to onPacket sits, when it arrived in one chunk (sliced only if asked). */
  #currentChunk: Buffer | undefined;
  #currentStart = 0;
  #currentEnd = 0;
  /** Slices of a body split across reads, and their total size. */
  #chunks: Buffer[] | undefined;
  #have = 0;
  /** Size of the packet being delivered (fixed header included). */
  #packetSize = 0;
  /** Set by pause(): stop after the packet being delivered and keep the rest for resume(). */
  #paused = false;
  /** Unparsed bytes kept while paused; they start at a packet boundary. */
  #held: Buffer | undefined;

  constructor(handler: ParserHandler, options: ParserOptions = {}) {
    const { maxPacketSize = MAX_PACKET_SIZE, protocolVersion, side = 'any' } = options;
    if (!Number.isInteger(maxPacketSize) || maxPacketSize < 2) {
      throw new MoatError('MOAT_ERR_INVALID_OPTION', `Parser option maxPacketSize must be an integer >= 2, got ${String(maxPacketSize)}.`);
    }
    if (protocolVersion !== undefined && protocolVersion !== 3 && protocolVersion !== 4 && protocolVersion !== 5) {
      throw new MoatError('MOAT_ERR_INVALID_OPTION', `Parser option protocolVersion must be 3, 4 or 5, got ${String(protocolVersion)}.`);
    }
    if (side !== 'server' && side !== 'client' && side !== 'any') {
      throw new MoatError('MOAT_ERR_INVALID_OPTION', `Parser option side must be 'server', 'client' or 'any', got ${String(side)}.`);
    }
    this.#handler = handler;
    this.maxPacketSize = maxPacketSize;
    this.protocolVersion = protocolVersion;
    this.#sideMask = SIDE_MASK[side];
  }

  /**
   * During onPacket: the packet's exact bytes as received (a slice of the pushed chunk), when the
   * whole packet arrived in one chunk; otherwise undefined. Lets a broker forward a PUBLISH without
   * encoding it again. Valid only until onPacket returns.
   */
  get currentPacketBytes(): Buffer | undefined {
    return this.#currentChunk?.subarray(this.#currentStart, this.#currentEnd);
  }

  /** During onPacket: the whole packet's size in bytes, fixed header included. */
  get packetSize(): number {
    return this.#packetSize;
  }

  /**
   * Stops parsing after the packet being delivered (or before the next push): the rest of the chunk
   * is kept, uncopied, until resume(). Lets a handler bound its work per event-loop turn or wait
   * for something (a password check) without buffering decoded packets.
   */
  pause(): void {
    this.#paused = true;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /**
   * Between packets with nothing kept: not paused or failed, no partial packet, no held bytes. A
   * parser at rest holds no state but its settings, so an owner may drop it and make a new one.
   */
  get atRest(): boolean {
    return this.#state === HEADER && !this.#paused && !this.#failed && this.#held === undefined && this.#chunks === undefined;
  }

  /** Bytes held by pause(), not yet parsed. */
  get heldBytes(): number {
    return this.#held?.length ?? 0;
  }

  /** Parses what pause() held back, then goes on accepting pushes. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    const held = this.#held;
    this.#held = undefined;
    if (held !== undefined) this.push(held);
  }

  /** Forgets held bytes and ignores all further input (the connection is being closed). */
  discard(): void {
    this.#failed = true;
    this.#held = undefined;
    this.#chunks = undefined;
    this.#have = 0;
  }

  /** True after the first error (or a handler exception): all further input is ignored. */
  get failed(): boolean {
    return this.#failed;
  }

  /**
   * Feeds bytes; calls onPacket for each complete packet, then at most one onError. Not re-entrant:
   * do not call push from inside onPacket.
   */
  push(chunk: Buffer): void {
    if (this.#failed) return;
    if (this.#paused) {
      // A stream may deliver one more chunk after being paused: keep it behind the held bytes.
      this.#held = this.#held === undefined ? chunk : Buffer.concat([this.#held, chunk]);
      return;
    }
    const n = chunk.length;
    let pos = 0;
    this.#packetStart = -1;
    while (pos < n) {
      if (this.#state === HEADER) {
        this.#packetStart = pos;
        const b = chunk[pos++] as number;
        if (!this.#checkHeader(b)) return;
        this.#header = b;
        this.#length = 0;
        this.#lengthBytes = 0;
        this.#state = LENGTH;
      } else if (this.#state === LENGTH) {
        const b = chunk[pos++] as number;
        this.#length += (b & 0x7f) * (LENGTH_MULTIPLIERS[this.#lengthBytes] as number);
        this.#lengthBytes++;
        if ((b & 0x80) !== 0) {
          if (this.#lengthBytes === 4) {
            this.#fail(MALFORMED, 'The remaining length is a variable byte integer longer than 4 bytes.');
            return;
          }
          continue;
        }
        // Enforced before the body is buffered: a huge announced length costs nothing.
        const total = 1 + this.#lengthBytes + this.#length;
        this.#packetSize = total;
        if (total > this.maxPacketSize) {
          this.#fail(0x95, `${this.#typeName().toUpperCase()} of ${total} bytes exceeds the maximum packet size of ${this.maxPacketSize} bytes.`);
          return;
        }
        if (this.#length === 0) {
          this.#state = HEADER;
          if (!this.#decode(EMPTY, 0, 0)) return;
          if (this.#paused) return this.#hold(chunk, pos);
        } else {
          this.#state = BODY;
        }
      } else {
        const length = this.#length;
        const avail = n - pos;
        if (this.#have === 0 && avail >= length) {
          // Whole body in this chunk: decode in place.
          const start = pos;
          pos += length;
          this.#state = HEADER;
          if (this.#packetStart >= 0) {
            this.#currentChunk = chunk;
            this.#currentStart = this.#packetStart;
            this.#currentEnd = pos;
          }
          if (!this.#decode(chunk, start, pos)) return;
          if (this.#paused) return this.#hold(chunk, pos);
        } else {
          const need = length - this.#have;
          if (avail < need) {
            (this.#chunks ??= []).push(pos === 0 ? chunk : chunk.subarray(pos));
            this.#have += avail;
            return;
          }
          const chunks = this.#chunks ?? [];
          chunks.push(chunk.subarray(pos, pos + need));
          pos += need;
          const body = Buffer.concat(chunks, length);
          this.#chunks = undefined;
          this.#have = 0;
          this.#state = HEADER;
          if (!this.#decode(body, 0, length)) return;
          if (this.#paused) return this.#hold(chunk, pos);
        }
      }
    }
  }

  /** Keeps chunk[pos..] for resume(): it starts at a packet boundary. */
  #hold(chunk: Buffer, pos: number): void {
    if (pos < chunk.length) this.#held = pos === 0 ? chunk : chunk.subarray(pos);
  }

  #typeName(): string {
    return TYPE_NAMES[this.#header >> 4] as string;
  }

  /** Fixed header byte checks, done before reading the length. */
  #checkHeader(b: number): boolean {
    const type = b >> 4;
    const flags = b & 0x0f;
    const name = TYPE_NAMES[type] as string;
    this.#header = b;
    if (type === 0) return this.#fail(MALFORMED, 'Packet type 0 is reserved.');
    if (type === 15 && (this.protocolVersion ?? 4) < 5) return this.#fail(MALFORMED, 'AUTH exists only in MQTT 5.0.');
    if ((this.#sideMask & (1 << type)) === 0) {
      const side = this.#sideMask === SIDE_MASK.server ? 'server' : 'client';
      return this.#fail(PROTOCOL_ERROR, `A ${side} must not receive ${name.toUpperCase()}.`);
    }
    if (type === 3) {
      const qos = (flags >> 1) & 0x03;
      if (qos === 3) return this.#fail(MALFORMED, 'PUBLISH has QoS 3 [MQTT-3.3.1-4].');
      if (qos === 0 && (flags & 0x08) !== 0) return this.#fail(MALFORMED, 'PUBLISH has DUP set with QoS 0 [MQTT-3.3.1-2].');
    } else if (type === 6 || type === 8 || type === 10) {
      // MQTT 3.1 gave these QoS 1 in the header and set DUP on a resend; 3.1 clients still do.
      const allowed = this.protocolVersion === 3 ? (flags & ~0x08) === 0x02 : flags === 0x02;
      if (!allowed) return this.#fail(MALFORMED, `${name.toUpperCase()} fixed header flags must be 0010 [MQTT-2.2.2-2].`);
    } else if (flags !== 0) {
      return this.#fail(MALFORMED, `${name.toUpperCase()} fixed header flags must be 0000 [MQTT-2.2.2-2].`);
    }
    return true;
  }

  /** Decodes one body and emits it; false when the parser failed. */
  #decode(buf: Buffer, start: number, end: number): boolean {
    const header = this.#header;
    const type = header >> 4;
    const r = READER;
    r.reset(buf, start, end, TYPE_NAMES[type] as string);
    let packet: Packet;
    try {
      packet = decodeBody(r, type, header & 0x0f, this.protocolVersion ?? 4);
    } catch (err) {
      this.#currentChunk = undefined;
      if (err instanceof ProtocolError) {
        this.#failWith(err);
      } else {
        // A decoder bug must not escape as an exception out of a socket handler.
        this.#failWith(new ProtocolError(MALFORMED, `Undecodable ${TYPE_NAMES[type] as string}: ${String(err)}`, TYPE_NAMES[type]));
      }
      return false;
    }
    r.buf = EMPTY; // do not pin the last chunk through the reader
    if (packet.type === 'connect' && this.protocolVersion === undefined) this.protocolVersion = packet.protocolVersion;
    // If the handler throws, the exception propagates, but the rest of this chunk is lost and the
    // stream is out of sync: stay failed.
    let delivered = false;
    try {
      this.#handler.onPacket(packet);
      delivered = true;
    } finally {
      this.#currentChunk = undefined;
      if (!delivered) this.#failed = true;
    }
    return true;
  }

  #fail(reasonCode: number, message: string): false {
    return this.#failWith(new ProtocolError(reasonCode, message, this.#typeName()));
  }

  #failWith(err: ProtocolError): false {
    this.#failed = true;
    this.#chunks = undefined;
    this.#have = 0;
    this.#held = undefined;
    READER.buf = EMPTY;
    this.#handler.onError(err);
    return false;
  }
}
