// Certificate revocation lists as OpenSSL will use them, read ahead so a crlfile that would refuse
// every client (a CRL from another CA, an expired one, one a CA did not sign) is reported at start
// or on SIGHUP, naming the file, instead of as a refused handshake per client. Node checks every
// certificate of a client's chain against a CRL (X509_V_FLAG_CRL_CHECK_ALL), so every CA a client
// chains through needs one; Mosquitto checks the client's own certificate only.
import { verify, type X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { MoatError } from '../codec/errors.js';
import { nameEntries, rfc2253, subjectEntries } from '../auth/certificate-identity.js';

/** One CRL of a crlfile. */
export interface Crl {
  /** The PEM block, as Node's `crl` option takes it (one CRL per entry). */
  readonly pem: string;
  /** Its issuer in RFC 2253 form, as `openssl crl -noout -issuer -nameopt RFC2253` prints it. */
  readonly issuer: string;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date | undefined;
  /** tbsCertList, signatureAlgorithm and signatureValue, for checking who signed it. */
  readonly signed: { readonly tbs: Buffer; readonly algorithm: string; readonly signature: Buffer };
}

/** The PEM blocks of `text`: their label (e.g. "X509 CRL") and text. */
export function pemBlocks(text: string): { label: string; pem: string }[] {
  return [...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g)].map((m) => ({ label: m[1] ?? '', pem: m[0] }));
}

/** Parses one PEM CRL; throws with what is wrong. */
export function parseCrl(pem: string): Crl {
  const der = forge.util.decode64(pem.replace(/-----[A-Z0-9 ]+-----/g, '').replace(/\s+/g, ''));
  const list = forge.asn1.fromDer(forge.util.createBuffer(der));
  const [tbs, algorithm, signature] = sequence(list);
  const fields = sequence(tbs);
  // version is optional (v1 CRLs have none): it is the only INTEGER that can come first.
  const offset = fields[0]?.type === forge.asn1.Type.INTEGER ? 1 : 0;
  const issuer = rfc2253(nameEntries(fields[offset + 1]));
  const thisUpdate = time(fields[offset + 2]);
  const next = fields[offset + 3];
  const nextUpdate = next !== undefined && isTime(next) ? time(next) : undefined;
  const algorithmOid = sequence(algorithm)[0];
  // forge parses a BIT STRING that holds DER (an ECDSA signature does) and keeps the bytes aside.
  const signatureBits = (signature as { bitStringContents?: string } | undefined)?.bitStringContents ?? signature?.value;
  if (tbs === undefined || algorithmOid === undefined || typeof signatureBits !== 'string') throw new MoatError('MOAT_ERR_BAD_CRL', 'not a CertificateList');
  return {
    pem,
    issuer,
    thisUpdate,
    nextUpdate,
    signed: {
      tbs: Buffer.from(forge.asn1.toDer(tbs).getBytes(), 'binary'),
      algorithm: forge.asn1.derToOid(forge.util.createBuffer(algorithmOid.value as string)),
      // BIT STRING: the first octet counts unused bits (0 for signatures).
      signature: Buffer.from(signatureBits.slice(1), 'binary'),
    },
  };
}

/** The subject of a CA certificate in the same form as Crl.issuer. */
export function caName(certificate: X509Certificate): string {
  return rfc2253(subjectEntries(certificate.raw));
}

/** Hash of each signature algorithm a CRL may use; null: the key type fixes it (Ed25519, Ed448). */
const SIGNATURE_HASHES: Readonly<Record<string, string | null>> = {
  '1.2.840.113549.1.1.5': 'sha1',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.3.101.112': null,
  '1.3.101.113': null,
};

/** False when `ca` did not sign `crl`; undefined when the algorithm is one moat does not check (RSA-PSS): OpenSSL judges it per handshake. */
export function signedBy(crl: Crl, ca: X509Certificate): boolean | undefined {
  const hash = SIGNATURE_HASHES[crl.signed.algorithm];
  if (hash === undefined) return undefined;
  try {
    return verify(hash, crl.signed.tbs, ca.publicKey, crl.signed.signature);
  } catch {
    return false;
  }
}

function sequence(node: forge.asn1.Asn1 | undefined): forge.asn1.Asn1[] {
  if (node === undefined || !Array.isArray(node.value)) throw new MoatError('MOAT_ERR_BAD_CRL', 'not a CertificateList');
  return node.value;
}

function isTime(node: forge.asn1.Asn1): boolean {
  return node.tagClass === forge.asn1.Class.UNIVERSAL && (node.type === forge.asn1.Type.UTCTIME || node.type === forge.asn1.Type.GENERALIZEDTIME);
}

function time(node: forge.asn1.Asn1 | undefined): Date {
  if (node === undefined || !isTime(node) || typeof node.value !== 'string') throw new MoatError('MOAT_ERR_BAD_CRL', 'a CRL date is missing');
  return node.type === forge.asn1.Type.UTCTIME ? forge.asn1.utcTimeToDate(node.value) : forge.asn1.generalizedTimeToDate(node.value);
}
