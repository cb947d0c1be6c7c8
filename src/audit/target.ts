// A broker URL as moat audit and moat debug take it: mqtt://, mqtts://, ws:// or wss://HOST[:PORT][/PATH],
// credentials kept out of it (they go in -u and -P).
import { AuditError } from './findings.js';

export const DEFAULT_PORTS = { mqtt: 1883, mqtts: 8883, ws: 80, wss: 443 } as const;
export type Scheme = keyof typeof DEFAULT_PORTS;

export interface Target {
  readonly url: string;
  readonly scheme: Scheme;
  /** Without IPv6 brackets. */
  readonly host: string;
  /** As it goes in a URL (brackets kept). */
  readonly urlHost: string;
  readonly port: number;
  readonly tls: boolean;
}

/** Throws AuditError (MOAT_ERR_AUDIT) for a URL moat cannot probe. */
export function parseTarget(url: string): Target {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AuditError(`"${url}" is not a broker URL; write it as mqtt://host:port, mqtts://host:port, ws://host:port/path or wss://host:port/path.`);
  }
  const scheme = parsed.protocol.replace(/:$/, '');
  if (!Object.hasOwn(DEFAULT_PORTS, scheme)) throw new AuditError(`"${url}": moat speaks mqtt://, mqtts://, ws:// and wss://, not ${scheme}://.`);
  const s = scheme as Scheme;
  if (parsed.username !== '' || parsed.password !== '') throw new AuditError('put the username and password in -u and -P, not in the URL (it ends up in shell history and reports).');
  return {
    url,
    scheme: s,
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    urlHost: parsed.hostname,
    port: parsed.port === '' ? DEFAULT_PORTS[s] : Number(parsed.port),
    tls: s === 'mqtts' || s === 'wss',
  };
}
