// Step 3 (mqtts://, wss://): one TLS handshake with the audit's probe (tls-probe.ts), judged with
// the audit's TLS verdicts: the first critical one is the diagnosis. Then the connection is kept a
// moment, because under TLS 1.3 a broker checks the client certificate after the handshake and
// drops a client that sent none (or one it refuses) right then.
import { AuditError, type Finding } from '../audit/findings.js';
import { inspectTls, tlsFindings, type TlsFacts } from '../audit/tls-probe.js';
import type { Target } from '../audit/target.js';
import { elapsed, stage, type StageResult } from './stages.js';

export interface TlsStepOptions {
  readonly ca?: string | undefined;
  readonly cert?: string | Buffer | undefined;
  readonly key?: string | Buffer | undefined;
  readonly timeoutMs: number;
  /** How long to wait after the handshake for the broker to drop us; default 300 ms. */
  readonly watchMs?: number;
  /** Pins "now" for the expiry verdict (tests). */
  readonly now?: Date;
}

/** The verdicts that stop the debug flow, most telling first: an expired certificate also fails its chain. */
const VERDICT_ORDER = ['tls-version', 'tls-expiry', 'tls-hostname', 'tls-certificate'];

export async function checkTls(target: Target, options: TlsStepOptions): Promise<StageResult> {
  const started = performance.now();
  let facts: TlsFacts;
  try {
    facts = await inspectTls(target.host, target.port, { ca: options.ca, cert: options.cert, key: options.key, timeoutMs: options.timeoutMs, watchMs: options.watchMs ?? 300 });
  } catch (error) {
    if (!(error instanceof AuditError)) throw error;
    const cause = tlsErrorText(error.cause instanceof Error ? error.cause.message : error.message);
    return stage('tls', 'failed', elapsed(started), `no TLS handshake: ${cause}`, { error: cause }, handshakeProblem(target, cause, options.cert !== undefined));
  }
  const details = {
    protocol: facts.protocol,
    cipher: facts.cipher,
    handshakeMs: facts.handshakeMs,
    subject: facts.subject,
    issuer: facts.issuer,
    chain: facts.chain,
    validTo: facts.validTo.toISOString(),
    chainValid: facts.chainValid,
    chainError: facts.chainError,
    hostnameError: facts.hostnameError,
  };
  const ms = elapsed(started);
  const findings = tlsFindings(target.url, target.host, facts, options.ca !== undefined, options.now);
  const bad = VERDICT_ORDER.map((id) => findings.find((f) => f.id === id && f.severity === 'critical')).find((f): f is Finding => f !== undefined);
  if (bad !== undefined) {
    return stage('tls', 'failed', ms, bad.title, details, {
      diagnosis: `${bad.title}. ${bad.detail}`.trim(),
      fix: bad.fix.replace(/^moat audit /, 'moat debug '),
    });
  }
  if (facts.droppedAfterHandshake !== undefined) {
    const how = facts.droppedAfterHandshake === 'closed' ? 'closed the connection' : `ended the connection with ${tlsErrorText(facts.droppedAfterHandshake)}`;
    return stage('tls', 'failed', ms, `the broker ${how} right after the handshake`, { ...details, dropped: facts.droppedAfterHandshake }, clientCertificateProblem(how, options.cert !== undefined));
  }
  const expiry = findings.find((f) => f.id === 'tls-expiry');
  const summary = `${facts.protocol ?? 'TLS'} ${facts.cipher ?? ''}, ${facts.handshakeMs ?? ms} ms; ${facts.subject} by ${facts.issuer}; ${expiry?.title.toLowerCase() ?? ''}`.replace(/ ,/, ',');
  return stage('tls', expiry?.severity === 'warning' ? 'warning' : 'ok', ms, summary, details);
}

/**
 * OpenSSL's error text, shortened to its alert when there is one: 'TLS alert "certificate required"
 * (116)' instead of a line of library internals.
 */
export function tlsErrorText(message: string): string {
  const alert = /alert ([a-z ]+?)(?::|$)/i.exec(message);
  if (alert?.[1] === undefined) return message.split('\n')[0] ?? message;
  const number = /SSL alert number (\d+)/.exec(message)?.[1];
  return `TLS alert "${alert[1].trim()}"${number === undefined ? '' : ` (${number})`}`;
}

function clientCertificateProblem(how: string, certGiven: boolean): { diagnosis: string; fix: string } {
  return certGiven
    ? {
      diagnosis: `The broker ${how} after the handshake: it refused the client certificate (--cert).`,
      fix: 'Use a client certificate signed by the CA in the broker\'s cafile, not expired and not revoked (crlfile); the broker\'s log names the reason.',
    }
    : {
      diagnosis: `The broker ${how} after the handshake: the listener requires a client certificate (require_certificate true) and none was sent.`,
      fix: 'Pass --cert and --key: a client certificate signed by the CA in the broker\'s cafile (for a development CA: moat certs --client NAME).',
    };
}

function handshakeProblem(target: Target, message: string, certGiven: boolean): { diagnosis: string; fix: string } {
  if (/wrong version number|packet length too long|unknown protocol/i.test(message)) {
    return {
      diagnosis: `${target.host}:${target.port} answered, but not with TLS: it is probably a plain-text listener.`,
      fix: `Connect with ${target.scheme === 'wss' ? 'ws' : 'mqtt'}://${target.urlHost}:${target.port}, or to the broker's TLS port (8883 by convention).`,
    };
  }
  if (/no TLS handshake within/i.test(message)) {
    return {
      diagnosis: `The TCP connection to ${target.host}:${target.port} opened, but no TLS handshake came back: the port does not speak TLS, or the link is very slow.`,
      fix: `Check that port ${target.port} is the broker's TLS listener (certfile/keyfile in its config), or try ${target.scheme === 'wss' ? 'ws' : 'mqtt'}://.`,
    };
  }
  if (/certificate required|handshake failure|peer did not return a certificate/i.test(message)) {
    return clientCertificateProblem(`ended the handshake with ${message}`, certGiven);
  }
  if (/unknown ca|bad certificate|certificate (expired|revoked|unknown)/i.test(message)) {
    return clientCertificateProblem(`ended the handshake with ${message}`, true);
  }
  return { diagnosis: `The TLS handshake with ${target.host}:${target.port} failed: ${message}.`, fix: 'Check that the port speaks TLS and that the client and broker share a TLS version (tls_version) and a cipher.' };
}
