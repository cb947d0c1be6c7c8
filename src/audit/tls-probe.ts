// One raw TLS handshake with the broker, to read what it offers: protocol version, certificate,
// chain validity and host name match. Verification is off for the read (so a bad certificate is
// reported, not a failed audit) and judged here instead.
import { isIP } from 'node:net';
import { checkServerIdentity, connect, type DetailedPeerCertificate, type TLSSocket } from 'node:tls';
import { MoatError } from '../codec/errors.js';
import { AuditError, finding, type Finding } from './findings.js';

export interface TlsFacts {
  /** 'TLSv1.3', 'TLSv1.2', ...; null if the handshake gave none. */
  readonly protocol: string | null;
  /** The chain verified against the trusted CAs. */
  readonly chainValid: boolean;
  /** OpenSSL's reason when it did not (SELF_SIGNED_CERT_IN_CHAIN, CERT_HAS_EXPIRED, ...). */
  readonly chainError: string | undefined;
  readonly subject: string;
  readonly issuer: string;
  readonly validTo: Date;
  /** checkServerIdentity's complaint, or undefined when the certificate names the host. */
  readonly hostnameError: string | undefined;
  /** The negotiated cipher suite (OpenSSL's name). */
  readonly cipher?: string;
  /** Subjects from the server certificate up its chain, as sent (and completed from the trusted CAs). */
  readonly chain?: readonly string[];
  /** Time from TCP connect to the end of the handshake. */
  readonly handshakeMs?: number;
  /**
   * With `watchMs`: how the server ended the connection within that time after the handshake
   * (a TLS alert's text, or 'closed'), undefined when it kept it open. A server that requires or
   * refuses a client certificate does this under TLS 1.3, where the check follows the handshake.
   */
  readonly droppedAfterHandshake?: string | undefined;
}

export interface TlsProbeOptions {
  /** PEM CA certificates to trust instead of Node's built-in list (--cafile). */
  readonly ca?: string | undefined;
  readonly timeoutMs: number;
  /** Client certificate and key (PEM), offered if the server asks for one. */
  readonly cert?: string | Buffer | undefined;
  readonly key?: string | Buffer | undefined;
  /** Keep the connection this long after the handshake to see whether the server drops it (see droppedAfterHandshake). */
  readonly watchMs?: number;
}

const PROTOCOL_RANK: Readonly<Record<string, number>> = { SSLv3: 0, TLSv1: 1, 'TLSv1.1': 2, 'TLSv1.2': 3, 'TLSv1.3': 4 };

/** Handshakes with host:port. Throws AuditError when no handshake is possible (closed port, not TLS). */
export async function inspectTls(host: string, port: number, options: TlsProbeOptions): Promise<TlsFacts> {
  try {
    return await handshake(host, port, options, false);
  } catch (error) {
    // OpenSSL's default security level refuses TLS < 1.2 outright; look again at level 0 so an old
    // server is reported as such rather than as unreachable.
    if (!(error instanceof Error) || !/protocol|version|handshake failure/i.test(error.message)) throw asAuditError(host, port, error);
    try {
      return await handshake(host, port, options, true);
    } catch {
      throw asAuditError(host, port, error);
    }
  }
}

function asAuditError(host: string, port: number, error: unknown): AuditError {
  const message = error instanceof Error ? error.message : String(error);
  return new AuditError(`cannot reach ${host}:${port} over TLS: ${message}. Check the host, the port and that the port speaks TLS.`, { cause: error });
}

