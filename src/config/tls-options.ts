// The listener TLS options of mosquitto.conf (cafile, capath, certfile, keyfile, ciphers,
// tls_version, require_certificate): each sets a field of the listener's TlsDraft; parse.ts checks
// the combination (certificate and key together, a CA for client certificates).
import { bool, freeText, oneOf, setListener, type OptionContext, type OptionSpec, type TlsDraft } from './options.js';

function setTls(ctx: OptionContext, apply: (t: TlsDraft) => void): void {
  setListener(ctx, (l) => {
    apply(l.tls);
    l.tls.source ??= { file: ctx.line.file, line: ctx.line.line };
  });
}

/** A listener TLS option whose value is a path or free text. */
function tlsPath(option: 'cafile' | 'capath' | 'certfile' | 'keyfile' | 'ciphers', example: string): OptionSpec {
  return {
    scope: 'listener',
    example,
    apply: (ctx) => {
      const value = freeText(ctx, example);
      if (value !== undefined) setTls(ctx, (t) => (t[option] = value));
    },
  };
}

export const TLS_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  cafile: tlsPath('cafile', '/etc/moat/ca.crt'),
  capath: tlsPath('capath', '/etc/ssl/certs'),
  certfile: tlsPath('certfile', '/etc/moat/server.crt'),
  keyfile: tlsPath('keyfile', '/etc/moat/server.key'),
  ciphers: tlsPath('ciphers', 'ECDHE-ECDSA-AES128-GCM-SHA256'),
  tls_version: {
    scope: 'listener',
    example: 'tlsv1.2',
    apply: (ctx) => {
      const value = oneOf(ctx, ['tlsv1.2', 'tlsv1.3'] as const, 'tlsv1.2');
      if (value !== undefined) setTls(ctx, (t) => (t.tlsVersion = value));
    },
  },
  require_certificate: {
    scope: 'listener',
    example: 'true',
    apply: (ctx) => {
      const value = bool(ctx, 'true');
      if (value !== undefined) setTls(ctx, (t) => (t.requireCertificate = value));
    },
  },
};
