// Batches a connection's writes per event-loop turn. A lone packet goes to the socket as it is;
// packets written in the same turn are kept by reference and joined into one exact-size Buffer
// when the turn ends, so a turn that routes hundreds of small PUBLISH packets to one client costs
// one stream.write, not hundreds (each Writable.write allocates and bookkeeps; a memcpy of 80 bytes
// is far cheaper). Exact size matters: a batch of four PUBACKs is 16 bytes from Node's shared
// buffer pool, where a fixed 64 KB batch buffer per turn per connection made the garbage collector
// the broker's busiest function under QoS 1 load (docs/PERFORMANCE.md).
import type { Duplex } from 'node:stream';

/** Packets at least this large are written directly: copying them would cost more than it saves. */
const DIRECT_BYTES = 16 * 1024;
/** A batch is handed to the socket once it holds this much, so one turn's burst is not one huge copy. */
const BATCH_BYTES = 64 * 1024;

export class Outbox {
  readonly #stream: Duplex;
  /** The turn's first packet, and the ones after it (the array is created once, then reused). */
  #first: Buffer | undefined;
  #rest: Buffer[] | undefined;
  #restCount = 0;
  #pendingBytes = 0;
  #scheduled = false;

  constructor(stream: Duplex) {
    this.#stream = stream;
  }

  /** Bytes waiting for the end of the turn plus those the socket has not sent yet. */
  get bufferedBytes(): number {
    return this.#stream.writableLength + this.#pendingBytes;
  }

  /** Nothing pending and no flush scheduled: the outbox holds no state but its stream. */
  get idle(): boolean {
    return this.#first === undefined && !this.#scheduled;
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
    this.#pendingBytes += bytes.length;
    if (this.#first === undefined) {
      this.#first = bytes;
      return;
    }
    const rest = (this.#rest ??= []);
    rest[this.#restCount++] = bytes;
    if (this.#pendingBytes >= BATCH_BYTES) this.flush();
  }

  static #flushTick(outbox: Outbox): void {
    outbox.#scheduled = false;
    outbox.flush();
  }

  /** Hands everything pending to the socket now, as one write. */
  flush(): void {
    const first = this.#first;
    if (first === undefined) return;
    const count = this.#restCount;
    const total = this.#pendingBytes;
    this.#first = undefined;
    this.#restCount = 0;
    this.#pendingBytes = 0;
    if (count === 0) {
      this.#stream.write(first);
      return;
    }
    // allocUnsafe: below 4 KB it is a slice of Node's shared pool, not a fresh allocation.
    const batch = Buffer.allocUnsafe(total);
    let offset = first.copy(batch, 0);
    const rest = this.#rest as Buffer[];
    for (let i = 0; i < count; i++) {
      const bytes = rest[i] as Buffer;
      offset += bytes.copy(batch, offset);
      rest[i] = EMPTY; // no stale reference pins a payload
    }
    this.#stream.write(batch);
  }
}

const EMPTY = Buffer.alloc(0);
