// mqtts://: TCP + TLS. The server certificate is verified against `tls.ca` (or Node's CA store)
// unless rejectUnauthorized is explicitly false. The transport keeps the newest TLS session the
// server hands out (TLS 1.3 tickets arrive after the handshake, as 'session' events) so a reconnect
// can pass it back to openTransport and resume instead of paying the full handshake again.
import { isIP } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import type { ResolvedTlsOptions } from './options.js';
import type { BrokerAddress, Transport, TransportOptions } from './transport.js';

/** The node:tls connect options moat sets (a subset both tls.connect and ws's ClientOptions accept). */
export type TlsConnectFields = Pick<ConnectionOptions, 'rejectUnauthorized' | 'minVersion' | 'servername' | 'ca' | 'cert' | 'key' | 'session'>;

/** The node:tls options for `tls` towards `host` (shared by mqtts:// and wss://). */
export function tlsConnectionOptions(host: string, tls: ResolvedTlsOptions, session: Buffer | undefined): TlsConnectFields {
  // SNI may not carry an IP address (RFC 6066); Node then checks the certificate against the host.
  const servername = tls.servername ?? (isIP(host) === 0 ? host : undefined);
  return {
    rejectUnauthorized: tls.rejectUnauthorized,
    minVersion: tls.minVersion,
    ...(servername === undefined ? {} : { servername }),
    ...(tls.ca === undefined ? {} : { ca: [...tls.ca] }),
    ...(tls.cert === undefined ? {} : { cert: tls.cert }),
    ...(tls.key === undefined ? {} : { key: tls.key }),
    ...(session === undefined ? {} : { session }),
  };
}

/** Follows the TLS sessions of `socket`: the latest one and listeners for new ones. */
export interface SessionTracker {
  readonly latest: () => Buffer | undefined;
  /**
   * Follows `socket` (before its handshake). `offered` is the session passed to tls.connect: when the
   * server resumed it and sends no new ticket (Node servers send none on resumption), it stays the latest.
   */
  readonly track: (socket: TLSSocket, offered: Buffer | undefined) => void;
  readonly onSession: (listener: (session: Buffer) => void) => void;
}

export function sessionTracker(): SessionTracker {
  let latest: Buffer | undefined;
  const listeners: Array<(session: Buffer) => void> = [];
  const update = (session: Buffer | undefined): void => {
    if (session === undefined || (latest !== undefined && session.equals(latest))) return;
    latest = session;
    for (const listener of listeners) listener(session);
  };
  return {
    latest: () => latest,
    track: (socket, offered) => {
      socket.on('session', (session: Buffer) => update(session));
      // Node emits 'session' for TLS 1.2 sessions and TLS 1.3 tickets alike; getSession() is only a
      // fallback for TLS 1.2 (in TLS 1.3 it returns a session that cannot resume until a ticket came).
      socket.once('secureConnect', () => {
        if (latest !== undefined) return;
        if (offered !== undefined && socket.isSessionReused()) update(offered);
        else if (socket.getProtocol() === 'TLSv1.2') update(socket.getSession());
      });
    },
    onSession: (listener) => {
      listeners.push(listener);
      if (latest !== undefined) listener(latest);
    },
  };
}

export function openTls(address: BrokerAddress, options: TransportOptions, session: Buffer | undefined): Transport {
  const socket = tlsConnect({ host: address.host, port: address.port, ...tlsConnectionOptions(address.host, options.tls, session) });
  socket.setNoDelay(true);
  let secure = false;
  let reused = false;
  socket.once('secureConnect', () => {
    secure = true;
    reused = socket.isSessionReused();
  });
  const sessions = sessionTracker();
  sessions.track(socket, session);
  return {
    stream: socket,
    connected: () => secure,
    stage: () => (secure ? 'open' : socket.connecting ? 'tcp' : 'tls'),
    session: sessions.latest,
    onSession: sessions.onSession,
    sessionReused: () => reused,
  };
}
