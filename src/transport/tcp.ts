// Plain TCP listener: accepts sockets and hands each to the engine as a Duplex.
import { createServer, type Socket } from 'node:net';
import type { Broker } from '../broker/broker.js';
import type { ConnectionInfo } from '../broker/connection.js';
import { bind, connectionSlots, type ListenerOptions, type Listening } from './listen.js';

export type { ListenerOptions as TcpListenerOptions, Listening } from './listen.js';

export function listenTcp(broker: Broker, options: ListenerOptions): Promise<Listening> {
  // One info object per listener, shared by its connections; Connection reads the peer address from the socket once.
  const listener = `mqtt:${options.port}`;
  const info: ConnectionInfo = { listener, policy: options.policy, slots: connectionSlots(options, listener) };
  const server = createServer({ noDelay: options.noDelay ?? true }, (socket: Socket) => {
    broker.handle(socket, info);
  });
  return bind(server, broker, options);
}
