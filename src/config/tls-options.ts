// The listener TLS options of mosquitto.conf (cafile, capath, certfile, keyfile, crlfile, ciphers,
// ciphers_tls1.3, dhparamfile, tls_keyform pem, tls_version, require_certificate,
// use_identity_as_username, use_subject_as_username, psk_hint) and moat's tls_handshake_timeout:
// each sets a field of the listener's TlsDraft; tls-listener.ts checks the combination (certificate
// and key together, a CA for client certificates, a required client certificate or a PSK for the
// username options, a psk_file for psk_hint).
import { CONFIG_ISSUE_KINDS } from './errors.js';
import { MAX_PSK_IDENTITY_BYTES } from './types.js';
import { bool, freeText, oneOf, setListener, wholeNumber, type OptionContext, type OptionSpec, type TlsDraft } from './option-kit.js';

function setTls(ctx: OptionContext, apply: (t: TlsDraft) => void): void {
  setListener(ctx, (l) => {
    apply(l.tls);
    l.tls.source ??= { file: ctx.line.file, line: ctx.line.line };
  });
}

/** A listener TLS option whose value is a path or free text. */
function tlsPath(option: 'cafile' | 'capath' | 'certfile' | 'keyfile' | 'crlfile' | 'ciphers' | 'ciphersTls13' | 'dhparamfile', example: string): OptionSpec {
  return {
    scope: 'listener',
    example,
    apply: (ctx) => {
      const value = freeText(ctx, example);
      if (value === undefined) return;
      setTls(ctx, (t) => {
        t[option] = value;
        if (option === 'crlfile') (t.optionLines ??= {}).crlfile = { file: ctx.line.file, line: ctx.line.line };
      });
    },
  };
}

export const TLS_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  cafile: tlsPath('cafile', '/etc/moat/ca.crt'),
  capath: tlsPath('capath', '/etc/ssl/certs'),
  certfile: tlsPath('certfile', '/etc/moat/server.crt'),
  keyfile: tlsPath('keyfile', '/etc/moat/server.key'),
  crlfile: tlsPath('crlfile', '/etc/moat/crl.pem'),
  ciphers: tlsPath('ciphers', 'ECDHE-ECDSA-AES128-GCM-SHA256'),
  'ciphers_tls1.3': tlsPath('ciphersTls13', 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256'),
  dhparamfile: tlsPath('dhparamfile', '/etc/moat/dhparam.pem'),
  // Only "pem" (key files, the default); "engine" is refused in never.ts. Nothing to record.
  tls_keyform: {
    scope: 'listener',
    example: 'pem',
    apply: (ctx) => {
      if (oneOf(ctx, ['pem'] as const, 'pem') !== undefined) setTls(ctx, () => {});
    },
  },
  // Makes the listener a TLS-PSK listener; the keys come from psk_file. TLS 1.3 never sends the hint.
  psk_hint: {
    scope: 'listener',
    example: 'moat',
    apply: (ctx) => {
      const value = freeText(ctx, 'moat');
      if (value === undefined) return;
      if (Buffer.byteLength(value) > MAX_PSK_IDENTITY_BYTES) {
        ctx.error(
          CONFIG_ISSUE_KINDS.invalidValue,
          `psk_hint is ${Buffer.byteLength(value)} bytes long; TLS-PSK carries at most ${MAX_PSK_IDENTITY_BYTES}`,
          'write a shorter hint, e.g. "psk_hint moat".',
        );
      }
      // Recorded even when too long, so the listener's psk_file is not reported as unused as well.
      setTls(ctx, (t) => {
        t.pskHint = value;
        (t.optionLines ??= {}).psk_hint = { file: ctx.line.file, line: ctx.line.line };
      });
    },
  },
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
  // moat extension. Node's default (120 s) lets a socket that never finishes a handshake sit too long;
  // 30 s still fits a slow device's handshake. connect_timeout only starts once it is done.
  tls_handshake_timeout: {
    scope: 'listener',
    example: '30',
    apply: (ctx) => {
      const value = wholeNumber(ctx, 1, 3600, '30', 'a whole number of seconds 1-3600');
      if (value !== undefined) setTls(ctx, (t) => (t.handshakeTimeout = value));
    },
  },
  use_identity_as_username: usernameFrom('identity'),
  use_subject_as_username: usernameFrom('subject'),
};

/** use_identity_as_username (the certificate's CN) / use_subject_as_username (its whole subject). */
function usernameFrom(which: 'identity' | 'subject'): OptionSpec {
  return {
    scope: 'listener',
    example: 'true',
    apply: (ctx) => {
      const value = bool(ctx, 'true');
      if (value === undefined) return;
      setTls(ctx, (t) => {
        if (which === 'identity') t.useIdentityAsUsername = value;
        else t.useSubjectAsUsername = value;
        (t.usernameLines ??= {})[which] = { file: ctx.line.file, line: ctx.line.line };
      });
    },
  };
}
