// The programmatic API of `moat bench`: runBench(scenario, options) → BenchResult.
import { resolveBenchOptions, type BenchOptions, type ResolvedBenchOptions, type ScenarioName } from './options.js';
import { silentProgress, type Progress } from './progress.js';
import type { BenchResult } from './result.js';
import { abuse } from './scenarios/abuse.js';
import { connections } from './scenarios/connections.js';
import { idleConnections } from './scenarios/idle-connections.js';
import { fanin } from './scenarios/fanin.js';
import { fanout } from './scenarios/fanout.js';
import { latency } from './scenarios/latency.js';
import { qos1 } from './scenarios/qos1.js';
import { retained } from './scenarios/retained.js';
import { tlsConnect } from './scenarios/tls-connect.js';
import type { RunEnv } from './timed.js';

const RUNNERS: Record<ScenarioName, (o: ResolvedBenchOptions, env: RunEnv) => Promise<BenchResult>> = {
  fanin,
  fanout,
  qos1,
  'fanin-unpaced': fanin,
  'fanout-unpaced': fanout,
  'qos1-unpaced': qos1,
  latency,
  abuse,
  connections,
  'idle-connections': idleConnections,
  'tls-connect': tlsConnect,
  retained,
};

export interface RunBenchExtras {
  /** Where progress goes; default none. */
  progress?: Progress;
}

/** Runs one scenario against the broker at options.url; throws BenchOptionError on bad options. */
export async function runBench(scenario: string, options: BenchOptions = {}, extras: RunBenchExtras = {}): Promise<BenchResult> {
  const resolved = resolveBenchOptions(scenario, options);
  return RUNNERS[resolved.scenario](resolved, { progress: extras.progress ?? silentProgress });
}

export { SCENARIOS, FLOODS, BenchOptionError, resolveBenchOptions, type BenchOptions, type ResolvedBenchOptions, type ScenarioName, type FloodKind } from './options.js';
export { formatResult, headline, type BenchResult, type Value } from './result.js';
export { barProgress, silentProgress, type Progress } from './progress.js';
export { FileLimitError } from './scenarios/connections.js';
