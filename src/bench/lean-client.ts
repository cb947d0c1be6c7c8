// A deliberately small MQTT client for load generation, built on the project's codec: packets are
// encoded once (a PUBLISH is pre-encoded and written many times), received PUBLISH frames are
// counted by walking fixed headers only (FrameScanner), QoS 1 deliveries are PUBACKed in one write
// per read (DUP resends too, but they are counted once), and only the rare control packets
// (CONNACK, SUBACK) go through the full Parser.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import { MoatError } from '../codec/errors.js';
import { encode } from '../codec/encode.js';
import { Parser } from '../codec/parser.js';
import type { Packet, QoS } from '../codec/types.js';
import { FrameScanner } from './frames.js';

export interface Target {
  host: string;
  port: number;
  tls: boolean;
  /** PEM CA bundle for mqtts:// targets. */
  ca?: Buffer;
  /** A client certificate and its key (PEM), for listeners with require_certificate. */
  cert?: Buffer;
  key?: Buffer;
}

export interface LeanConnectOptions {
  target: Target;
  clientId: string;
  protocol: 4 | 5;
  keepalive?: number;
  /** Clean start false (3.1.1: clean session false; 5.0: Session Expiry Interval 300 s). */
  persistent?: boolean;
  /** TLS session to resume (from a previous connection's `session` event). */
  session?: Buffer;
  /** Called with each TLS session (ticket) the broker issues, for later resumption. */
  onSession?: (session: Buffer) => void;
  timeoutMs?: number;
}

/** A received PUBLISH, as byte offsets into the read buffer (valid only during the call). */
export type PublishHandler = (buf: Buffer, payloadStart: number, end: number, header: number) => void;

/** Parses `mqtt://host:port` / `mqtts://host:port` into a Target. */
export function parseTarget(url: string, ca?: Buffer, client?: { cert: Buffer; key: Buffer }): Target {
  const u = new URL(url);
  const tls = u.protocol === 'mqtts:';
  if (!tls && u.protocol !== 'mqtt:') throw new MoatError('MOAT_ERR_BENCH_OPTION', `--url must start with mqtt:// or mqtts://, got ${url}`);
  const target: Target = { host: u.hostname, port: u.port === '' ? (tls ? 8883 : 1883) : Number(u.port), tls };
  if (ca !== undefined) target.ca = ca;
  if (client !== undefined) {
    target.cert = client.cert;
    target.key = client.key;
  }
  return target;
}

export class LeanClient {
  readonly socket: Socket;
  readonly protocol: 4 | 5;
  /** Broker's Receive Maximum from CONNACK (65535 when absent, as the spec says). */
  receiveMaximum = 65535;
  /** Distinct PUBLISH received so far (a DUP resend of a delivered packet id is not counted again). */
  received = 0;
  /** DUP resends of packet ids already delivered on this connection (PUBACKed, not counted). */
  duplicates = 0;
  onPublish: PublishHandler | undefined;
  /** Called once per read with the packet ids PUBACKed by the broker in it. */
  onAcks: ((ids: number[]) => void) | undefined;
  readonly #parser: Parser;
  readonly #scanner: FrameScanner;
  readonly #waiters: Array<{ type: string; resolve: (p: Packet) => void; reject: (e: Error) => void }> = [];
  #acksOut: number[] = [];
  #acksIn: number[] = [];
  #nextId = 1;
  #closed = false;
  #shared: Float64Array | undefined;
  #sharedIndex = 0;
  /** QoS 1 packet ids delivered on this connection; allocated on the first QoS 1 delivery. */
  #delivered: Uint8Array | undefined;

