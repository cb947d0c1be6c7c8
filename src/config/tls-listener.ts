// A listener's TLS options once the whole file is read: the combinations that cannot work are
// errors naming the line and the fix, and the draft becomes the listener's ListenerTlsConfig.
// What can only be checked by reading the certificate, CRL and PSK files is checked when the
// listener opens (src/transport/tls-files.ts).
import { CONFIG_ISSUE_KINDS, type ConfigIssueKind } from './errors.js';
import type { Draft, ListenerDraft, SecurityDraft, TlsDraft } from './option-kit.js';
import { CONFIG_DEFAULTS, type ListenerTlsConfig } from './types.js';

/** Records one problem: parse.ts's issue list. */
export type ReportIssue = (kind: ConfigIssueKind, file: string, line: number, option: string | undefined, text: string, fix?: string) => void;

/** The security options that apply to `listener` (its own with per_listener_settings, else the global ones). */
export function securityOf(draft: Draft, listener: ListenerDraft): SecurityDraft {
  return draft.perListenerSettings !== undefined ? listener.security : draft.security;
}

/**
 * A listener with TLS options needs a certificate and key, unless psk_hint makes it a TLS-PSK
 * listener; client certificates need a CA; the username options need something to take the name
 * from; crlfile needs client certificates; psk_hint needs a psk_file.
 */
export function checkListenerTls(draft: Draft, listener: ListenerDraft, report: ReportIssue): void {
  const tls = listener.tls;
  const at = tls.source;
  if (at === undefined) return;
  const invalid = CONFIG_ISSUE_KINDS.invalidValue;
  const psk = tls.pskHint !== undefined;
  const lines = tls.optionLines ?? {};
  if (psk ? (tls.certfile === undefined) !== (tls.keyfile === undefined) : tls.certfile === undefined || tls.keyfile === undefined) {
    report(
      invalid,
      at.file,
      at.line,
      undefined,
      `listener ${listener.port} has TLS options but ${tls.certfile === undefined ? 'no certfile' : 'no keyfile'}`,
      psk
        ? 'add both "certfile PATH" and "keyfile PATH" under the listener, or neither for a listener that accepts TLS-PSK clients only'
        : 'add both "certfile PATH" and "keyfile PATH" under the listener',
    );
  }
  if (tls.requireCertificate === true && tls.cafile === undefined && tls.capath === undefined) {
    report(
      invalid,
      at.file,
      at.line,
      'require_certificate',
      `listener ${listener.port} requires client certificates but names no CA to check them against`,
      'add "cafile PATH" (the CA that signed your client certificates) under the listener',
    );
  }
  if (tls.crlfile !== undefined && tls.requireCertificate !== true) {
    const line = lines.crlfile ?? at;
    report(
      invalid,
      line.file,
      line.line,
      'crlfile',
      `crlfile on listener ${listener.port} revokes client certificates, but the listener does not require one, so it would never be consulted`,
      'add "require_certificate true" (and "cafile PATH") under the listener, or remove the line',
    );
  }
  checkUsernameOptions(listener, tls, report);
  if (psk) checkPskListener(draft, listener, report);
}

/**
 * The user name comes from the client's certificate or PSK identity, from one place only. Without
 * psk_hint or require_certificate the options are allowed, as in Mosquitto 2.0: no client is asked
 * for a certificate, so every client is refused (resolveSecurity warns).
 */
function checkUsernameOptions(listener: ListenerDraft, tls: TlsDraft, report: ReportIssue): void {
  const lines = tls.usernameLines ?? {};
  const psk = tls.pskHint !== undefined;
  const subjectLine = lines.subject;
  if (psk && tls.useSubjectAsUsername === true && subjectLine !== undefined) {
    // Mosquitto takes the user name of a psk_hint listener from the PSK identity only, so it would refuse every client.
    report(
      CONFIG_ISSUE_KINDS.invalidValue,
      subjectLine.file,
      subjectLine.line,
      'use_subject_as_username',
      `use_subject_as_username true on listener ${listener.port}: on a listener with psk_hint the user name can only be the PSK identity`,
      'write "use_identity_as_username true" instead, or remove the line',
    );
  }
  if (tls.useIdentityAsUsername === true && tls.useSubjectAsUsername === true && !psk) {
    const line = lines.subject ?? lines.identity ?? tls.source;
    if (line === undefined) return;
    report(
      CONFIG_ISSUE_KINDS.invalidValue,
      line.file,
      line.line,
      undefined,
      `listener ${listener.port} sets both use_identity_as_username and use_subject_as_username`,
      'keep one: use_identity_as_username takes the certificate\'s CN, use_subject_as_username its whole subject',
    );
  }
}

