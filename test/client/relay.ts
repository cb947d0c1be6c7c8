// A TCP relay between the client and a broker for tests that need to see the client's bytes or to
// kill the link without either side sending DISCONNECT: it parses what clients send (the codec's
// Parser on the server side), can hold client→broker bytes back, and can cut every connection.
import { connect, createServer, type Socket } from 'node:net';
import { Parser } from '../../src/codec/parser.js';
import type { Packet } from '../../src/codec/types.js';

export interface RelayConnection {
  /** Packets the client sent on this connection, in order (including held-back ones). */
  readonly sent: Packet[];
  readonly client: Socket;
  readonly upstream: Socket;
}

export interface Relay {
  readonly url: string;
  readonly connections: RelayConnection[];
  /** While true, client→broker bytes are recorded but not forwarded. */
  hold: boolean;
  /** Destroys every open connection, both sides: a dead link, no DISCONNECT. */
  cut(): void;
  close(): Promise<void>;
}

/** A relay on 127.0.0.1 port 0 to the broker at `targetUrl` (mqtt://host:port). */
export async function startRelay(targetUrl: string): Promise<Relay> {
  const target = new URL(targetUrl);
  const open = new Set<Socket>();
  let url = '';
  const relay: Relay = {
    get url() {
      return url;
    },
    connections: [],
    hold: false,
    cut: () => {
      for (const socket of open) socket.destroy();
    },
    close: () => new Promise<void>((resolve) => {
      relay.cut();
      server.close(() => resolve());
    }),
  };
  const server = createServer((client) => {
    const upstream = connect({ host: target.hostname, port: Number(target.port) });
    const connection: RelayConnection = { sent: [], client, upstream };
    relay.connections.push(connection);
    const parser = new Parser({ onPacket: (packet) => connection.sent.push(packet), onError: () => undefined }, { side: 'server' });
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        open.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => {
      parser.push(chunk);
      if (!relay.hold) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  url = `mqtt://127.0.0.1:${port}`;
  return relay;
}
