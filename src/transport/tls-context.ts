// The one place that sets up a TLS server for moat, shared by mqtts (tls.ts) and wss (ws.ts): the
// options from the listener's files (tls-files.ts), TLS-PSK, session resumption, handshake failures
// and refused clients logged, and the SIGHUP reload.
//
// Resumption works both ways a client may ask: session tickets (TLS 1.2 and 1.3, Node's default)
// and session ids (TLS 1.2 clients without tickets, from a bounded cache), so a slow device pays the
// full handshake once, not on every reconnect. A reload starts over (new ticket keys, empty cache):
// a session made under the old key is not resumed once the key is replaced. PSK listeners resume
// nothing: a resumed TLS 1.3 session does not say which PSK identity made it.
//
// A client certificate that fails verification (expired, revoked, unknown CA) is refused by Node
// after the handshake, without a TLS alert: Node's OpenSSL verify callback accepts everything and
// the check runs once the handshake is done, so the client only sees the connection close. moat
// cannot make OpenSSL send the alert; it logs the reason (tls_client_refused). A client with no
// certificate at all is refused inside the handshake, with OpenSSL's certificate_required alert.
import type { Socket } from 'node:net';
import type { Server as TlsServer, TlsOptions, TLSSocket } from 'node:tls';
import { rememberPskIdentity } from '../auth/certificate-identity.js';
import type { Broker } from '../broker/broker.js';
import { emit, eventChannel } from '../broker/events.js';
import { CONFIG_DEFAULTS, type ListenerTlsConfig } from '../config/types.js';
import { readTlsCredentials, type TlsCredentials } from './tls-files.js';

export { readTlsCredentials, secureContextOptions, TlsFileError, type TlsCredentials } from './tls-files.js';

/**
 * A handshake not finished in this time is dropped (`tls_handshake_timeout`, default 30 s): generous,
 * so 2-6 s ESP8266 handshakes pass, while a socket that never finishes one is reaped. The clock runs
 * from the TCP accept to the end of the handshake, however the bytes trickle in; the CONNECT timeout
 * (connect_timeout, enforced by the engine) only starts once the handshake is done.
 */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = CONFIG_DEFAULTS.tlsHandshakeTimeout * 1000;

/** TLS sessions kept for session-id resumption, per listener. */
const SESSION_CACHE_SIZE = 10_000;

/** A TLS server's options, and how to wire the server made with them. */
export interface TlsServerSetup {
  /** What `tls.createServer` / `https.createServer` take. */
  readonly options: TlsOptions;
  /**
   * Wires the server made with `options` (session cache, failures logged) and returns its reload:
   * re-reads every file and swaps them in; throws TlsFileError and keeps the old ones when a file is
   * unusable. Open connections are untouched.
   */
  attach(server: TlsServer, broker: Broker): () => void;
}

/** The identity a TLS-PSK client offered, and whether psk_file knows it: for the log when its handshake fails. */
const pskAttempts = new WeakMap<TLSSocket, { readonly identity: string; readonly known: boolean }>();

/** Reads the listener's files now (throws TlsFileError naming the first unusable one). */
export function prepareTlsServer(tls: ListenerTlsConfig, handshakeTimeoutMs = DEFAULT_HANDSHAKE_TIMEOUT_MS): TlsServerSetup {
  let credentials: TlsCredentials = readTlsCredentials(tls);
  const psk = tls.pskHint === undefined
    ? {}
    : {
        pskIdentityHint: tls.pskHint,
        // Node answers null with an unknown_psk_identity alert (TLS 1.2); TLS 1.3 falls back to a certificate handshake.
        pskCallback: (socket: TLSSocket, identity: string): Buffer | null => {
          const key = credentials.psk?.key(identity);
          pskAttempts.set(socket, { identity, known: key !== undefined });
          if (key !== undefined) rememberPskIdentity(socket, identity);
          return key ?? null;
        },
      };
  const options: TlsOptions = {
    ...credentials.context,
    requestCert: tls.requireCertificate,
    rejectUnauthorized: tls.requireCertificate,
    handshakeTimeout: handshakeTimeoutMs,
    ...psk,
  };
  return {
    options,
    attach(server, broker) {
      const forgetSessions = tls.pskHint === undefined ? cacheSessions(server) : () => undefined;
      logFailedHandshakes(server, broker);
      logPskWarnings(credentials, broker);
      return () => {
        const next = readTlsCredentials(tls); // throws before anything changes
        server.setSecureContext(next.context); // new ticket keys: the id cache goes with them
        forgetSessions();
        credentials = next;
        logPskWarnings(credentials, broker);
      };
    },
  };
}

/** The psk_file lines skipped (or overridden), each logged as it is read: at start and on every SIGHUP. */
function logPskWarnings(credentials: TlsCredentials, broker: Broker): void {
  const psk = credentials.psk;
  if (psk === undefined) return;
  for (const warning of psk.warnings) emit(broker, 'pskFileWarning', { file: psk.file, warning });
}

