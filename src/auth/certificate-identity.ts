// use_identity_as_username / use_subject_as_username: the client certificate a TLS listener
// verified becomes the client's user name, and the CONNECT's user name and password are ignored.
import { X509Certificate } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';

export type CertificateIdentity = 'common-name' | 'subject';

/**
 * The user name the peer certificate of `stream` gives, or undefined when there is no verified
 * certificate (a plain socket, or a TLS client that sent none).
 */
export function usernameFromCertificate(stream: Duplex, identity: CertificateIdentity): string | undefined {
  const socket = stream as Partial<TLSSocket>;
  if (socket.authorized !== true || typeof socket.getPeerX509Certificate !== 'function') return undefined;
  const certificate = socket.getPeerX509Certificate();
  if (certificate === undefined) return undefined;
  return identity === 'common-name' ? commonName(certificate) : rfc2253Subject(certificate);
}

function subjectAttributes(certificate: X509Certificate): string[] {
  // Node prints the subject one "KEY=value" per line, most general first (C, O, ..., CN).
  return certificate.subject.split('\n').filter((line) => line !== '');
}

function commonName(certificate: X509Certificate): string | undefined {
  const cn = subjectAttributes(certificate).find((line) => line.startsWith('CN='));
  return cn === undefined ? undefined : cn.slice(3);
}

/** The subject as Mosquitto prints it (OpenSSL's RFC 2253 form: most specific first, comma-separated). */
function rfc2253Subject(certificate: X509Certificate): string {
  return subjectAttributes(certificate)
    .reverse()
    .map((attribute) => {
      const at = attribute.indexOf('=');
      return `${attribute.slice(0, at)}=${escapeRfc2253(attribute.slice(at + 1))}`;
    })
    .join(',');
}

function escapeRfc2253(value: string): string {
  return value.replace(/[,+"\\<>;]/g, (c) => `\\${c}`).replace(/^[ #]/, (c) => `\\${c}`).replace(/ $/, '\\ ');
}
