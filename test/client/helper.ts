// Test helpers for the client: a real in-process broker over TCP on port 0, and a scripted fake
// server (the codec's Parser on the server side) for behaviour a well-behaved broker never shows.
import { createServer, type Server, type Socket } from 'node:net';
import { Broker } from '../../src/broker/broker.js';
import type { BrokerOptions } from '../../src/broker/options.js';
import { encode } from '../../src/codec/encode.js';
import { Parser } from '../../src/codec/parser.js';
import type { Packet, ProtocolVersion } from '../../src/codec/types.js';
import { listenTcp } from '../../src/transport/tcp.js';

export interface TestBroker {
  readonly broker: Broker;
  readonly url: string;
  close(): Promise<void>;
}

export async function startBroker(options: BrokerOptions = {}): Promise<TestBroker> {
  const broker = new Broker(options);
  const listening = await listenTcp(broker, { host: '127.0.0.1', port: 0 });
  return {
    broker,
    url: `mqtt://127.0.0.1:${listening.port}`,
    async close() {
      broker.close();
      await listening.close();
    },
  };
}

export interface FakeConnection {
  readonly socket: Socket;
  /** Packets received so far, in order. */
  readonly received: Packet[];
  send(packet: Packet): void;
}

export interface FakeServer {
  readonly url: string;
  readonly connections: FakeConnection[];
  close(): Promise<void>;
}

/**
 * A TCP server that parses what clients send and calls `script` for each packet; `script` answers
 * with `connection.send(...)` or stays silent. No script: accept and never answer.
 */
export async function startFakeServer(script?: (packet: Packet, connection: FakeConnection) => void, version: ProtocolVersion = 5): Promise<FakeServer> {
  const connections: FakeConnection[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const connection: FakeConnection = {
      socket,
      received: [],
      send: (packet) => {
        if (!socket.destroyed) socket.write(encode(packet, version));
      },
    };
    connections.push(connection);
    const parser = new Parser(
      {
        onPacket: (packet) => {
          connection.received.push(packet);
          script?.(packet, connection);
        },
        onError: () => socket.destroy(),
      },
      { side: 'server' },
    );
    socket.on('data', (chunk: Buffer) => parser.push(chunk));
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A fake server script that accepts every CONNECT (MQTT 5 CONNACK with `properties`). */
export function acceptConnect(packet: Packet, connection: FakeConnection, properties: Record<string, number> = {}): void {
  if (packet.type === 'connect') connection.send({ type: 'connack', sessionPresent: false, reasonCode: 0, properties });
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves like `promise`, or rejects after `ms` naming `what`. */
export function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
