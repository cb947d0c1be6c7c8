// The one place that decides, per listener, whether anonymous clients may connect (mosquitto 2 rules,
// plus moat's loud warnings). The broker and `moat audit` read this instead of re-deriving it.

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
  /**
   * No client can connect: anonymous clients are refused and moat has no other way to authenticate yet
   * (password_file is not supported yet). This is mosquitto 2's behaviour too; report it, don't hide it.
   */
  readonly noClientCanConnect: boolean;
  /** A warning to print at startup, or undefined when the posture is unremarkable. */
  readonly warning: string | undefined;
}

/** True for addresses that only this machine can reach. */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  const h = host.toLowerCase();
  return h === 'localhost' || h === '::1' || /^(::ffff:)?127(\.\d{1,3}){3}$/.test(h);
}

/** "0.0.0.0:1883 (all interfaces)" / "127.0.0.1:1883" / "[::1]:1883". */
export function describeListener(listener: ListenerConfig): string {
  const port = listener.port === 0 ? 'any free port' : String(listener.port);
  if (listener.host === undefined) return `port ${port} on all interfaces`;
  return listener.host.includes(':') ? `[${listener.host}]:${port}` : `${listener.host}:${port}`;
}

/** Resolves allow_anonymous for every listener of `config`, in the same order as config.listeners. */
export function resolveSecurity(config: BrokerConfig): readonly ListenerSecurity[] {
  return config.listeners.map((listener) => {
    const loopbackOnly = isLoopbackHost(listener.host);
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
    const noClientCanConnect = !anonymousAllowed;
    let warning: string | undefined;
    if (anonymousAllowed && !loopbackOnly) {
      warning =
        `listener ${name} lets anyone who can reach it connect without a username or password ` +
        '(allow_anonymous true); keep it on a private network.';
    } else if (noClientCanConnect) {
      warning =
        `listener ${name} refuses anonymous clients and moat does not read password_file yet, so no client can ` +
        'connect. Fix: set "allow_anonymous true" (on a private network only) until password support lands.';
    }
    return Object.freeze({ listener, anonymousAllowed, reason, loopbackOnly, noClientCanConnect, warning });
  });
}
