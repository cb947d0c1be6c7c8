// qos1 (and qos1-unpaced): publishers keep a window of QoS 1 messages in flight; the subscriber
// subscribes at QoS 1 and PUBACKs each delivery. The headline is messages/s delivered to (and acked by) the subscriber.
// qos1-unpaced subscribes to `bench/#`, as the reproduction it stands for did: against a shared
// broker, other bench traffic would inflate it (the result warns when more arrives than was acked).
import type { ResolvedBenchOptions } from '../options.js';
import type { BenchResult } from '../result.js';
import type { RunEnv } from '../timed.js';
import { runThroughput } from './throughput.js';

export function qos1(o: ResolvedBenchOptions, env: RunEnv): Promise<BenchResult> {
  const resolved = { ...o, qos: 1 as const };
  return runThroughput(resolved, env, { topic: `bench/${o.runId}/qos1/{i}`, filter: o.unpaced ? 'bench/#' : `bench/${o.runId}/qos1/#`, factor: o.subscribers, headline: 'end-to-end' });
}
