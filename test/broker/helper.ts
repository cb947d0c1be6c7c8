// Drives a Broker through an in-memory duplex pair with packet objects: no ports, no races
// (the pattern of aedes' test/helper.js).
import { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Broker } from '../../src/broker/broker.js';
import type { BrokerOptions } from '../../src/broker/options.js';
import { encode } from '../../src/codec/encode.js';
import type { ProtocolError } from '../../src/codec/errors.js';
import { Parser } from '../../src/codec/parser.js';
import type { ConnackPacket, ConnectPacket, Packet, ProtocolVersion } from '../../src/codec/types.js';

/** Two Duplex ends: what one writes, the other reads. */
export function duplexPair(): [Duplex, Duplex] {
  let a: Duplex;
  let b: Duplex;
  const make = (peer: () => Duplex): Duplex =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        peer().push(chunk);
        callback();
      },
      final(callback) {
        peer().push(null);
        callback();
      },
      destroy(error, callback) {
        const other = peer();
        if (!other.destroyed) other.destroy();
        callback(error);
      },
    });
  a = make(() => b);
  b = make(() => a);
  return [a, b];
}

/** The packet shape(s) whose `type` can be T (AckPacket covers four types). */
export type PacketOf<T extends Packet['type']> = Packet extends infer P ? (P extends { type: infer U } ? (T extends U ? P : never) : never) : never;

export class TestClient {
  readonly stream: Duplex;
  readonly version: ProtocolVersion;
  readonly received: Packet[] = [];
  readonly errors: ProtocolError[] = [];
  closed = false;
  #waiters: Array<() => void> = [];

  constructor(stream: Duplex, version: ProtocolVersion) {
    this.stream = stream;
    this.version = version;
    const parser = new Parser(
      {
        onPacket: (packet) => {
          this.received.push(packet);
          this.#wake();
        },
        onError: (error) => {
          this.errors.push(error);
          this.#wake();
        },
      },
      { side: 'client', protocolVersion: version },
    );
    stream.on('data', (chunk: Buffer) => parser.push(chunk));
    stream.on('close', () => {
      this.closed = true;
      this.#wake();
    });
    stream.on('end', () => {
      this.closed = true;
      this.#wake();
    });
    stream.on('error', () => {});
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  send(packet: Packet): void {
    this.stream.write(encode(packet, this.version));
  }

  sendRaw(bytes: Buffer | number[]): void {
    this.stream.write(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes));
  }

  /** Waits for and removes the first received packet matching `predicate`. */
  async next<T extends Packet['type']>(type: T, predicate: (p: PacketOf<T>) => boolean = () => true, timeoutMs = 2000): Promise<PacketOf<T>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.received.findIndex((p) => p.type === type && predicate(p as PacketOf<T>));
      if (index !== -1) return this.received.splice(index, 1)[0] as PacketOf<T>;
      const left = deadline - Date.now();
      // A closed stream brings nothing more: fail now rather than hold the process until the deadline.
      if (left <= 0 || this.closed) throw new Error(`timed out waiting for ${type}; received: ${JSON.stringify(this.received.map((p) => p.type))}, closed=${this.closed}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Resolves true once the broker closed the connection, false after the timeout. */
  async waitClosed(timeoutMs = 2000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await sleep(5);
    return this.closed;
  }

  /** Asserts nothing of `type` arrives within `ms`. */
  async nothing(type: Packet['type'], ms = 100): Promise<void> {
    await sleep(ms);
    const found = this.received.find((p) => p.type === type);
    if (found !== undefined) throw new Error(`unexpected ${type}: ${JSON.stringify(found)}`);
  }

  close(): void {
    this.stream.end();
  }
}

export function startBroker(options: BrokerOptions = {}): Broker {
  return new Broker(options);
}

/** Opens a raw connection to `broker` without sending anything. */
export function open(broker: Broker, version: ProtocolVersion = 4): TestClient {
  const [clientEnd, brokerEnd] = duplexPair();
  broker.handle(brokerEnd, { remoteAddress: '127.0.0.1' });
  return new TestClient(clientEnd, version);
}

/** Opens a connection, sends CONNECT (defaults: clean, keepalive 0) and waits for CONNACK. */
export async function connect(broker: Broker, clientId: string, overrides: Partial<ConnectPacket> = {}, version: ProtocolVersion = 4): Promise<{ client: TestClient; connack: ConnackPacket }> {
  const client = open(broker, version);
  client.send({
    type: 'connect',
    protocolName: version === 3 ? 'MQIsdp' : 'MQTT',
    protocolVersion: version,
    clean: true,
    keepalive: 0,
    clientId,
    ...overrides,
  });
  const connack = await client.next('connack');
  return { client, connack };
}
