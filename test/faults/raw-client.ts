// A raw TCP client for fault tests: sends exactly the bytes a test builds, records every packet the
// broker sends back (decoded with moat's own codec) and when the broker closes the connection.
// Plus a few byte builders, so each bad packet is written out by hand in the test table.
import { connect as netConnect, type Socket } from 'node:net';
import { encode } from '../../src/codec/encode.js';
import type { ProtocolError } from '../../src/codec/errors.js';
import { Parser } from '../../src/codec/parser.js';
import type { Packet, ProtocolVersion } from '../../src/codec/types.js';

// ---- byte builders -------------------------------------------------------------------------

/** A Variable Byte Integer, as MQTT encodes the remaining length and property lengths. */
export function varint(value: number): Buffer {
  const out: number[] = [];
  do {
    let b = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) b |= 0x80;
    out.push(b);
  } while (value > 0);
  return Buffer.from(out);
}

/** Two-byte big-endian integer. */
export function u16(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value);
  return b;
}

/** A length-prefixed MQTT string from raw bytes (so invalid UTF-8 can be written). */
export function str(value: string | Buffer): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([u16(bytes.length), bytes]);
}

/** A v5 property block: varint length + the given property bytes. */
export function props(...bytes: (Buffer | number[])[]): Buffer {
  const body = Buffer.concat(bytes.map((b) => (Buffer.isBuffer(b) ? b : Buffer.from(b))));
  return Buffer.concat([varint(body.length), body]);
}

/** A whole packet: first byte, remaining length computed from the body parts. */
export function packet(first: number, ...body: (Buffer | number[])[]): Buffer {
  const b = Buffer.concat(body.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p))));
  return Buffer.concat([Buffer.from([first]), varint(b.length), b]);
}

/** A valid CONNECT (clean start, keep alive 60) from moat's encoder. */
export function validConnect(version: ProtocolVersion, clientId: string): Buffer {
  return encode({ type: 'connect', protocolName: 'MQTT', protocolVersion: version, clean: true, keepalive: 60, clientId }, version);
}

export function hex(bytes: Buffer): string {
  const shown = bytes.subarray(0, 48).toString('hex').replace(/(..)/g, '$1 ').trim();
  return bytes.length > 48 ? `${shown} ... (${bytes.length} bytes)` : shown;
}

/** The packet shape(s) whose `type` can be T (AckPacket covers four types). */
export type PacketOf<T extends Packet['type']> = Packet extends infer P ? (P extends { type: infer U } ? (T extends U ? P : never) : never) : never;

// ---- the client ----------------------------------------------------------------------------

export interface RawClientOptions {
  readonly host: string;
  readonly port: number;
  /** Version used to decode what the broker sends (CONNACK/DISCONNECT shapes differ); default 4. */
  readonly version?: ProtocolVersion;
  readonly timeoutMs?: number;
  /** Source address to connect from, e.g. another loopback address 127.0.0.x. */
  readonly localAddress?: string;
}

/** One socket to the broker. Every wait has a timeout; `destroy()` is safe to call twice. */
export class RawClient {
  readonly socket: Socket;
  /** Packets the broker sent, decoded, in arrival order. */
  readonly packets: Packet[] = [];
  /** Every byte the broker sent. */
  received: Buffer = Buffer.alloc(0);
  /** Set when the broker's bytes did not decode (a broker bug worth reporting). */
  parseError: ProtocolError | undefined;
  /** performance.now() when the broker ended (FIN) or the socket closed; undefined while open. */
  closedAt: number | undefined;
  /** True when the close came from the peer (FIN or reset) rather than from destroy(). */
  closedByPeer = false;
  readonly #waiters = new Set<() => void>();
  #destroyed = false;

  private constructor(socket: Socket, version: ProtocolVersion) {
    this.socket = socket;
    const parser = new Parser(
      {
        onPacket: (p) => {
          this.packets.push(p);
        },
        onError: (e) => {
          this.parseError = e;
        },
      },
      { side: 'client', protocolVersion: version },
    );
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      parser.push(chunk);
      this.#notify();
    });
    const peerClosed = (): void => {
      if (this.closedAt === undefined) {
        this.closedAt = performance.now();
        this.closedByPeer = !this.#destroyed;
      }
      this.#notify();
    };
    socket.on('end', peerClosed);
    socket.on('close', peerClosed);
    socket.on('error', () => {
      // ECONNRESET after the broker destroys the socket counts as a close; 'close' follows.
    });
  }

  static open(options: RawClientOptions): Promise<RawClient> {
    const { host, port, version = 4, timeoutMs = 2000, localAddress } = options;
    return new Promise((resolve, reject) => {
      const socket = netConnect(localAddress === undefined ? { host, port } : { host, port, localAddress });
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`raw client: no TCP connection to ${host}:${port} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new RawClient(socket, version));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  get closed(): boolean {
    return this.closedAt !== undefined;
  }

  /** Writes bytes unless the socket is already gone (a broker that closed early is not an error here). */
  send(bytes: Buffer): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    this.socket.write(bytes);
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** Resolves with true once `done()` holds, false after timeoutMs. Never rejects. */
  until(done: () => boolean, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      if (done()) {
        resolve(true);
        return;
      }
      const check = (): void => {
        if (!done()) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        resolve(done());
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  /** The first received packet of `type`, waiting up to timeoutMs; undefined if none came. */
  async waitFor<T extends Packet['type']>(type: T, timeoutMs: number): Promise<PacketOf<T> | undefined> {
    const find = (): PacketOf<T> | undefined => this.packets.find((p): p is PacketOf<T> => p.type === type);
    await this.until(() => find() !== undefined || this.closed, timeoutMs);
    return find();
  }

  /** True once the broker closed the connection, waiting up to timeoutMs. */
  waitClosed(timeoutMs: number): Promise<boolean> {
    return this.until(() => this.closed, timeoutMs);
  }

  /** What the broker sent so far, for assertion messages. */
  describe(): string {
    const packets = this.packets.map((p) => JSON.stringify(p, (_k, v: unknown) => (Buffer.isBuffer(v) ? `<${v.length} bytes>` : v))).join(', ');
    return `received [${hex(this.received)}] = ${packets || '(no packets)'}${this.parseError ? `, undecodable: ${this.parseError.message}` : ''}; ${
      this.closed ? `closed by ${this.closedByPeer ? 'broker' : 'test'}` : 'still open'
    }`;
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.socket.destroy();
  }
}
