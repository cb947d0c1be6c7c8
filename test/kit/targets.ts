import type { BrokerStartOptions, RunningBroker } from './broker.js';
import { DEFAULT_MOAT_CONFIG, startMoat } from './moat.js';
import { startMosquitto } from './mosquitto.js';

/** A broker the interop tests run against: the same test body runs once per target. */
export interface BrokerTarget {
  readonly name: 'moat' | 'mosquitto';
  start(options?: BrokerStartOptions): Promise<RunningBroker>;
}

const ALL_TARGETS: readonly BrokerTarget[] = [
  {
    name: 'moat',
    start: (options = {}) => startMoat({ config: DEFAULT_MOAT_CONFIG + (options.extraConfig ?? '') + '\n' }),
  },
  {
    name: 'mosquitto',
    start: (options = {}) => startMosquitto(options.extraConfig === undefined ? {} : { config: options.extraConfig }),
  },
];

/**
 * moat and Mosquitto (the reference). MOAT_TEST_BROKERS=mosquitto (comma-separated names) narrows the
 * list while developing a test; unset, every target runs.
 */
export function brokerTargets(): readonly BrokerTarget[] {
  const wanted = process.env['MOAT_TEST_BROKERS'];
  if (wanted === undefined || wanted.trim() === '') return ALL_TARGETS;
  const names = new Set(wanted.split(',').map((n) => n.trim()));
  return ALL_TARGETS.filter((t) => names.has(t.name));
}
