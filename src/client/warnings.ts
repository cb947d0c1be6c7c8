// Warnings about how the client connects, emitted once per process per reason through
// process.emitWarning (so --no-warnings and 'warning' listeners work as for Node's own):
//   MOAT_PUBLIC_BROKER          the host is a well-known public test broker: anyone can read and
//                               publish on its topics.
//   MOAT_PLAINTEXT_CREDENTIALS  a username/password goes over mqtt:// or ws:// to a host that is not
//                               this machine: anyone on the path can read it.
// warningsFor() decides (pure); emitConnectionWarnings() emits. "Once per process" is the one piece
// of module state here, on purpose: a reconnecting client must not repeat itself.
import { isIP } from 'node:net';

export const WarningCode = {
  PublicBroker: 'MOAT_PUBLIC_BROKER',
  PlaintextCredentials: 'MOAT_PLAINTEXT_CREDENTIALS',
} as const;
export type WarningCode = (typeof WarningCode)[keyof typeof WarningCode];

export interface ConnectionWarning {
  readonly code: WarningCode;
  readonly message: string;
}

/** Well-known public brokers (open to anyone, no isolation between users). */
export const PUBLIC_BROKERS: readonly string[] = [
  'test.mosquitto.org',
  'broker.hivemq.com',
  'broker.mqttdashboard.com',
  'broker.emqx.io',
  'mqtt.eclipseprojects.io',
  'public.mqtthq.com',
  'mqtt.flespi.io',
  'public.cloud.shiftr.io',
  'broker.mqtt.cool',
];

function normalHost(host: string): string {
  return host.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
}

/** True for the public brokers listed in PUBLIC_BROKERS (by name; no DNS lookup). */
export function isPublicBroker(host: string): boolean {
  return PUBLIC_BROKERS.includes(normalHost(host));
}

/** True when `host` is this machine: localhost (and *.localhost), 127.0.0.0/8, ::1, ::ffff:127.x.x.x. */
export function isLoopback(host: string): boolean {
  const h = normalHost(host);
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}

export interface WarningInput {
  readonly username?: string | undefined;
  readonly password?: string | Buffer | undefined;
}

/** What to warn about for a connection to `url` with `options`; pure, for tests and the CLI. */
export function warningsFor(url: string, options: WarningInput = {}): ConnectionWarning[] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [];
  }
  const scheme = parsed.protocol.replace(/:$/, '');
  const host = normalHost(parsed.hostname);
  const warnings: ConnectionWarning[] = [];
  if (isPublicBroker(host)) {
    warnings.push({
      code: WarningCode.PublicBroker,
      message: `${host} is a public MQTT broker: anyone can subscribe to your topics and publish to them. Use it for tests only, never for real data or commands.`,
    });
  }
  const credentials = options.username !== undefined || options.password !== undefined;
  if (credentials && (scheme === 'mqtt' || scheme === 'ws') && !isLoopback(host)) {
    const secure = scheme === 'mqtt' ? 'mqtts://' : 'wss://';
    warnings.push({
      code: WarningCode.PlaintextCredentials,
      message: `The username/password for ${host} go over ${scheme}:// unencrypted: anyone on the network path can read them. Use ${secure} (TLS).`,
    });
  }
  return warnings;
}

const emitted = new Set<WarningCode>();

/** Emits each of warningsFor(url, options) unless a warning with the same code was emitted before in this process. */
export function emitConnectionWarnings(url: string, options: WarningInput = {}): void {
  for (const warning of warningsFor(url, options)) {
    if (emitted.has(warning.code)) continue;
    emitted.add(warning.code);
    process.emitWarning(warning.message, { code: warning.code });
  }
}
