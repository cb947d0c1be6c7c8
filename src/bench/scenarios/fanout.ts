// fanout (and fanout-unpaced): 1 publisher → N subscribers (default 100) on the same topic; the
// headline is deliveries/s (unpaced: delivered/s), received summed over subscribers.
import type { ResolvedBenchOptions } from '../options.js';
import type { BenchResult } from '../result.js';
import type { RunEnv } from '../timed.js';
import { runThroughput } from './throughput.js';

export function fanout(o: ResolvedBenchOptions, env: RunEnv): Promise<BenchResult> {
  const topic = `bench/${o.runId}/fanout`;
  return runThroughput(o, env, { topic, filter: topic, factor: o.subscribers, headline: 'deliveries' });
}
