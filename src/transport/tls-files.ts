// A TLS listener's files (certfile, keyfile, cafile, capath, crlfile, dhparamfile, psk_file) read into what
// Node's TLS takes, at start and on SIGHUP. Every file is read and parsed on its own first, so a
// missing file or bad PEM is reported with the file's name and the option that names it.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants, createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext, DEFAULT_CIPHERS, type SecureContextOptions } from 'node:tls';
import { MoatError } from '../codec/errors.js';
import { PskFile } from '../auth/psk-file.js';
import { ConfigError } from '../config/errors.js';
import type { ListenerTlsConfig } from '../config/types.js';
import { caName, parseCrl, pemBlocks, signedBy, type Crl } from './crl-file.js';

/** A certificate, key, CRL or PSK file that cannot be used; `file` names it for the log. */
export class TlsFileError extends MoatError {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super('MOAT_ERR_TLS_FILE', message);
    this.name = 'TlsFileError';
  }
}

/** What a listener's files give: the secure context, and the keys of a psk_hint listener. */
export interface TlsCredentials {
  readonly context: SecureContextOptions;
  readonly psk: PskFile | undefined;
}

/**
 * Node's default cipher list leaves TLS-PSK out (it ends in !PSK): a psk_hint listener without its
 * own `ciphers` offers the PSK suites with forward secrecy first, then PSK-only ones (what
 * constrained devices have), then Node's TLS 1.2 defaults for certificate clients. TLS 1.3 needs none of
 * these: its suites work with a PSK as they are (cipherList adds them).
 */
export const PSK_CIPHERS = [
  'ECDHE-PSK-CHACHA20-POLY1305',
  'ECDHE-PSK-AES256-CBC-SHA384',
  'ECDHE-PSK-AES128-CBC-SHA256',
  'PSK-AES256-GCM-SHA384',
  'PSK-AES128-GCM-SHA256',
  'PSK-CHACHA20-POLY1305',
  'PSK-AES128-CCM',
  ...DEFAULT_CIPHERS.split(':').filter((c) => c !== '!PSK' && !c.startsWith('TLS_')),
].join(':');

/** Reads every file of the listener now; throws TlsFileError naming the first unusable one. */
export function readTlsCredentials(tls: ListenerTlsConfig, now = new Date()): TlsCredentials {
  return { context: secureContextOptions(tls, now), psk: tls.pskFile === undefined ? undefined : readPskFile(tls.pskFile) };
}

