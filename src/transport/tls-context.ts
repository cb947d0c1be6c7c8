// The one place that turns a listener's TLS settings (mosquitto's cafile/capath/certfile/keyfile/
// tls_version/ciphers/ciphers_tls1.3/dhparamfile/require_certificate) into Node TLS options, shared by mqtts (tls.ts) and wss
// (ws.ts), and re-reads them on SIGHUP. Every file is read and parsed on its own first, so a
// missing file or bad PEM is reported with the file's name and the option that names it.
//
// Resumption works both ways a client may ask: session tickets (TLS 1.2 and 1.3, Node's default)
// and session ids (TLS 1.2 clients without tickets, from a bounded cache), so a slow device pays the
// full handshake once, not on every reconnect. A reload starts over (new ticket keys, empty cache):
// a session made under the old key is not resumed once the key is replaced.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSecureContext, DEFAULT_CIPHERS, type SecureContextOptions, type Server as TlsServer, type TlsOptions, type TLSSocket } from 'node:tls';
import type { Broker } from '../broker/broker.js';
import { CONFIG_DEFAULTS, type ListenerTlsConfig } from '../config/types.js';

/**
 * A handshake not finished in this time is dropped (`tls_handshake_timeout`, default 30 s): generous,
 * so 2-6 s ESP8266 handshakes pass, while a socket that never finishes one is reaped. The clock runs
 * from the TCP accept to the end of the handshake, however the bytes trickle in; the CONNECT timeout
 * (connect_timeout, enforced by the engine) only starts once the handshake is done.
 */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = CONFIG_DEFAULTS.tlsHandshakeTimeout * 1000;

/** TLS sessions kept for session-id resumption, per listener. */
const SESSION_CACHE_SIZE = 10_000;

/** A certificate or key file that cannot be used; `file` names it for the log. */
export class TlsFileError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message);
    this.name = 'TlsFileError';
  }
}

function readTlsFile(option: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new TlsFileError(file, `cannot read ${option} ${file}: ${(error as Error).message}`);
  }
}

function checkCertificate(option: string, file: string, pem: Buffer): void {
  try {
    new X509Certificate(pem);
  } catch (error) {
    throw new TlsFileError(file, `${option} ${file} is not a PEM certificate: ${(error as Error).message}`);
  }
}

/**
 * The secure-context part of the TLS options (certificate, key, CAs, versions, ciphers, session
 * settings): what `tls.createServer` takes at start and `server.setSecureContext` on reload.
 * Reads every file now; throws TlsFileError naming the first file that is unreadable or malformed.
 */
export function secureContextOptions(tls: ListenerTlsConfig): SecureContextOptions {
  if (tls.certfile === undefined || tls.keyfile === undefined) {
    throw new Error('a TLS listener needs certfile and keyfile'); // config/ refuses this first
  }
  const cert = readTlsFile('certfile', tls.certfile);
  checkCertificate('certfile', tls.certfile, cert);
  const key = readTlsFile('keyfile', tls.keyfile);
  try {
    createPrivateKey(key);
  } catch (error) {
    throw new TlsFileError(tls.keyfile, `keyfile ${tls.keyfile} is not a usable private key: ${(error as Error).message}`);
  }
  const ca: Buffer[] = [];
  if (tls.cafile !== undefined) {
    const pem = readTlsFile('cafile', tls.cafile);
    checkCertificate('cafile', tls.cafile, pem);
    ca.push(pem);
  }
  if (tls.capath !== undefined) ca.push(...readCaPath(tls.capath));
  const ciphers = cipherList(tls);
  const dhparam = tls.dhparamfile === undefined ? undefined : readDhParams(tls.dhparamfile);
  const options: SecureContextOptions = {
    cert,
    key,
    ...(ca.length > 0 ? { ca } : {}),
    minVersion: tls.tlsVersion === 'tlsv1.3' ? 'TLSv1.3' : 'TLSv1.2',
    ...(ciphers === undefined ? {} : { ciphers }),
    // Without dhparamfile, well-known parameters as strong as the key, as Mosquitto 2.0 gets from OpenSSL 3.
    dhparam: dhparam ?? 'auto',
    sessionIdContext: 'moat',
    sessionTimeout: 3600,
  };
  try {
    createSecureContext(options); // key/certificate mismatch, unknown ciphers: fail here, not on the first handshake
  } catch (error) {
    throw new TlsFileError(tls.certfile, `certfile ${tls.certfile} / keyfile ${tls.keyfile}: ${(error as Error).message}`);
  }
  return options;
}