function checkPskListener(draft: Draft, listener: ListenerDraft, report: ReportIssue): void {
  const line = listener.tls.optionLines?.psk_hint ?? listener.tls.source;
  if (line === undefined) return;
  if (listener.protocol === 'websockets') {
    report(
      CONFIG_ISSUE_KINDS.invalidValue,
      line.file,
      line.line,
      'psk_hint',
      `psk_hint on websockets listener ${listener.port}: WebSocket clients (browsers) cannot use TLS-PSK`,
      'put psk_hint under a "protocol mqtt" listener, or remove the line',
    );
  }
  if (listener.tls.requireCertificate === true) {
    // Node refuses every client without a verified certificate on such a listener, PSK clients too.
    report(
      CONFIG_ISSUE_KINDS.invalidValue,
      line.file,
      line.line,
      'psk_hint',
      `listener ${listener.port} has both psk_hint and require_certificate true; moat cannot let TLS-PSK clients in where a client certificate is required`,
      'give the PSK clients a listener of their own, without require_certificate',
    );
  }
  if (securityOf(draft, listener).pskFile === undefined) {
    report(
      CONFIG_ISSUE_KINDS.invalidValue,
      line.file,
      line.line,
      'psk_hint',
      `listener ${listener.port} accepts TLS-PSK clients (psk_hint) but has no psk_file, so no client could complete a handshake`,
      `add "psk_file /etc/moat/psk" (one IDENTITY:HEXKEY line per client)${draft.perListenerSettings !== undefined ? ' under the listener' : ''}`,
    );
  }
}

/** A psk_file that no psk_hint listener reads is a mistake: say so instead of ignoring it. */
export function checkPskFileUsed(draft: Draft, listeners: readonly ListenerDraft[], report: ReportIssue): void {
  const unused = (security: SecurityDraft): void => {
    const at = security.pskFileSource;
    if (security.pskFile === undefined || at === undefined) return;
    report(
      CONFIG_ISSUE_KINDS.invalidValue,
      at.file,
      at.line,
      'psk_file',
      draft.perListenerSettings !== undefined
        ? 'psk_file is set for a listener that has no psk_hint, so it would never be read'
        : 'psk_file is set but no listener has psk_hint, so it would never be read',
      'add "psk_hint HINT" under the listener that should accept TLS-PSK clients, or remove the line',
    );
  };
  if (draft.perListenerSettings !== undefined) {
    for (const listener of listeners) if (listener.tls.pskHint === undefined) unused(listener.security);
  } else if (!listeners.some((l) => l.tls.pskHint !== undefined)) {
    unused(draft.security);
  }
}

/** The resolved TLS settings of a listener; `pskFile` is the psk_file that applies to it. */
export function listenerTlsConfig(tls: TlsDraft, pskFile: string | undefined): ListenerTlsConfig {
  return Object.freeze({
    ...(tls.cafile === undefined ? {} : { cafile: tls.cafile }),
    ...(tls.capath === undefined ? {} : { capath: tls.capath }),
    ...(tls.certfile === undefined ? {} : { certfile: tls.certfile }),
    ...(tls.keyfile === undefined ? {} : { keyfile: tls.keyfile }),
    ...(tls.crlfile === undefined ? {} : { crlfile: tls.crlfile }),
    ...(tls.tlsVersion === undefined ? {} : { tlsVersion: tls.tlsVersion }),
    ...(tls.ciphers === undefined ? {} : { ciphers: tls.ciphers }),
    ...(tls.ciphersTls13 === undefined ? {} : { ciphersTls13: tls.ciphersTls13 }),
    ...(tls.dhparamfile === undefined ? {} : { dhparamfile: tls.dhparamfile }),
    ...(tls.pskHint === undefined || pskFile === undefined ? {} : { pskHint: tls.pskHint, pskFile }),
    requireCertificate: tls.requireCertificate ?? false,
    handshakeTimeout: tls.handshakeTimeout ?? CONFIG_DEFAULTS.tlsHandshakeTimeout,
    useIdentityAsUsername: tls.useIdentityAsUsername ?? false,
    useSubjectAsUsername: tls.useSubjectAsUsername ?? false,
  });
}
