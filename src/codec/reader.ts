// A cursor over one packet's body, reused for every packet a Parser decodes (no per-packet
// allocation). Reads throw ProtocolError; the Parser catches once per packet and reports it.
import { ProtocolError } from './errors.js';
import { decodeMqttString } from './utf8.js';

export const MALFORMED = 0x81;
export const PROTOCOL_ERROR = 0x82;

const EMPTY = Buffer.alloc(0);

export class Reader {
  buf: Buffer = EMPTY;
  pos = 0;
  end = 0;
  /** Packet type name, for error messages. */
  packetType = '';

  reset(buf: Buffer, pos: number, end: number, packetType: string): void {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    this.packetType = packetType;
  }

  fail(reasonCode: number, message: string): never {
    throw new ProtocolError(reasonCode, message, this.packetType);
  }

  remaining(): number {
    return this.end - this.pos;
  }

  #need(n: number, what: string): void {
    if (this.end - this.pos < n) this.fail(MALFORMED, `${this.packetType.toUpperCase()} ends inside the ${what}.`);
  }

  byte(what: string): number {
    this.#need(1, what);
    return this.buf[this.pos++] as number;
  }

  u16(what: string): number {
    this.#need(2, what);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(what: string): number {
    this.#need(4, what);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** Variable Byte Integer: at most 4 bytes; non-minimal encodings are accepted. */
  varint(what: string): number {
    let value = 0;
    let mul = 1;
    for (let i = 0; i < 4; i++) {
      const b = this.byte(what);
      value += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return value;
      mul *= 128;
    }
    return this.fail(MALFORMED, `The ${what} is a variable byte integer longer than 4 bytes.`);
  }

  /** Two-byte length + MQTT UTF-8 string [MQTT-1.5.3-1] [MQTT-1.5.3-2]. */
  string(what: string): string {
    const len = this.u16(`${what} length`);
    this.#need(len, what);
    const start = this.pos;
    const s = decodeMqttString(this.buf, start, start + len);
    if (s === undefined) this.fail(MALFORMED, `The ${what} is not valid UTF-8, or contains U+0000.`);
    this.pos = start + len;
    return s;
  }

  /** Two-byte length + bytes, as a zero-copy slice. */
  binary(what: string): Buffer {
    const len = this.u16(`${what} length`);
    this.#need(len, what);
    const start = this.pos;
    this.pos = start + len;
    return this.buf.subarray(start, start + len);
  }

  /** Everything up to the end of the packet, as a zero-copy slice. */
  rest(): Buffer {
    const start = this.pos;
    this.pos = this.end;
    return this.buf.subarray(start, this.end);
  }

  /** [MQTT-2.2.1-3] / [MQTT-2.3.1-1]: non-zero packet identifier. */
  packetId(protocolError: number): number {
    const id = this.u16('packet identifier');
    if (id === 0) this.fail(protocolError, `${this.packetType.toUpperCase()} has packet identifier 0, which is not allowed.`);
    return id;
  }

  /** Rejects bytes left over after a packet with no open-ended payload. */
  done(): void {
    if (this.pos !== this.end) {
      this.fail(MALFORMED, `${this.packetType.toUpperCase()} has ${this.end - this.pos} unexpected trailing byte(s).`);
    }
  }
}
