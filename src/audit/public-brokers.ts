// Well-known public MQTT brokers: open to anyone, no isolation between users. `moat audit` flags
// them before opening any connection. The client's warning list (src/client/warnings.ts) is the
// base; the audit adds retired names that old configs and tutorials still point at.
import { PUBLIC_BROKERS } from '../client/warnings.js';

const RETIRED_PUBLIC_BROKERS: readonly string[] = [
  'iot.eclipse.org',
  'mqtt.eclipse.org',
  'broker.mqtt-dashboard.com',
  'test.mosca.io',
  'mqtt.fluux.io',
];

export const AUDIT_PUBLIC_BROKERS: readonly string[] = [...PUBLIC_BROKERS, ...RETIRED_PUBLIC_BROKERS];

/** The public broker `host` is (by name, case-insensitive, trailing dot ignored), or undefined. */
export function publicBrokerName(host: string): string | undefined {
  const h = host.toLowerCase().replace(/\.$/, '');
  return AUDIT_PUBLIC_BROKERS.find((name) => name === h);
}
