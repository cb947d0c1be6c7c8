// `node build/bench/cluster.js [--quick] [--nodes 1,2,3]`: cluster throughput on this machine.
// One redis-server and N moat nodes (`cluster_redis`), all on loopback; the publishers are spread
// over the nodes in turn and the subscribers sit on the first node, so with N > 1 all but 1/N of
// the traffic crosses Redis. Scenarios: fanin (QoS 0, paced), qos1 (QoS 1), qos1-unpaced (QoS 1,
// publishers limited only by their window: loss is reported). Prints a Markdown table.
//
// On a 2-core machine the generator, Redis and every node share the same two cores, so more nodes
// cannot mean more throughput here; what this shows is what the bus costs per message and that
// nothing is lost across it. On real machines each node brings its own cores.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { headline, runBench, silentProgress, type BenchResult } from '../src/bench/index.js';
import { moatCommand } from '../test/kit/moat.js';
import { freePort } from '../test/kit/ports.js';
import { spawnTracked, type TrackedProcess } from '../test/kit/process.js';
import { startRedis } from '../test/kit/redis.js';

const flag = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
};
const quick = process.argv.includes('--quick');
const nodeCounts = (flag('nodes') ?? '1,2,3').split(',').map(Number);
const SCENARIOS = ['fanin', 'qos1', 'qos1-unpaced'] as const;

interface Node {
  readonly url: string;
  readonly process: TrackedProcess;
}

async function startNode(redisUrl: string, dir: string, index: number): Promise<Node> {
  const port = await freePort();
  const conf = join(dir, `node-${index}.conf`);
  await writeFile(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', `cluster_redis ${redisUrl}`, 'sys_interval 0', 'max_queued_messages 10000', 'connection_messages false', ''].join('\n'));
  const { command, args } = moatCommand(['broker', '-c', conf]);
  const child = await spawnTracked(command, args, { name: `moat-${index}`, env: { ...process.env, XDG_STATE_HOME: dir } });
  await child.waitForLine((l) => l.includes('"listening"'), 15_000, `node ${index} listening`);
  return { url: `mqtt://127.0.0.1:${port}`, process: child };
}

const rows: string[] = [];
for (const count of nodeCounts) {
  for (const scenario of SCENARIOS) {
    for (const protocol of [4, 5] as const) {
      const dir = await mkdtemp(join(tmpdir(), 'moat-bench-cluster-'));
      const redis = await startRedis();
      const nodes: Node[] = [];
      let result: BenchResult | undefined;
      let failure: string | undefined;
      try {
        for (let i = 0; i < count; i++) nodes.push(await startNode(redis.url, dir, i));
        // Give the nodes a moment to see each other's interest before the subscribers arrive.
        await new Promise((resolve) => setTimeout(resolve, 500));
        const [first] = nodes;
        if (first === undefined) throw new Error('no node');
        result = await runBench(scenario, {
          url: first.url,
          subscriberUrl: first.url,
          publisherUrls: nodes.map((n) => n.url),
          protocol,
          duration: quick ? 2 : 5,
          warmup: quick ? 0.5 : 1,
        }, { progress: silentProgress });
      } catch (error) {
        failure = error instanceof Error ? error.message.split('\n')[0] : String(error);
      } finally {
        await Promise.all(nodes.map((n) => n.process.stop('SIGTERM', 3000)));
        await redis.stop();
        await rm(dir, { recursive: true, force: true });
      }
      const line = (() => {
        if (result === undefined) return `| ${count} | ${scenario} | ${protocol === 4 ? '3.1.1' : '5.0'} | failed: ${failure ?? ''} | | |`;
        const [unit, value] = headline(result);
        const lost = Number(result.details['lost'] ?? result.values['loss']?.value ?? 0);
        return `| ${count} | ${scenario} | ${protocol === 4 ? '3.1.1' : '5.0'} | ${Math.round(value.value).toLocaleString('en-US')} ${unit} | ${lost.toLocaleString('en-US')} | ${result.generator.corePercent.toFixed(0)}% |`;
      })();
      process.stderr.write(`${line}\n`);
      rows.push(line);
    }
  }
}
process.stdout.write(['| nodes | scenario | protocol | throughput | lost | generator CPU (one core) |', '|---|---|---|---|---|---|', ...rows, ''].join('\n'));
