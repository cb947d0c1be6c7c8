// Splits a TCP byte stream into whole MQTT frames without decoding them. The load generator counts
// hundreds of thousands of PUBLISH per second; walking only fixed headers keeps its CPU low so it is
// never the bottleneck. Frames split across reads are carried over as a list of slices and joined
// once, when enough bytes have arrived (no quadratic re-buffering for large payloads).
import { MoatError } from '../codec/errors.js';

/** Called per whole frame: `buf[start]` is the fixed header byte, the body is `buf[body, end)`. */
export type FrameHandler = (buf: Buffer, start: number, body: number, end: number) => void;

export class FrameScanner {
  readonly #onFrame: FrameHandler;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Bytes needed before the carried-over frame is complete; 0 = unknown (header itself was split). */
  #needed = 0;

  constructor(onFrame: FrameHandler) {
    this.#onFrame = onFrame;
  }

  /** Feeds one read; throws on a remaining length longer than 4 bytes (a broken stream). */
  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.#pendingBytes > 0) {
      this.#pending.push(chunk);
      this.#pendingBytes += chunk.length;
      if (this.#needed > 0 && this.#pendingBytes < this.#needed) return;
      buf = Buffer.concat(this.#pending, this.#pendingBytes);
      this.#pending = [];
      this.#pendingBytes = 0;
    }
    const n = buf.length;
    let pos = 0;
    this.#needed = 0;
    while (pos < n) {
      let i = pos + 1;
      let length = 0;
      let multiplier = 1;
      let complete = false;
      for (let k = 0; k < 4 && i < n; k++) {
        const b = buf[i++] as number;
        length += (b & 0x7f) * multiplier;
        multiplier *= 128;
        if ((b & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete) {
        if (i - pos >= 5) throw new MoatError('MOAT_ERR_MALFORMED_PACKET', 'malformed remaining length from broker');
        break; // header split across reads
      }
      const end = i + length;
      if (end > n) {
        this.#needed = end - pos;
        break;
      }
      this.#onFrame(buf, pos, i, end);
      pos = end;
    }
    if (pos < n) {
      // Copy the tail only when it is small; a big partial frame keeps referencing the read buffer.
      const tail = buf.subarray(pos);
      this.#pending.push(tail.length < 256 ? Buffer.from(tail) : tail);
      this.#pendingBytes = tail.length;
    }
  }
}