/**
 * Node takes TLS 1.3 suites (TLS_*) and TLS 1.2 ciphers in one list, and a list without 1.2 ciphers
 * turns TLS 1.2 off: so each of `ciphers` (1.2) and `ciphers_tls1.3` keeps Node's default for the
 * other version, as each does in Mosquitto. undefined: neither is set, Node's defaults.
 */
function cipherList(tls: ListenerTlsConfig): string | undefined {
  if (tls.ciphers === undefined && tls.ciphersTls13 === undefined) return undefined;
  const defaults = DEFAULT_CIPHERS.split(':');
  const tls13 = tls.ciphersTls13 ?? defaults.filter((c) => c.startsWith('TLS_')).join(':');
  const tls12 = tls.ciphers ?? defaults.filter((c) => !c.startsWith('TLS_')).join(':');
  return `${tls13}:${tls12}`;
}

/** dhparamfile: Node silently ignores parameters it cannot read, so check that they are there. */
function readDhParams(file: string): Buffer {
  const pem = readTlsFile('dhparamfile', file);
  if (!pem.includes('-----BEGIN DH PARAMETERS-----')) {
    throw new TlsFileError(file, `dhparamfile ${file} holds no PEM DH parameters (make them with "openssl dhparam -out ${file} 2048")`);
  }
  return pem;
}

/** Everything a TLS (or HTTPS) server is created with: the secure context plus client-certificate and timeout settings. */
export function serverTlsOptions(tls: ListenerTlsConfig, handshakeTimeoutMs = DEFAULT_HANDSHAKE_TIMEOUT_MS): TlsOptions {
  return {
    ...secureContextOptions(tls),
    requestCert: tls.requireCertificate,
    rejectUnauthorized: tls.requireCertificate,
    handshakeTimeout: handshakeTimeoutMs,
  };
}

/** Every certificate file in a directory (mosquitto's capath). */
function readCaPath(dir: string): Buffer[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    throw new TlsFileError(dir, `cannot read capath ${dir}: ${(error as Error).message}`);
  }
  return names.filter((name) => /\.(pem|crt|cer)$/i.test(name)).map((name) => readTlsFile('capath file', join(dir, name)));
}

/**
 * Wires a TLS server (tls.Server, or https.Server for wss) for moat: the session-id cache, handshake
 * failures logged, and returns the reload function (re-reads the files and swaps the context; throws
 * TlsFileError and keeps the old context when a file is unusable; open connections are untouched).
 */
export function setUpTlsServer(server: TlsServer, broker: Broker, tls: ListenerTlsConfig): () => void {
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
    // Node reports a handshake timeout here but leaves the socket open (a client that sends nothing
    // would stay forever): close it. One line per socket; only timeouts are worth info, the rest
    // (scanners, resets, wrong CA) is routine and logged at debug.
    const timedOut = (error as NodeJS.ErrnoException).code === 'ERR_TLS_HANDSHAKE_TIMEOUT';
    const record = { event: 'tls_handshake_failed', address: socket.remoteAddress, remotePort: socket.remotePort, listenerPort: socket.localPort, reason: timedOut ? 'timeout' : error.message };
    if (timedOut) broker.logger.info(record, 'TLS handshake timed out; connection closed');
    else broker.logger.debug(record, 'TLS handshake failed');
    socket.destroy();
  });
  return () => {
    const options = secureContextOptions(tls); // throws before anything changes
    server.setSecureContext(options);
    sessions.clear();
  };
}