function readPskFile(file: string): PskFile {
  try {
    return PskFile.load(file);
  } catch (error) {
    if (error instanceof ConfigError) throw new TlsFileError(file, error.message);
    throw error;
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
 * The secure-context part of the TLS options (certificate, key, CAs, CRLs, versions, ciphers,
 * session settings): what `tls.createServer` takes at start and `server.setSecureContext` on reload.
 */
export function secureContextOptions(tls: ListenerTlsConfig, now = new Date()): SecureContextOptions {
  const psk = tls.pskHint !== undefined;
  if ((tls.certfile === undefined || tls.keyfile === undefined) && !psk) {
    throw new MoatError('MOAT_ERR_INVALID_OPTION', 'a TLS listener needs certfile and keyfile'); // config/ refuses this first
  }
  const identity: SecureContextOptions = {};
  if (tls.certfile !== undefined && tls.keyfile !== undefined) {
    identity.cert = readTlsFile('certfile', tls.certfile);
    checkCertificate('certfile', tls.certfile, identity.cert);
    identity.key = readTlsFile('keyfile', tls.keyfile);
    try {
      createPrivateKey(identity.key);
    } catch (error) {
      throw new TlsFileError(tls.keyfile, `keyfile ${tls.keyfile} is not a usable private key: ${(error as Error).message}`);
    }
  }
  const ca: { file: string; pem: Buffer }[] = [];
  if (tls.cafile !== undefined) {
    const pem = readTlsFile('cafile', tls.cafile);
    checkCertificate('cafile', tls.cafile, pem);
    ca.push({ file: tls.cafile, pem });
  }
  if (tls.capath !== undefined) ca.push(...readCaPath(tls.capath));
  const crl = tls.crlfile === undefined ? undefined : readCrlFile(tls.crlfile, ca, now);
  const ciphers = cipherList(tls);
  const dhparam = tls.dhparamfile === undefined ? undefined : readDhParams(tls.dhparamfile);
  const options: SecureContextOptions = {
    ...identity,
    ...(ca.length > 0 ? { ca: ca.map((c) => c.pem) } : {}),
    ...(crl === undefined ? {} : { crl: crl.map((c) => c.pem) }),
    minVersion: tls.tlsVersion === 'tlsv1.3' ? 'TLSv1.3' : 'TLSv1.2',
    ...(ciphers === undefined ? {} : { ciphers }),
    // Without dhparamfile, well-known parameters as strong as the key, as Mosquitto 2.0 gets from OpenSSL 3.
    dhparam: dhparam ?? 'auto',
    sessionIdContext: 'moat',
    sessionTimeout: 3600,
    // A resumed TLS 1.3 session does not tell which PSK identity it was made with: PSK listeners
    // do full handshakes (cheap ones: no certificate signature), see tls-context.ts.
    ...(psk ? { secureOptions: constants.SSL_OP_NO_TICKET } : {}),
  };
  try {
    createSecureContext(options); // key/certificate mismatch, unknown ciphers: fail here, not on the first handshake
  } catch (error) {
    const what = tls.certfile !== undefined ? `certfile ${tls.certfile} / keyfile ${tls.keyfile ?? ''}` : `ciphers ${ciphers ?? ''}`;
    throw new TlsFileError(tls.certfile ?? tls.pskFile ?? '', `${what}: ${(error as Error).message}`);
  }
  return options;
}

/**
 * Node takes TLS 1.3 suites (TLS_*) and TLS 1.2 ciphers in one list, and a list without 1.2 ciphers
 * turns TLS 1.2 off: so each of `ciphers` (1.2) and `ciphers_tls1.3` keeps the default for the other
 * version, as each does in Mosquitto. The TLS 1.2 default is Node's, or PSK_CIPHERS on a psk_hint
 * listener. undefined: Node's defaults for both.
 */
function cipherList(tls: ListenerTlsConfig): string | undefined {
  const psk = tls.pskHint !== undefined;
  if (tls.ciphers === undefined && tls.ciphersTls13 === undefined && !psk) return undefined;
  const defaults = DEFAULT_CIPHERS.split(':');
  const tls13 = tls.ciphersTls13 ?? defaults.filter((c) => c.startsWith('TLS_')).join(':');
  const tls12 = tls.ciphers ?? (psk ? PSK_CIPHERS : defaults.filter((c) => !c.startsWith('TLS_')).join(':'));
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

/** Every certificate file in a directory (mosquitto's capath). */
function readCaPath(dir: string): { file: string; pem: Buffer }[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    throw new TlsFileError(dir, `cannot read capath ${dir}: ${(error as Error).message}`);
  }
  return names.filter((name) => /\.(pem|crt|cer)$/i.test(name)).map((name) => ({ file: join(dir, name), pem: readTlsFile('capath file', join(dir, name)) }));
}

/**
 * The CRLs of a crlfile, each checked the way OpenSSL will use it: issued and signed by a CA of
 * cafile/capath, current, and one for every such CA (Node checks the whole chain).
 */
function readCrlFile(file: string, cas: readonly { file: string; pem: Buffer }[], now: Date): Crl[] {
  const blocks = pemBlocks(readTlsFile('crlfile', file).toString('utf8'));
  const other = blocks.find((b) => b.label !== 'X509 CRL');
  if (other !== undefined) {
    throw new TlsFileError(file, `crlfile ${file} holds a "${other.label}" block, but only CRLs (-----BEGIN X509 CRL-----) belong there. Fix: put CA certificates in cafile, and nothing but CRLs in crlfile`);
  }
  if (blocks.length === 0) {
    throw new TlsFileError(file, `crlfile ${file} holds no PEM CRL (-----BEGIN X509 CRL-----). Fix: write one with "openssl ca -gencrl -out ${file}" (convert a DER CRL with "openssl crl -inform DER -in crl.der -out ${file}")`);
  }
  const crls = blocks.map((block, i) => {
    try {
      createSecureContext({ crl: block.pem }); // what OpenSSL itself makes of it
      return parseCrl(block.pem);
    } catch (error) {
      throw new TlsFileError(file, `CRL ${i + 1} of crlfile ${file} cannot be read: ${(error as Error).message}. Fix: write the file again with "openssl ca -gencrl -out ${file}"`);
    }
  });
  const authorities = cas.flatMap((ca) =>
    pemBlocks(ca.pem.toString('utf8'))
      .filter((b) => b.label === 'CERTIFICATE')
      .map((b) => {
        const certificate = new X509Certificate(b.pem);
        return { file: ca.file, certificate, name: caName(certificate) };
      }),
  );
  const names = authorities.map((a) => `"${a.name}"`).join(', ');
  for (const crl of crls) {
    const of = `the CRL of "${crl.issuer}" in crlfile ${file}`;
    const signer = authorities.find((a) => a.name === crl.issuer);
    if (signer === undefined) {
      throw new TlsFileError(file, `${of} is from no CA of cafile/capath (${names || 'none'}). Fix: use the CRL of the CA that signs the client certificates ("openssl ca -gencrl" with that CA)`);
    }
    if (signedBy(crl, signer.certificate) === false) {
      throw new TlsFileError(file, `${of} is not signed by the key of that CA (${signer.file}), so OpenSSL would refuse every client certificate it covers. Fix: issue the CRL again with the CA's current key`);
    }
    if (crl.nextUpdate !== undefined && crl.nextUpdate.getTime() < now.getTime()) {
      throw new TlsFileError(file, `${of} expired at ${crl.nextUpdate.toISOString()} (its next update), and OpenSSL refuses every client certificate checked against an expired CRL. Fix: issue a fresh one ("openssl ca -gencrl -out ${file}") and send SIGHUP`);
    }
    if (crl.thisUpdate.getTime() > now.getTime()) {
      throw new TlsFileError(file, `${of} is only valid from ${crl.thisUpdate.toISOString()}, and OpenSSL refuses every client certificate checked against it until then. Fix: check this machine's clock, or the clock of the machine that issued the CRL`);
    }
  }
  for (const authority of authorities) {
    if (crls.some((crl) => crl.issuer === authority.name)) continue;
    throw new TlsFileError(
      file,
      `crlfile ${file} has no CRL from the CA "${authority.name}" (${authority.file}); Node checks every certificate of a client's chain against its CA's CRL, ` +
        `so every client certificate issued under that CA would be refused (Mosquitto checks the client's own certificate only). ` +
        `Fix: add that CA's CRL to the file (cat its-crl.pem >> ${file}), or remove the CA from cafile/capath`,
    );
  }
  return crls;
}
