// The X.509 structures of `moat certs`, built and signed with @peculiar/x509 on Node's WebCrypto:
// a self-signed development CA, and server and client certificates it signs, with the extensions
// TLS stacks check (basicConstraints, keyUsage, extendedKeyUsage, key identifiers, SANs).
import { createHash, createPrivateKey, randomBytes, webcrypto, X509Certificate as NodeX509 } from 'node:crypto';
import type * as X509 from '@peculiar/x509';
import { MoatError } from '../codec/errors.js';
import { importSigningKey, signingKeyOf, type KeyPair, type SigningKey } from './keys.js';

let library: Promise<typeof X509> | undefined;

/**
 * Loaded on first use: the library and its reflect-metadata polyfill cost ~200 ms and ~20 MB, which
 * the broker (the same `moat` binary) should not pay at start. The polyfill must load first.
 */
function x509(): Promise<typeof X509> {
  library ??= (async () => {
    await import('reflect-metadata');
    const lib = await import('@peculiar/x509');
    lib.cryptoProvider.set(webcrypto as unknown as Crypto);
    return lib;
  })();
  return library;
}

export interface SubjectAltName {
  readonly type: 'DNS' | 'IP';
  readonly value: string;
}

/** The CA that signs: its certificate (PEM), subject, key identifier and key. */
export interface Issuer {
  readonly pem: string;
  readonly notAfter: Date;
  readonly key: SigningKey;
  readonly subject: X509.Name;
  /** Hex subjectKeyIdentifier: the authorityKeyIdentifier of what it signs. */
  readonly keyId: string;
}

/** One signed certificate and what a manifest records about it. */
export interface Issued {
  readonly pem: string;
  readonly notAfter: Date;
  /** Upper-case hex, as openssl and Node print it. */
  readonly serial: string;
  /** SHA-256 of the DER, colon-separated upper-case hex (as `openssl x509 -fingerprint -sha256`). */
  readonly sha256: string;
}

export async function createCa(keys: KeyPair, days: number, host: string): Promise<Issuer> {
  const lib = await x509();
  const signing = signingKeyOf(keys);
  const subject = new lib.Name([{ CN: [`moat development CA (${host})`] }, { O: ['moat'] }]);
  const ski = await lib.SubjectKeyIdentifierExtension.create(keys.keys.publicKey);
  const cert = await lib.X509CertificateGenerator.create({
    ...serialAndValidity(days),
    subject,
    issuer: subject,
    publicKey: keys.keys.publicKey,
    signingKey: signing.privateKey,
    signingAlgorithm: signing.algorithm,
    extensions: [
      // pathLength 0: a development CA signs certificates, never other CAs.
      new lib.BasicConstraintsExtension(true, 0, true),
      new lib.KeyUsagesExtension(lib.KeyUsageFlags.keyCertSign | lib.KeyUsageFlags.cRLSign, true),
      ski,
    ],
  });
  return { pem: cert.toString('pem'), notAfter: cert.notAfter, key: signing, subject, keyId: ski.keyId };
}

/**
 * An existing CA (ca.crt + ca.key, RSA or ECDSA, from moat or openssl). Throws an Error saying what
 * is wrong with it: not a CA, a key that is not its own, a key type WebCrypto cannot sign with.
 */
export async function loadCa(certPem: string, keyPem: string): Promise<Issuer> {
  const lib = await x509();
  const node = new NodeX509(certPem);
  if (!node.ca) throw new MoatError('MOAT_ERR_CA_UNUSABLE', 'it is not a CA certificate (basicConstraints CA:TRUE)');
  const key = await importSigningKey(keyPem);
  if (!node.checkPrivateKey(createPrivateKey(keyPem))) throw new MoatError('MOAT_ERR_CA_UNUSABLE', 'the key does not belong to the certificate');
  const cert = new lib.X509Certificate(certPem);
  const ski = cert.getExtension(lib.SubjectKeyIdentifierExtension);
  const keyId = ski?.keyId ?? (await lib.SubjectKeyIdentifierExtension.create(cert.publicKey)).keyId;
  return { pem: certPem, notAfter: cert.notAfter, key, subject: cert.subjectName, keyId };
}

export interface LeafOptions {
  readonly commonName: string;
  readonly days: number;
  readonly extKeyUsage: 'serverAuth' | 'clientAuth';
  readonly sans: readonly SubjectAltName[];
}

export async function issue(ca: Issuer, keys: KeyPair, options: LeafOptions): Promise<Issued> {
  const lib = await x509();
  // RFC 5480: an ECDSA key only signs; keyEncipherment is for RSA key transport (TLS 1.2 RSA kx).
  const usage = keys.type === 'ec' ? lib.KeyUsageFlags.digitalSignature : lib.KeyUsageFlags.digitalSignature | lib.KeyUsageFlags.keyEncipherment;
  // Exported once, for the key identifier and the certificate.
  const publicKey = await lib.PublicKey.create(keys.keys.publicKey);
  const extensions: X509.Extension[] = [
    new lib.BasicConstraintsExtension(false, undefined, true),
    new lib.KeyUsagesExtension(usage, true),
    new lib.ExtendedKeyUsageExtension([options.extKeyUsage === 'serverAuth' ? lib.ExtendedKeyUsage.serverAuth : lib.ExtendedKeyUsage.clientAuth]),
    await lib.SubjectKeyIdentifierExtension.create(publicKey),
    new lib.AuthorityKeyIdentifierExtension(ca.keyId),
  ];
  if (options.sans.length > 0) {
    extensions.push(new lib.SubjectAlternativeNameExtension(options.sans.map((san) => ({ type: san.type === 'IP' ? ('ip' as const) : ('dns' as const), value: san.value }))));
  }
  const cert = await lib.X509CertificateGenerator.create({
    ...serialAndValidity(options.days),
    subject: new lib.Name([{ CN: [options.commonName] }]),
    issuer: ca.subject,
    publicKey,
    signingKey: ca.key.privateKey,
    signingAlgorithm: ca.key.algorithm,
    extensions,
  });
  const der = Buffer.from(cert.rawData);
  return {
    pem: cert.toString('pem'),
    notAfter: cert.notAfter,
    serial: cert.serialNumber.toUpperCase(),
    sha256: createHash('sha256').update(der).digest('hex').toUpperCase().replace(/(..)(?!$)/g, '$1:'),
  };
}

function serialAndValidity(days: number): { serialNumber: string; notBefore: Date; notAfter: Date } {
  // 16 random bytes, first byte in 0x40..0x7f: positive, and minimal DER (no leading zero byte).
  const serial = randomBytes(16);
  serial[0] = ((serial[0] ?? 0) & 0x3f) | 0x40;
  const now = Date.now();
  return {
    serialNumber: serial.toString('hex'),
    // A few minutes back, so a client whose clock is slightly behind still accepts a fresh certificate.
    notBefore: new Date(now - 5 * 60_000),
    notAfter: new Date(now + days * 86_400_000),
  };
}
