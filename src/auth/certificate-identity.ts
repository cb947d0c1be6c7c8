// use_identity_as_username / use_subject_as_username: the client certificate a TLS listener
// verified becomes the client's user name, and the CONNECT's user name and password are ignored.
// The names are built from the certificate's DER exactly as Mosquitto builds them with OpenSSL: the
// raw Common Name value (X509_NAME_get_entry + ASN1_STRING_get0_data), or the subject printed with
// X509_NAME_print_ex(..., XN_FLAG_RFC2253). Node's X509Certificate.subject is escaped for display
// and one RDN per line, which is neither, so an ACL `user` line copied from openssl would not match.
// On a TLS-PSK listener (psk_hint) use_identity_as_username takes the PSK identity instead, as
// Mosquitto does; the transport records it when the handshake looks the key up.
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import forge from 'node-forge';
import { MoatError } from '../codec/errors.js';

/** Where the user name comes from: the certificate's CN, its whole subject, or the TLS-PSK identity. */
export type CertificateIdentity = 'common-name' | 'subject' | 'psk-identity';

export type CertificateUsername = { readonly username: string } | { readonly problem: string };

const pskIdentities = new WeakMap<object, string>();

/** The PSK identity a TLS-PSK handshake on `socket` found a key for (called by the transport's pskCallback). */
export function rememberPskIdentity(socket: TLSSocket, identity: string): void {
  pskIdentities.set(socket, identity);
}

/** The user name the verified peer certificate (or PSK identity) of `stream` gives, or why there is none. */
export function usernameFromCertificate(stream: Duplex, identity: CertificateIdentity): CertificateUsername {
  if (identity === 'psk-identity') {
    const name = pskIdentities.get(stream);
    return name === undefined ? { problem: 'this listener takes the user name from the PSK identity, and the client did not use a PSK' } : { username: name };
  }
  const socket = stream as Partial<TLSSocket>;
  const raw = socket.authorized === true && typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate().raw : undefined;
  if (raw === undefined || raw.length === 0) return { problem: 'this listener takes the user name from the client certificate, and the client presented none' };
  let entries: readonly NameEntry[];
  try {
    entries = subjectEntries(raw);
  } catch {
    return { problem: 'the client certificate could not be read' };
  }
  if (identity === 'subject') return { username: rfc2253(entries) };
  const cn = entries.find((entry) => entry.oid === COMMON_NAME);
  if (cn === undefined) return { problem: 'the client certificate has no Common Name (CN) to use as the user name' };
  const value = stringValue(cn);
  // Mosquitto refuses a CN with an embedded NUL: as a C string it would name a shorter user.
  if (value === undefined || value.includes('\0')) return { problem: 'the Common Name of the client certificate is not a usable user name' };
  return { username: value };
}

/** One AttributeTypeAndValue of the subject, in DER order; `set` numbers the RDN it belongs to. */
export interface NameEntry {
  readonly oid: string;
  readonly set: number;
  readonly tag: number;
  /** The value's content octets, as forge's binary string. */
  readonly bytes: string;
  /** The value's whole DER encoding, for #hex dumps. */
  readonly der: string;
}

const COMMON_NAME = '2.5.4.3';

/** Certificate → tbsCertificate → [version] serial signature issuer validity **subject**. */
export function subjectEntries(der: Buffer): NameEntry[] {
  const certificate = forge.asn1.fromDer(forge.util.createBuffer(der.toString('binary')));
  const tbs = children(children(certificate)[0]);
  const first = tbs[0];
  const offset = first !== undefined && first.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC ? 1 : 0;
  return nameEntries(tbs[offset + 4]);
}

/** The AttributeTypeAndValues of an X.501 Name (a certificate's subject or issuer, a CRL's issuer), in DER order. */
export function nameEntries(name: forge.asn1.Asn1 | undefined): NameEntry[] {
  const entries: NameEntry[] = [];
  children(name).forEach((rdn, set) => {
    for (const attribute of children(rdn)) {
      const [type, value] = children(attribute);
      if (type === undefined || value === undefined || typeof value.value !== 'string') throw new MoatError('MOAT_ERR_BAD_CERTIFICATE', 'malformed name attribute');
      entries.push({ oid: forge.asn1.derToOid(forge.util.createBuffer(type.value as string)), set, tag: value.type, bytes: value.value, der: forge.asn1.toDer(value).getBytes() });
    }
  });
  return entries;
}

