// The encodings of the one message being routed, by wire shape (protocol version, QoS, retain
// flag): every subscriber taking the same shape gets the same Buffer. QoS > 0 entries are templates
// whose packet id each subscriber patches into a copy. One instance per Router, cleared per message,
// so routing allocates no cache.
import type { ProtocolVersion, QoS } from '../codec/types.js';

const SLOTS = 6 * 6;

export class WireCache {
  readonly #buffers: (Buffer | undefined)[] = new Array<Buffer | undefined>(SLOTS).fill(undefined);
  readonly #offsets: number[] = new Array<number>(SLOTS).fill(0);
  readonly #used: number[] = new Array<number>(SLOTS).fill(0);
  #usedCount = 0;

  static key(version: ProtocolVersion, qos: QoS, retain: boolean): number {
    return version * 6 + qos * 2 + (retain ? 1 : 0);
  }

  buffer(key: number): Buffer | undefined {
    return this.#buffers[key];
  }

  /** Where the packet id sits in a QoS > 0 template. */
  packetIdOffset(key: number): number {
    return this.#offsets[key] as number;
  }

  set(key: number, buffer: Buffer, packetIdOffset: number): void {
    if (this.#buffers[key] === undefined) this.#used[this.#usedCount++] = key;
    this.#buffers[key] = buffer;
    this.#offsets[key] = packetIdOffset;
  }

  clear(): void {
    const used = this.#used;
    for (let i = 0; i < this.#usedCount; i++) this.#buffers[used[i] as number] = undefined;
    this.#usedCount = 0;
  }
}

/** Offset of the packet id in an encoded QoS > 0 PUBLISH: fixed header, topic length, topic. */
export function publishPacketIdOffset(buffer: Buffer, topic: string): number {
  let offset = 1;
  while (((buffer[offset] as number) & 0x80) !== 0) offset++;
  return offset + 1 + 2 + Buffer.byteLength(topic);
}
