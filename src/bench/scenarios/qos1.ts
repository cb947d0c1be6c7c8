// qos1: publishers keep a window of QoS 1 messages in flight; the subscriber subscribes at QoS 1 and
// PUBACKs each delivery. The headline is messages/s delivered to (and acked by) the subscriber.
import type { ResolvedBenchOptions } from '../options.js';
import type { BenchResult } from '../result.js';
import type { RunEnv } from '../timed.js';
import { runThroughput } from './throughput.js';

export function qos1(o: ResolvedBenchOptions, env: RunEnv): Promise<BenchResult> {
  const resolved = { ...o, qos: 1 as const };
  return runThroughput(resolved, env, { topic: `bench/${o.runId}/qos1/{i}`, filter: `bench/${o.runId}/qos1/#`, factor: o.subscribers, headline: 'end-to-end' });
}
