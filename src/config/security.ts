// The one place that decides, per listener, whether anonymous clients may connect (mosquitto 2 rules),
// and whether the setup is too insecure to start (moat's rule) or worth a loud warning. The broker and
// `moat audit` read this instead of re-deriving it.

import type { BrokerConfig, ListenerConfig } from './types.js';

/** The effective security posture of one listener. */
export interface ListenerSecurity {
  readonly listener: ListenerConfig;
  /** Whether clients that send no username may connect on this listener. */
  readonly anonymousAllowed: boolean;
  /** Why, in one sentence (for startup logs and audits). */
  readonly reason: string;
  /** The listener accepts connections from this machine only (bound to a loopback address). */
  readonly loopbackOnly: boolean;
  /** Clients can prove who they are: a password file, client certificates mapped to user names, or TLS-PSK keys. */
  readonly authenticates: boolean;
  /** No client can connect: anonymous clients are refused and nothing else can log in (Mosquitto 2 starts anyway). */
  readonly noClientCanConnect: boolean;
  /** Why the broker must not start with this listener, with the fix; undefined when it may. */
  readonly refusal: string | undefined;
  /** Warnings to print at startup (and publish in $SYS). */
  readonly warnings: readonly string[];
}

/** True for addresses that only this machine can reach. */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  const h = host.toLowerCase();
  return h === 'localhost' || h === '::1' || /^(::ffff:)?127(\.\d{1,3}){3}$/.test(h);
}

/** "port 1883 on all interfaces" / "127.0.0.1:1883" / "[::1]:1883" / "Unix socket /run/moat.sock". */
export function describeListener(listener: ListenerConfig): string {
  if (listener.socketPath !== undefined) return `Unix socket ${listener.socketPath}`;
  const port = listener.port === 0 ? 'any free port' : String(listener.port);
  if (listener.host === undefined) return `port ${port} on all interfaces`;
  return listener.host.includes(':') ? `[${listener.host}]:${port}` : `${listener.host}:${port}`;
}

/**
 * Resolves allow_anonymous for every listener of `config`, in the same order as config.listeners, and
 * judges it: a listener others can reach with no way to log in is refused unless allow_anonymous true
 * is explicit (then warned about loudly); a plain-text listener others can reach beside a TLS one is warned about.
 */
export function resolveSecurity(config: BrokerConfig): readonly ListenerSecurity[] {
  const tlsListener = config.listeners.find((l) => l.tls !== undefined);
  return config.listeners.map((listener) => {
    // A Unix socket is reached through the file system of this machine only.
    const loopbackOnly = listener.socketPath !== undefined || isLoopbackHost(listener.host);
    const name = describeListener(listener);
    const scope = config.perListenerSettings ? 'on this listener' : 'globally';
    let anonymousAllowed: boolean;
    let reason: string;
    if (listener.allowAnonymous !== undefined) {
      anonymousAllowed = listener.allowAnonymous;
      reason = `allow_anonymous is ${String(anonymousAllowed)} ${scope}`;
    } else if (config.localOnly) {
      anonymousAllowed = true;
      reason = 'no listener is configured, so moat runs in local-only mode: anonymous clients from this machine only';
    } else {
      anonymousAllowed = false;
      reason = 'allow_anonymous is not set, and with a listener configured it defaults to false (mosquitto 2)';
    }
    const tls = listener.tls;
    // A TLS-PSK listener lets no one finish the handshake without a key from psk_file; with
    // use_identity_as_username the PSK identity becomes the user name.
    const psk = tls?.pskHint !== undefined;
    const pskOnly = psk && tls?.certfile === undefined;
    const at = `${listener.source.file}:${listener.source.line}`;
    // use_identity/subject_as_username: the certificate is every client's credential, anonymous or not.
    // Without require_certificate none is asked for in the handshake, so, as in Mosquitto 2.0, every
    // client is refused with "bad user name or password".
    const certificateNames = tls?.useIdentityAsUsername === true || tls?.useSubjectAsUsername === true;
    const certificateNeverAsked = certificateNames && !psk && tls?.requireCertificate !== true;
    if (certificateNeverAsked) {
      anonymousAllowed = false;
      reason = `${tls?.useIdentityAsUsername === true ? 'use_identity_as_username' : 'use_subject_as_username'} takes every user name from a client certificate that this listener never asks for`;
    }
    // The MQTT login: a password, or a user name from the certificate or the PSK identity.
    const logsIn = listener.passwordFile !== undefined || (certificateNames && !certificateNeverAsked);
    const authenticates = logsIn || psk;
    const noClientCanConnect = certificateNeverAsked || (!anonymousAllowed && !logsIn);
    let refusal: string | undefined;
    const warnings: string[] = [];
    if (certificateNeverAsked) {
      warnings.push(
        `listener ${name} (${at}) takes user names from client certificates but does not require one, so no client is ` +
          'asked for a certificate and every client is refused with CONNACK 0x86 Bad user name or password (3.1.1: 4), ' +
          'as in Mosquitto 2.0. Fix: add "require_certificate true" and "cafile PATH" under the listener, or remove the ' +
          'use_identity_as_username / use_subject_as_username line.',
      );
    } else if (!loopbackOnly && !authenticates && listener.allowAnonymous !== true) {
      refusal =
        `listener ${name} (${at}) can be reached from other machines but has no way to log clients in. ` +
        'Fix: add "password_file /etc/moat/passwd" (create it with "moat passwd -c /etc/moat/passwd USER"), ' +
        'or bind the listener to 127.0.0.1, or — on a private network only — set "allow_anonymous true".';
    } else if (anonymousAllowed && !loopbackOnly && !pskOnly) {
      warnings.push(
        `INSECURE: listener ${name} lets anyone who can reach it connect without a username or password ` +
          '(allow_anonymous true); keep it on a private network, or set a password_file and "allow_anonymous false".',
      );
    } else if (noClientCanConnect) {
      warnings.push(
        psk
          ? `listener ${name} refuses anonymous clients and takes no user name from the PSK identity, so no TLS-PSK client can log in. ` +
              'Fix: add "use_identity_as_username true" (the PSK identity becomes the user name), or a password_file for MQTT logins, ' +
              'or "allow_anonymous true" (every client with a key may connect).'
          : `listener ${name} refuses anonymous clients and has no password_file, so no client can connect. ` +
              'Fix: add "password_file FILE" (moat passwd -c FILE USER), or "allow_anonymous true" for local testing.',
      );
    }
    if (tlsListener !== undefined && tls === undefined && !loopbackOnly) {
      warnings.push(
        `listener ${name} is plain text beside the TLS listener ${describeListener(tlsListener)}: passwords and messages ` +
          'sent to it cross the network unencrypted. Fix: remove it, or bind it to 127.0.0.1.',
      );
    }
    return Object.freeze({ listener, anonymousAllowed, reason, loopbackOnly, authenticates, noClientCanConnect, refusal, warnings: Object.freeze(warnings) });
  });
}
