// `moat bench <scenario>`: the load generator against any broker. Wiring only: the engine is
// src/bench (runBench); this file parses flags, picks the progress bar and prints the result.
import { Command, InvalidArgumentError } from 'commander';
import { barProgress, BenchOptionError, FileLimitError, FLOODS, formatResult, runBench, SCENARIOS, silentProgress, type BenchOptions, type FloodKind } from '../bench/index.js';

interface BenchFlags {
  url?: string;
  protocol?: number;
  size?: number;
  qos?: number;
  publishers?: number;
  subscribers?: number;
  connections?: number;
  concurrency?: number;
  rate?: number;
  duration?: number;
  warmup?: number;
  window?: number;
  ahead?: number;
  retained?: number;
  hold?: number;
  handshakes?: number;
  cafile?: string;
  cert?: string;
  key?: string;
  pid?: number;
  cleanup: boolean;
  unpaced?: boolean;
  persistentSubscribers?: boolean;
  publisherUrls?: string[];
  subscriberUrl?: string;
  flood?: string;
  retainedSize?: number;
  rssLimit?: number;
  json?: boolean;
  progress?: boolean;
}

function num(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('not a number.');
  return n;
}

export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description(`load-test any MQTT broker: ${SCENARIOS.join(', ')}`)
    .argument('<scenario>', SCENARIOS.join(' | '))
    .option('--url <url>', 'broker to load (default mqtt://127.0.0.1:1883; tls-connect: mqtts://127.0.0.1:8883)')
    .option('--protocol <4|5>', 'MQTT protocol level: 4 = 3.1.1, 5 = 5.0 (default 4)', num)
    .option('--size <bytes>', 'payload size (default 64)', num)
    .option('--qos <0|1>', 'publish/subscribe QoS for fanin and fanout, paced or not (default 0)', num)
    .option('--publishers <n>', 'publishing clients (fanin and qos1-unpaced 8, qos1 4, else 1)', num)
    .option('--subscribers <n>', 'subscribing clients (fanout 100, else 1)', num)
    .option('--connections <n>', 'idle connections to open (connections, default 10000)', num)
    .option('--concurrency <n>', 'connects in flight at once (connections 100, tls-connect 8)', num)
    .option('--rate <msgs/s>', 'latency: fixed rate (default 5000); abuse: the bystander pair\'s rate (default 1000); others: optional cap', num)
    .option('--duration <s>', 'measured seconds after warm-up (default 10; abuse: seconds per flood kind, default 5)', num)
    .option('--warmup <s>', 'warm-up seconds excluded from results (default 1)', num)
    .option('--window <n>', 'QoS 1 messages in flight per publisher (default 64; qos1-unpaced 16)', num)
    .option('--ahead <n>', 'paced scenarios: messages publishers may run ahead of delivery, per subscriber', num)
    .option(
      '--unpaced',
      'fanin, fanout, qos1: publishers held back only by their own QoS 1 window or socket, not by delivery; reports loss (the same as fanin-unpaced, fanout-unpaced, qos1-unpaced)',
    )
    .option('--publisher-urls <urls>', 'fanin, fanout, qos1: comma-separated brokers the publishers connect to in turn (a cluster\'s nodes); default --url', (v: string) => v.split(','))
    .option('--subscriber-url <url>', 'fanin, fanout, qos1: the broker subscribers connect to; default --url')
    .option('--persistent-subscribers', 'fanin, fanout, qos1: subscribers hold persistent sessions (clean start false), so a durable broker writes their in-flight messages')
    .option('--flood <kind>', `abuse: what the hostile client floods: ${FLOODS.join(' | ')} | all (default all, each in turn)`)
    .option('--retained-size <bytes>', 'abuse: size of the retained message the resubscribe flood asks for again (default 262144)', num)
    .option('--rss-limit <MiB>', 'abuse: cut a flood short when the broker\'s RSS grows by more (needs --pid); also caps resubscribe at this many MiB of retained payload (default 1024)', num)
    .option('--retained <n>', 'retained messages to store (retained, default 100000)', num)
    .option('--hold <s>', 'connections: seconds to hold idle connections (default 2); abuse: seconds after a flood before "RSS after" is read (default 1)', num)
    .option('--handshakes <n>', 'tls-connect: connections made one at a time afterwards, full and resumed, for the client\'s and the broker\'s (--pid) CPU per handshake (default 200; 0 skips)', num)
    .option('--cafile <file>', 'CA certificate (PEM) for mqtts:// brokers')
    .option('--cert <file>', 'client certificate (PEM) every connection presents, for require_certificate listeners; needs --key')
    .option('--key <file>', 'private key (PEM) of --cert')
    .option('--pid <pid>', "broker's process id: report its CPU and RSS (Linux, same machine); abuse: RSS peak, RSS after and the RSS guard", num)
    .option('--no-cleanup', 'keep the retained messages the retained and abuse scenarios stored')
    .option('--json', 'print one JSON object instead of the table')
    .option('--progress', 'show the progress bar even when stderr is not a terminal')
    .addHelpText(
      'after',
      `
Scenarios:
  fanin, fanout, qos1   throughput; publishers stay --ahead of what subscribers received
  *-unpaced             the same with publishers outrunning consumers: delivered/s beside
                        published/s and acks/s, and loss = acknowledged (QoS 1) or sent
                        (QoS 0) but never delivered after a settle; qos1-unpaced is
                        8 publishers × window 16 → 1 QoS 1 subscriber on bench/#
  latency               p50/p99/max of one publisher at --rate to one subscriber
  abuse                 that pair at 1,000 msg/s beside a client that never reads while
                        it floods (--flood); the pair's latency and loss, broker RSS
                        peak and after (--pid)
  tls-connect           full and resumed handshakes/s, then CPU per handshake of this
                        client and of the broker (--pid); the broker's certificate sets
                        the key type: run once per certificate (moat certs --key-type)
  connections, retained connects/s and RSS, retained burst`,
    )
    .action(async (scenario: string, flags: BenchFlags) => {
      const options: BenchOptions = { cleanup: flags.cleanup };
      const keys = ['url', 'size', 'publishers', 'subscribers', 'connections', 'concurrency', 'rate', 'duration', 'warmup', 'window', 'ahead', 'retained', 'hold', 'handshakes', 'cafile', 'cert', 'key', 'pid', 'unpaced', 'persistentSubscribers', 'publisherUrls', 'subscriberUrl', 'retainedSize', 'rssLimit'] as const;
      for (const key of keys) if (flags[key] !== undefined) Object.assign(options, { [key]: flags[key] });
      if (flags.protocol !== undefined) options.protocol = flags.protocol as 4 | 5;
      if (flags.qos !== undefined) options.qos = flags.qos as 0 | 1;
      // Checked (with the other options) by resolveBenchOptions.
      if (flags.flood !== undefined) options.flood = flags.flood as FloodKind | 'all';
      const showBar = flags.progress === true || (process.stderr.isTTY && flags.json !== true);
      try {
        const result = await runBench(scenario, options, { progress: showBar ? barProgress() : silentProgress });
        process.stdout.write(flags.json === true ? `${JSON.stringify(result)}\n` : formatResult(result));
      } catch (error) {
        // Bad flags, a low ulimit or an unreachable broker: one sentence, no stack trace.
        const known = error instanceof BenchOptionError || error instanceof FileLimitError;
        process.stderr.write(`moat bench: ${(error as Error).message}\n`);
        process.exitCode = known ? 2 : 1;
      }
    });
}