function handshake(host: string, port: number, options: TlsProbeOptions, legacy: boolean): Promise<TlsFacts> {
  return new Promise((resolve, reject) => {
    const socket: TLSSocket = connect({
      host,
      port,
      ...(isIP(host) === 0 ? { servername: host } : {}),
      ...(options.ca !== undefined ? { ca: options.ca } : {}),
      ...(options.cert !== undefined ? { cert: options.cert } : {}),
      ...(options.key !== undefined ? { key: options.key } : {}),
      rejectUnauthorized: false,
      // The host name is judged separately below, so authorizationError is about the chain only.
      checkServerIdentity: () => undefined,
      minVersion: 'TLSv1',
      ...(legacy ? { ciphers: 'DEFAULT:@SECLEVEL=0' } : {}),
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new MoatError('MOAT_ERR_TLS_PROBE', `no TLS handshake within ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    let tcpAt = Date.now();
    socket.once('connect', () => (tcpAt = Date.now()));
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const handshakeMs = Date.now() - tcpAt;
      const cert: DetailedPeerCertificate = socket.getPeerCertificate(true);
      const protocol = socket.getProtocol();
      const cipher = socket.getCipher().standardName ?? socket.getCipher().name;
      const chainError = socket.authorized ? undefined : String(socket.authorizationError ?? 'unknown verification error');
      if (cert === undefined || cert.raw === undefined) {
        socket.destroy();
        reject(new MoatError('MOAT_ERR_TLS_PROBE', 'the server sent no certificate'));
        return;
      }
      const identity = checkServerIdentity(host.replace(/^\[(.*)\]$/, '$1'), cert);
      const facts: TlsFacts = {
        protocol,
        chainValid: chainError === undefined,
        chainError,
        subject: formatName(cert.subject),
        issuer: formatName(cert.issuer),
        validTo: new Date(cert.valid_to),
        hostnameError: identity?.message,
        cipher,
        chain: chainSubjects(cert),
        handshakeMs,
      };
      if ((options.watchMs ?? 0) <= 0) {
        socket.destroy();
        resolve(facts);
        return;
      }
      socket.removeAllListeners('error');
      const done = (dropped: string | undefined): void => {
        clearTimeout(watch);
        socket.destroy();
        resolve({ ...facts, droppedAfterHandshake: dropped });
      };
      const watch = setTimeout(() => done(undefined), options.watchMs);
      socket.once('error', (error) => done(error.message));
      socket.once('close', () => done('closed'));
      socket.resume();
    });
  });
}

/** Subject CNs (or full subjects) from the leaf up, stopping where a certificate issued itself. */
function chainSubjects(leaf: DetailedPeerCertificate): string[] {
  const out: string[] = [];
  let cert: DetailedPeerCertificate | undefined = leaf;
  while (cert !== undefined && out.length < 10) {
    out.push(formatName(cert.subject));
    if (cert.issuerCertificate === undefined || cert.issuerCertificate === cert || cert.issuerCertificate.raw?.equals(cert.raw) === true) break;
    cert = cert.issuerCertificate;
  }
  return out;
}

function formatName(name: object | undefined): string {
  if (name === undefined) return '(none)';
  return Object.entries(name as Record<string, string | string[]>).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`).join(', ') || '(empty)';
}

/** True when the negotiated protocol is older than TLS 1.2. */
export function belowTls12(protocol: string | null): boolean {
  return protocol !== null && (PROTOCOL_RANK[protocol] ?? 0) < (PROTOCOL_RANK['TLSv1.2'] ?? 3);
}

/** The TLS findings for what inspectTls saw at `url` (host `host`). `now` is a parameter so tests can pin expiry. */
export function tlsFindings(url: string, host: string, facts: TlsFacts, caGiven: boolean, now = new Date()): Finding[] {
  const out: Finding[] = [];
  out.push(belowTls12(facts.protocol)
    ? finding('tls-version', 'critical', `The broker negotiated ${facts.protocol ?? 'an unknown protocol'}`,
      'TLS versions before 1.2 have known attacks and are disabled by current clients.', 'tls_version tlsv1.2')
    : finding('tls-version', 'ok', `${facts.protocol ?? 'TLS'} negotiated`, ''));
  out.push(facts.chainValid
    ? finding('tls-certificate', 'ok', 'The certificate chain is valid', `${facts.subject}, issued by ${facts.issuer}, verified against ${caGiven ? 'the --cafile CA' : "the system's CAs"}.`)
    : finding('tls-certificate', 'critical', `The certificate chain does not verify: ${facts.chainError ?? ''}`,
      `${facts.subject}, issued by ${facts.issuer}; clients that check certificates refuse it, and clients that do not can be fooled by anyone on the path.`,
      caGiven ? 'certfile with the full chain (server certificate, then intermediates), signed by the CA passed with --cafile'
        : `moat audit ${url} --cafile /path/to/ca.crt (if the broker uses your own CA), or install a certificate from a public CA (certbot certonly --standalone -d ${host})`));
  const days = Math.floor((facts.validTo.getTime() - now.getTime()) / 86_400_000);
  const until = facts.validTo.toISOString().slice(0, 10);
  const renew = 'renew the certificate, replace certfile, then reload: kill -HUP $(pidof moat)';
  out.push(days < 0
    ? finding('tls-expiry', 'critical', `The certificate expired ${-days} day${days === -1 ? '' : 's'} ago (${until})`, 'Clients that check certificates refuse to connect.', renew)
    : days < 30
      ? finding('tls-expiry', 'warning', `The certificate expires in ${days} day${days === 1 ? '' : 's'} (${until})`, 'Renew it before clients start refusing it.', renew)
      : finding('tls-expiry', 'ok', `The certificate is valid for ${days} more days (until ${until})`, ''));
  out.push(facts.hostnameError === undefined
    ? finding('tls-hostname', 'ok', `The certificate names ${host}`, '')
    : finding('tls-hostname', 'critical', `The certificate does not name ${host}`, facts.hostnameError,
      `moat certs --san ${host} (development CA), or a certificate whose subjectAltName lists ${host}`));
  return out;
}
