// fanin (and fanin-unpaced): N publishers (default 8), each on its own topic, → 1 subscriber on a wildcard.
import type { ResolvedBenchOptions } from '../options.js';
import type { BenchResult } from '../result.js';
import type { RunEnv } from '../timed.js';
import { runThroughput } from './throughput.js';

export function fanin(o: ResolvedBenchOptions, env: RunEnv): Promise<BenchResult> {
  return runThroughput(o, env, { topic: `bench/${o.runId}/fanin/{i}`, filter: `bench/${o.runId}/fanin/#`, factor: o.subscribers, headline: 'received' });
}