  private constructor(socket: Socket, protocol: 4 | 5) {
    this.socket = socket;
    this.protocol = protocol;
    this.#parser = new Parser(
      { onPacket: (p) => this.#control(p), onError: (e) => this.#failAll(e) },
      { side: 'client', protocolVersion: protocol },
    );
    this.#scanner = new FrameScanner((buf, start, body, end) => this.#frame(buf, start, body, end));
    socket.on('data', (chunk: Buffer) => this.#data(chunk));
    socket.on('error', (e) => this.#failAll(e));
    socket.on('close', () => {
      this.#closed = true;
      this.#failAll(new MoatError('MOAT_ERR_BENCH_CONNECTION', 'connection closed by broker'));
    });
  }

  /** Opens the socket, sends CONNECT (clean unless `persistent`) and resolves after a successful CONNACK. */
  static async connect(options: LeanConnectOptions): Promise<LeanClient> {
    const { target } = options;
    const socket = await openSocket(target, options.session, options.timeoutMs ?? 10_000, options.onSession);
    const client = new LeanClient(socket, options.protocol);
    // A persistent session: the broker keeps (and, when durable, writes) its in-flight and queued messages.
    const persistent = options.persistent === true;
    const connack = client.#expect('connack', options.timeoutMs ?? 10_000);
    socket.write(
      encode(
        {
          type: 'connect',
          protocolName: 'MQTT',
          protocolVersion: options.protocol,
          clean: !persistent,
          keepalive: options.keepalive ?? 0,
          clientId: options.clientId,
          ...(options.protocol === 5 ? { properties: { receiveMaximum: 65535, ...(persistent ? { sessionExpiryInterval: 300 } : {}) } } : {}),
        },
        options.protocol,
      ),
    );
    let packet: Packet;
    try {
      packet = await connack;
    } catch (error) {
      socket.destroy();
      throw error;
    }
    if (packet.type !== 'connack' || packet.reasonCode !== 0) {
      socket.destroy();
      throw new MoatError('MOAT_ERR_BENCH_CONNECTION', `broker refused CONNECT: reason code 0x${(packet.type === 'connack' ? packet.reasonCode : 0xff).toString(16)}`);
    }
    if (packet.properties?.receiveMaximum !== undefined) client.receiveMaximum = packet.properties.receiveMaximum;
    return client;
  }

  /** SUBSCRIBE and wait for SUBACK; throws when the broker refuses a filter. */
  async subscribe(filter: string, qos: QoS, timeoutMs = 10_000): Promise<void> {
    const suback = this.#expect('suback', timeoutMs);
    this.socket.write(this.encodeSubscribe(filter, qos, this.#takeId()));
    const packet = await suback;
    const code = packet.type === 'suback' ? packet.reasonCodes[0] : undefined;
    if (code === undefined || code >= 0x80) throw new MoatError('MOAT_ERR_BENCH_CONNECTION', `broker refused SUBSCRIBE ${filter}: 0x${(code ?? 0xff).toString(16)}`);
  }

  /** Pre-encodes a PUBLISH for writing many times (QoS 1 callers pass a packet id). */
  encodePublish(topic: string, payload: Buffer, qos: QoS, retain = false, packetId?: number): Buffer {
    return encode({ type: 'publish', topic, payload, qos, retain, dup: false, ...(qos > 0 ? { packetId: packetId ?? 1 } : {}) }, this.protocol);
  }

  /** Pre-encodes a SUBSCRIBE (retain handling 0: retained messages are sent on every SUBSCRIBE). */
  encodeSubscribe(filter: string, qos: QoS, packetId: number): Buffer {
    return encode({ type: 'subscribe', packetId, subscriptions: [{ filter, qos, noLocal: false, retainAsPublished: false, retainHandling: 0 }] }, this.protocol);
  }

  /** Also counts every received PUBLISH into shared[index] (one writer per slot: this thread). */
  countInto(shared: Float64Array, index: number): void {
    this.#shared = shared;
    this.#sharedIndex = index;
  }

  /** Writes pre-encoded bytes; false means the socket buffer is full: await drain() before more. */
  write(bytes: Buffer): boolean {
    return this.socket.write(bytes);
  }

  drain(): Promise<void> {
    if (!this.socket.writableNeedDrain || this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sends DISCONNECT and ends the socket; resolves when it is closed (or after 2 s). */
  async close(): Promise<void> {
    if (this.#closed) return;
    const closed = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.socket.destroy();
        resolve();
      }, 2000);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.socket.end(Buffer.from([0xe0, 0x00]));
    await closed;
  }

  /** Immediate close without DISCONNECT (used for thousands of idle connections). */
  destroy(): void {
    this.socket.destroy();
  }

  #takeId(): number {
    const id = this.#nextId;
    this.#nextId = id === 0xffff ? 1 : id + 1;
    return id;
  }

  #data(chunk: Buffer): void {
    try {
      this.#scanner.push(chunk);
    } catch (error) {
      this.#failAll(error as Error);
      this.socket.destroy();
      return;
    }
    // One write for all the PUBACKs this read produced, one callback for the acks it carried.
    const out = this.#acksOut;
    if (out.length > 0) {
      const buf = Buffer.allocUnsafe(out.length * 4);
      for (let i = 0; i < out.length; i++) {
        const id = out[i] as number;
        const p = i * 4;
        buf[p] = 0x40;
        buf[p + 1] = 2;
        buf[p + 2] = id >> 8;
        buf[p + 3] = id & 0xff;
      }
      this.#acksOut = [];
      if (!this.#closed) this.socket.write(buf);
    }
    if (this.#acksIn.length > 0) {
      const ids = this.#acksIn;
      this.#acksIn = [];
      this.onAcks?.(ids);
    }
  }

  #frame(buf: Buffer, start: number, body: number, end: number): void {
    const header = buf[start] as number;
    const type = header >> 4;
    if (type === 3) {
      const topicLength = buf.readUInt16BE(body);
      let pos = body + 2 + topicLength;
      if ((header & 0x06) !== 0) {
        const id = buf.readUInt16BE(pos);
        this.#acksOut.push(id);
        pos += 2;
        // Within one connection a DUP PUBLISH resends an id we already received (the broker did not
        // see our PUBACK yet); a new message on a reused id comes without DUP. Lean clients never
        // reconnect, so a DUP cannot be the first copy of a message lost with an earlier connection.
        const delivered = (this.#delivered ??= new Uint8Array(65536));
        if ((header & 0x08) !== 0 && delivered[id] === 1) {
          this.duplicates++;
          return;
        }
        delivered[id] = 1;
      }
      this.received++;
      if (this.#shared !== undefined) this.#shared[this.#sharedIndex]! += 1;
      if (this.onPublish !== undefined) {
        if (this.protocol === 5) pos = skipVarint(buf, pos);
        this.onPublish(buf, pos, end, header);
      }
    } else if (type === 4) {
      this.#acksIn.push(buf.readUInt16BE(body));
    } else {
      // Control packets are rare: decode them properly (a whole frame, so the Parser never splits).
      this.#parser.push(Buffer.from(buf.subarray(start, end)));
    }
  }

  #control(packet: Packet): void {
    const index = this.#waiters.findIndex((w) => w.type === packet.type);
    if (index >= 0) this.#waiters.splice(index, 1)[0]?.resolve(packet);
    else if (packet.type === 'disconnect') this.#failAll(new MoatError('MOAT_ERR_BENCH_CONNECTION', `broker sent DISCONNECT 0x${(packet.reasonCode ?? 0).toString(16)}`));
  }

  #expect(type: string, timeoutMs: number): Promise<Packet> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(new MoatError('MOAT_ERR_BENCH_TIMEOUT', `no ${type.toUpperCase()} within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = {
        type,
        resolve: (p: Packet) => {
          clearTimeout(timer);
          resolve(p);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      if (this.#closed) waiter.reject(new MoatError('MOAT_ERR_BENCH_CONNECTION', 'connection closed'));
      else this.#waiters.push(waiter);
    });
  }

  #failAll(error: Error): void {
    for (const w of this.#waiters.splice(0)) w.reject(error);
  }
}

function skipVarint(buf: Buffer, pos: number): number {
  let length = 0;
  let multiplier = 1;
  for (let k = 0; k < 4; k++) {
    const b = buf[pos++] as number;
    length += (b & 0x7f) * multiplier;
    multiplier *= 128;
    if ((b & 0x80) === 0) break;
  }
  return pos + length;
}

const contexts = new WeakMap<Target, SecureContext>();

/**
 * One SecureContext per target (per thread): built per connection, parsing the CA, certificate and
 * key PEM would cost the client more than some handshakes and hide what the handshake itself costs.
 */
function secureContextOf(target: Target): SecureContext {
  let context = contexts.get(target);
  if (context === undefined) {
    context = createSecureContext({
      ...(target.ca !== undefined ? { ca: target.ca } : {}),
      ...(target.cert !== undefined && target.key !== undefined ? { cert: target.cert, key: target.key } : {}),
    });
    contexts.set(target, context);
  }
  return context;
}

/** Opens TCP (Nagle off: small messages, latency matters) or TLS and resolves once usable. */
export function openSocket(target: Target, session: Buffer | undefined, timeoutMs: number, onSession?: (s: Buffer) => void): Promise<Socket> {
  return new Promise((resolve, reject) => {
    let socket: Socket | TLSSocket;
    const ready = target.tls ? 'secureConnect' : 'connect';
    if (target.tls) {
      socket = tlsConnect({
        host: target.host,
        port: target.port,
        servername: target.host === '127.0.0.1' ? 'localhost' : target.host,
        secureContext: secureContextOf(target),
        ...(session !== undefined ? { session } : {}),
      });
      // TLS 1.3 tickets arrive after the handshake; keep listening so the caller gets the latest.
      if (onSession !== undefined) socket.on('session', onSession);
    } else {
      socket = netConnect({ host: target.host, port: target.port });
    }
    socket.setNoDelay(true);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new MoatError('MOAT_ERR_BENCH_TIMEOUT', `could not connect to ${target.host}:${target.port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once(ready, () => {
      clearTimeout(timer);
      // Again on the live handle: Nagle + delayed ACK would add ~40 ms to small messages.
      socket.setNoDelay(true);
      socket.off('error', onError);
      resolve(socket);
    });
    const onError = (error: Error): void => {
      clearTimeout(timer);
      reject(error);
    };
    socket.once('error', onError);
  });
}
