// TLS listener (mosquitto's cafile/capath/certfile/keyfile/tls_version/ciphers/require_certificate).
// TLS 1.2 is the floor. Resumption works both ways a client may ask: session tickets (TLS 1.2 and
// 1.3, Node's default) and session ids (TLS 1.2 clients without tickets, from a bounded cache), so a
// slow device pays the full handshake once, not on every reconnect.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type TlsOptions, type TLSSocket } from 'node:tls';
import type { Broker } from '../broker/broker.js';
import type { ConnectionInfo } from '../broker/connection.js';
import type { ListenerTlsConfig } from '../config/types.js';
import { bind, type ListenerOptions, type Listening } from './listen.js';

export interface TlsListenerOptions extends ListenerOptions {
  tls: ListenerTlsConfig;
  /** A handshake not finished in this time is dropped; generous, so 6 s ESP8266 handshakes pass. Default 60 s. */
  handshakeTimeoutMs?: number;
}

/** TLS sessions kept for session-id resumption. */
const SESSION_CACHE_SIZE = 10_000;

export function listenTls(broker: Broker, options: TlsListenerOptions): Promise<Listening> {
  const info: ConnectionInfo = { listener: `mqtts:${options.port}`, policy: options.policy };
  const server = createServer(tlsOptions(options), (socket: TLSSocket) => {
    if (options.noDelay ?? true) socket.setNoDelay(true);
    broker.handle(socket, info);
  });
  const sessions = new Map<string, Buffer>();
  server.on('newSession', (id: Buffer, data: Buffer, done: () => void) => {
    if (sessions.size >= SESSION_CACHE_SIZE) sessions.delete(sessions.keys().next().value as string);
    sessions.set(id.toString('hex'), data);
    done();
  });
  server.on('resumeSession', (id: Buffer, done: (error: Error | null, data: Buffer | null) => void) => {
    done(null, sessions.get(id.toString('hex')) ?? null);
  });
  server.on('tlsClientError', (error: Error, socket: TLSSocket) => {
    broker.logger.info({ event: 'tls_error', address: socket.remoteAddress, err: error.message }, 'TLS handshake failed');
  });
  return bind(server, broker, options);
}

function tlsOptions(options: TlsListenerOptions): TlsOptions {
  const tls = options.tls;
  if (tls.certfile === undefined || tls.keyfile === undefined) {
    throw new Error('a TLS listener needs certfile and keyfile'); // config/ refuses this first
  }
  const ca = [...(tls.cafile === undefined ? [] : [readFileSync(tls.cafile)]), ...(tls.capath === undefined ? [] : readCaPath(tls.capath))];
  return {
    cert: readFileSync(tls.certfile),
    key: readFileSync(tls.keyfile),
    ...(ca.length > 0 ? { ca } : {}),
    minVersion: tls.tlsVersion === 'tlsv1.3' ? 'TLSv1.3' : 'TLSv1.2',
    ...(tls.ciphers === undefined ? {} : { ciphers: tls.ciphers }),
    requestCert: tls.requireCertificate,
    rejectUnauthorized: tls.requireCertificate,
    handshakeTimeout: options.handshakeTimeoutMs ?? 60_000,
    sessionIdContext: 'moat',
    sessionTimeout: 3600,
  };
}

/** Every certificate file in a directory (mosquitto's capath). */
function readCaPath(dir: string): Buffer[] {
  return readdirSync(dir)
    .filter((name) => /\.(pem|crt|cer)$/i.test(name))
    .map((name) => readFileSync(join(dir, name)));
}