/** Session-id resumption from a bounded cache (tickets need nothing); returns what empties it. */
function cacheSessions(server: TlsServer): () => void {
  const sessions = new Map<string, Buffer>();
  server.on('newSession', (id: Buffer, data: Buffer, done: () => void) => {
    if (sessions.size >= SESSION_CACHE_SIZE) sessions.delete(sessions.keys().next().value as string);
    sessions.set(id.toString('hex'), data);
    done();
  });
  server.on('resumeSession', (id: Buffer, done: (error: Error | null, data: Buffer | null) => void) => {
    done(null, sessions.get(id.toString('hex')) ?? null);
  });
  return () => sessions.clear();
}

interface Peer {
  readonly address: string | undefined;
  readonly remotePort: number | undefined;
  readonly listenerPort: number | undefined;
}

function logFailedHandshakes(server: TlsServer, broker: Broker): void {
  // A socket whose certificate failed verification is destroyed by Node itself, then reported as
  // an ECONNRESET tlsClientError once its address is gone; that report comes synchronously from
  // within the 'close' event of the TCP socket underneath, so the address is taken from there.
  let closing: Peer | undefined;
  // When each handshake began (TCP accept), by the peer's address and port: the TLS socket Node
  // hands us is not the TCP one, and those two are what they share. Only while someone listens
  // for moat:tls:handshake-completed (the metrics' histogram).
  const completed = eventChannel('tlsHandshakeCompleted');
  const startedAt = new Map<string, number>();
  server.on('connection', (raw: Socket) => {
    const peer: Peer = { address: raw.remoteAddress, remotePort: raw.remotePort, listenerPort: raw.localPort };
    const timed = completed.hasSubscribers ? `${peer.address}:${peer.remotePort}` : undefined;
    if (timed !== undefined) startedAt.set(timed, performance.now());
    raw.once('close', () => {
      if (timed !== undefined) startedAt.delete(timed);
      closing = peer;
      queueMicrotask(() => {
        if (closing === peer) closing = undefined;
      });
    });
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    const began = startedAt.get(key);
    if (began === undefined) return;
    startedAt.delete(key);
    const durationMs = performance.now() - began;
    emit(broker, 'tlsHandshakeCompleted', { address: socket.remoteAddress, remotePort: socket.remotePort, listenerPort: socket.localPort, durationMs, protocol: socket.getProtocol() ?? undefined, resumed: socket.isSessionReused() });
  });
  server.on('tlsClientError', (error: Error, socket: TLSSocket) => {
    const peer: Peer =
      socket.remoteAddress === undefined && closing !== undefined
        ? closing
        : { address: socket.remoteAddress, remotePort: socket.remotePort, listenerPort: socket.localPort };
    const code = (error as NodeJS.ErrnoException).code;
    const refusal = refusalOf(socket, code);
    if (refusal !== undefined) {
      emit(broker, 'tlsClientRefused', { ...peer, ...refusal });
    } else if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') {
      emit(broker, 'tlsHandshakeFailed', { ...peer, reason: 'timeout' });
    } else {
      emit(broker, 'tlsHandshakeFailed', { ...peer, reason: error.message });
    }
    // Node reports a handshake timeout here but leaves the socket open (a client that sends nothing would stay forever).
    socket.destroy();
  });
}

/** What the log says about a client refused for its certificate or PSK; undefined for other failures. */
function refusalOf(socket: TLSSocket, code: string | undefined): { code: string; reason: string; pskIdentity?: string } | undefined {
  const verifyError = socket.authorizationError as unknown as string | null;
  if (typeof verifyError === 'string') return { code: verifyError, reason: CERTIFICATE_REFUSALS[verifyError] ?? `the client certificate failed verification (${verifyError})` };
  if (code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') return { code, reason: 'the client presented no certificate, and this listener requires one' };
  const attempt = pskAttempts.get(socket);
  if (attempt === undefined) return undefined;
  return {
    code: code ?? 'PSK',
    reason: attempt.known ? 'the client does not have the key psk_file gives its PSK identity' : 'the client’s PSK identity is not in psk_file',
    pskIdentity: attempt.identity,
  };
}

/** OpenSSL's verify results (X509_V_ERR_*, as Node names them) that client certificates run into. */
const CERTIFICATE_REFUSALS: Readonly<Record<string, string>> = {
  CERT_HAS_EXPIRED: 'the client certificate has expired',
  CERT_NOT_YET_VALID: 'the client certificate is not valid yet',
  CERT_REVOKED: 'the client certificate is revoked by crlfile',
  UNABLE_TO_GET_CRL: 'crlfile has no CRL from the CA of the client certificate',
  CRL_HAS_EXPIRED: 'the CRL in crlfile has expired; issue a fresh one and send SIGHUP',
  CRL_NOT_YET_VALID: 'the CRL in crlfile is not valid yet',
  CRL_SIGNATURE_FAILURE: 'the CRL in crlfile is not signed by the CA it names',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the client certificate is not signed by a CA of cafile/capath',
  UNABLE_TO_GET_ISSUER_CERT: 'the client certificate is not signed by a CA of cafile/capath',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the client certificate is not signed by a CA of cafile/capath',
  SELF_SIGNED_CERT_IN_CHAIN: 'the client certificate chains to a CA that is not in cafile/capath',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the client certificate is self-signed',
  CERT_SIGNATURE_FAILURE: 'the signature on the client certificate is wrong',
  INVALID_PURPOSE: 'the client certificate may not be used for client authentication (extendedKeyUsage)',
};
