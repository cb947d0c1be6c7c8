// TLS listener (mosquitto's cafile/capath/certfile/keyfile/crlfile/tls_version/ciphers/
// require_certificate, and TLS-PSK with psk_hint/psk_file). TLS 1.2 is the floor; the options,
// session resumption and SIGHUP reload live in tls-context.ts, shared with wss listeners.
import { createServer, type TLSSocket } from 'node:tls';
import type { Broker } from '../broker/broker.js';
import type { ConnectionInfo } from '../broker/connection.js';
import type { ListenerTlsConfig } from '../config/types.js';
import { bind, connectionSlots, type ListenerOptions, type Listening } from './listen.js';
import { prepareTlsServer } from './tls-context.js';

export { secureContextOptions, TlsFileError } from './tls-context.js';

export interface TlsListenerOptions extends ListenerOptions {
  tls: ListenerTlsConfig;
  /** A handshake not finished in this time is dropped (`tls_handshake_timeout`). Default 30 s, see DEFAULT_HANDSHAKE_TIMEOUT_MS. */
  handshakeTimeoutMs?: number;
}

export async function listenTls(broker: Broker, options: TlsListenerOptions): Promise<Listening> {
  const listener = `mqtts:${options.port}`;
  // Counted from the finished handshake (the handler below), so slow handshakes take no slot.
  const info: ConnectionInfo = { listener, policy: options.policy, slots: connectionSlots(options, listener) };
  const setup = prepareTlsServer(options.tls, options.handshakeTimeoutMs);
  const server = createServer(setup.options, (socket: TLSSocket) => {
    if (options.noDelay ?? true) socket.setNoDelay(true);
    // Only now, with the handshake done, does the engine's CONNECT timeout (connect_timeout) start.
    broker.handle(socket, info);
  });
  const reloadTls = setup.attach(server, broker);
  return { ...(await bind(server, broker, options)), reloadTls };
}
