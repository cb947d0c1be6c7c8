// What every listener shares: binding a net.Server (TCP or TLS) and reporting where it listens.
import type { Server } from 'node:net';
import type { Broker } from '../broker/broker.js';
import type { ListenerPolicy } from '../broker/options.js';

export interface ListenerOptions {
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
  /**
   * TLS listeners (mqtts, wss): re-read certfile/keyfile/cafile and use them for new handshakes;
   * connected clients stay. Throws (naming the file) and keeps the old certificate when one is unusable.
   */
  reloadTls?: () => void;
}

/** Binds `server` and resolves once it listens; later errors are logged, never thrown. */
export function bind(server: Server, broker: Broker, options: ListenerOptions): Promise<Listening> {
  if (options.maxConnections !== undefined && options.maxConnections >= 0) server.maxConnections = options.maxConnections;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host, port: options.port }, () => {
      server.off('error', reject);
      server.on('error', (error) => broker.logger.error({ event: 'listener_error', err: error.message }, 'listener error'));
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : options.port;
      const host = typeof address === 'object' && address !== null ? address.address : (options.host ?? '0.0.0.0');
      resolve({ server, host, port, close: () => new Promise<void>((done) => server.close(() => done())) });
    });
  });
}
