// Batches a connection's writes per event-loop turn. A lone packet goes to the socket as it is; a
// second packet in the same turn starts a batch buffer that the rest are copied into, so a turn
// that routes hundreds of small PUBLISH packets to one client costs one stream.write, not hundreds
// (each Writable.write allocates and bookkeeps; a memcpy of 80 bytes is far cheaper).
import type { Duplex } from 'node:stream';

/** Packets at least this large are written directly: copying them would cost more than it saves. */
const DIRECT_BYTES = 16 * 1024;
/** Size of a batch buffer. */
const BATCH_BYTES = 64 * 1024;

export class Outbox {
  readonly #stream: Duplex;
  /** The turn's first packet, kept by reference until a second one arrives. */
  #first: Buffer | undefined;
  #batch: Buffer | undefined;
  #batchLength = 0;
  #scheduled = false;

  constructor(stream: Duplex) {
    this.#stream = stream;
  }

  /** Bytes waiting for the end of the turn plus those the socket has not sent yet. */
  get bufferedBytes(): number {
    return this.#stream.writableLength + (this.#first?.length ?? 0) + this.#batchLength;
  }

  write(bytes: Buffer): void {
    if (bytes.length >= DIRECT_BYTES) {
      this.flush();
      this.#stream.write(bytes);
      return;
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      process.nextTick(Outbox.#flushTick, this);
    }
    if (this.#first === undefined && this.#batch === undefined) {
      this.#first = bytes;
      return;
    }
    let batch = this.#batch;
    if (batch === undefined || this.#batchLength + bytes.length > batch.length) {
      this.#writeBatch();
      batch = this.#batch = Buffer.allocUnsafeSlow(BATCH_BYTES);
      const first = this.#first;
      if (first !== undefined) {
        first.copy(batch, 0);
        this.#batchLength = first.length;
        this.#first = undefined;
      }
    }
    bytes.copy(batch, this.#batchLength);
    this.#batchLength += bytes.length;
  }

  static #flushTick(outbox: Outbox): void {
    outbox.#scheduled = false;
    outbox.flush();
  }

  /** Hands everything pending to the socket now. */
  flush(): void {
    const first = this.#first;
    if (first !== undefined) {
      this.#first = undefined;
      this.#stream.write(first);
    }
    this.#writeBatch();
  }

  #writeBatch(): void {
    const batch = this.#batch;
    if (batch === undefined) return;
    const length = this.#batchLength;
    // The socket owns the written bytes until they are sent, so a new batch starts in fresh memory.
    this.#batch = undefined;
    this.#batchLength = 0;
    if (length > 0) this.#stream.write(batch.subarray(0, length));
  }
}
