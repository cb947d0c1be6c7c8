// Plain TCP listener: accepts sockets and hands each to the engine as a Duplex.
import { createServer, type Server, type Socket } from 'node:net';
import type { Broker } from '../broker/broker.js';
import type { ConnectionInfo } from '../broker/connection.js';
import type { ListenerPolicy } from '../broker/options.js';

export interface TcpListenerOptions {
  host: string | undefined;
  port: number;
  /** Disable Nagle's algorithm: MQTT messages are small and latency matters more than segment count. */
  noDelay?: boolean;
  /** Refuse connections beyond this many (-1 = unlimited). */
  maxConnections?: number;
  /** The listener's own settings (anonymous access, client ids, topic aliases). */
  policy?: ListenerPolicy;
}

export interface Listening {
  readonly server: Server;
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

export function listenTcp(broker: Broker, options: TcpListenerOptions): Promise<Listening> {
  // One info object per listener, shared by its connections; the peer address is read from the socket when logged.
  const info: ConnectionInfo = { listener: `mqtt:${options.port}`, policy: options.policy };
  const server = createServer({ noDelay: options.noDelay ?? true }, (socket: Socket) => {
    broker.handle(socket, info);
  });
  if (options.maxConnections !== undefined && options.maxConnections >= 0) server.maxConnections = options.maxConnections;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host, port: options.port }, () => {
      server.off('error', reject);
      server.on('error', (error) => broker.logger.error({ event: 'listener_error', err: error.message }, 'listener error'));
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : options.port;
      const host = typeof address === 'object' && address !== null ? address.address : (options.host ?? '0.0.0.0');
      resolve({
        server,
        host,
        port,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}