function children(node: forge.asn1.Asn1 | undefined): forge.asn1.Asn1[] {
  if (node === undefined || !Array.isArray(node.value)) throw new MoatError('MOAT_ERR_BAD_CERTIFICATE', 'malformed certificate');
  return node.value;
}

const STRING_TYPES = { utf8: 12, printable: 19, t61: 20, ia5: 22, universal: 28, bmp: 30 } as const;

/** The value as text, as OpenSSL's UTF-8 conversion reads it; undefined for non-string types. */
function stringValue(entry: NameEntry): string | undefined {
  const bytes = Buffer.from(entry.bytes, 'binary');
  switch (entry.tag) {
    case STRING_TYPES.utf8:
      return bytes.toString('utf8');
    case STRING_TYPES.printable:
    case STRING_TYPES.t61:
    case STRING_TYPES.ia5:
      return bytes.toString('latin1');
    case STRING_TYPES.bmp:
      return bytes.swap16().toString('utf16le');
    case STRING_TYPES.universal: {
      let text = '';
      for (let i = 0; i + 3 < bytes.length; i += 4) text += String.fromCodePoint(bytes.readUInt32BE(i));
      return text;
    }
    default:
      return undefined;
  }
}

/** OpenSSL's short names (OBJ_nid2sn) for the attributes certificates use. */
const SHORT_NAMES: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN',
  '2.5.4.4': 'SN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'street',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.12': 'title',
  '2.5.4.13': 'description',
  '2.5.4.15': 'businessCategory',
  '2.5.4.17': 'postalCode',
  '2.5.4.41': 'name',
  '2.5.4.42': 'GN',
  '2.5.4.43': 'initials',
  '2.5.4.44': 'generationQualifier',
  '2.5.4.46': 'dnQualifier',
  '2.5.4.65': 'pseudonym',
  '2.5.4.97': 'organizationIdentifier',
  '0.9.2342.19200300.100.1.1': 'UID',
  '0.9.2342.19200300.100.1.25': 'DC',
  '1.2.840.113549.1.9.1': 'emailAddress',
};

/**
 * XN_FLAG_RFC2253: entries most specific first (the whole list reversed), '+' inside a
 * multi-valued RDN and ',' between RDNs, short names, values escaped as ASN1_STRFLGS_RFC2253 does;
 * unknown attribute types and non-string values are dumped as #hex of their DER.
 */
export function rfc2253(entries: readonly NameEntry[]): string {
  let out = '';
  const reversed = [...entries].reverse();
  reversed.forEach((entry, i) => {
    if (i > 0) out += reversed[i - 1]?.set === entry.set ? '+' : ',';
    const name = SHORT_NAMES[entry.oid];
    const text = name === undefined ? undefined : stringValue(entry);
    out += `${name ?? entry.oid}=${text === undefined ? `#${Buffer.from(entry.der, 'binary').toString('hex').toUpperCase()}` : escapeRfc2253(text)}`;
  });
  return out;
}

const SPECIAL = new Set([',', '+', '"', '\\', '<', '>', ';']);

/** Backslash before RFC 2253 specials (and a leading '#' or space, a trailing space); \XX for control bytes and every byte of non-ASCII UTF-8. */
function escapeRfc2253(value: string): string {
  const bytes = Buffer.from(value, 'utf8');
  let out = '';
  bytes.forEach((byte, i) => {
    const char = String.fromCharCode(byte);
    if (byte < 0x20 || byte >= 0x7f) out += `\\${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    else if (SPECIAL.has(char) || (i === 0 && (char === '#' || char === ' ')) || (i === bytes.length - 1 && char === ' ')) out += `\\${char}`;
    else out += char;
  });
  return out;
}
