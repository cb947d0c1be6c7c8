// `moat pub`/`moat sub` used against Mosquitto and moat with the same flags as
// `mosquitto_pub`/`mosquitto_sub` produce the same observable results: for every row, each
// subscriber tool (mosquitto_sub, moat sub) on each broker (mosquitto, moat) with each publisher
// tool (mosquitto_pub, moat pub) prints exactly what mosquitto_sub + mosquitto + mosquitto_pub print.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RunningBroker } from '../kit/broker.js';
import { MOSQUITTO_PUB, MOSQUITTO_SUB } from '../kit/clients.js';
import { moatCommand, startMoat } from '../kit/moat.js';
import { startMosquitto } from '../kit/mosquitto.js';

type Tool = 'mosquitto' | 'moat';
const TOOLS: readonly Tool[] = ['mosquitto', 'moat'];

interface Run {
  stdout: string;
  stderr: string;
  code: number | null;
}

interface Started {
  readonly ready: Promise<void>;
  readonly done: Promise<Run>;
  kill(signal?: NodeJS.Signals): void;
}

/** The command line of `mosquitto_<kind>` or `moat <kind>`; stdbuf makes mosquitto_sub write each line at once. */
function commandFor(tool: Tool, kind: 'pub' | 'sub', args: readonly string[]): { command: string; args: string[] } {
  if (tool === 'moat') return moatCommand([kind, ...args]);
  return { command: '/usr/bin/stdbuf', args: ['-oL', kind === 'pub' ? MOSQUITTO_PUB : MOSQUITTO_SUB, ...args] };
}

/** Spawns; `ready` resolves once stdout contains readyText; the process is killed after timeoutMs. */
function start(tool: Tool, kind: 'pub' | 'sub', args: readonly string[], options: { stdin?: string; readyText?: string; timeoutMs?: number } = {}): Started {
  const { command, args: argv } = commandFor(tool, kind, args);
  const child = spawn(command, argv, { stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  if (options.stdin !== undefined) child.stdin?.end(options.stdin);
  let stdout = '';
  let stderr = '';
  let markReady: () => void = () => undefined;
  let failReady: (error: Error) => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('latin1');
    if (options.readyText !== undefined && stdout.includes(options.readyText)) markReady();
  });
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('latin1')));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 10_000);
  const done = new Promise<Run>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      failReady(new Error(`${tool} ${kind} ${args.join(' ')} exited (${code ?? signal}) before "${options.readyText}":\n${stdout}\n${stderr}`));
      resolve({ stdout, stderr, code });
    });
  });
  if (options.readyText === undefined) markReady();
  return { ready, done, kill: (signal = 'SIGKILL') => void child.kill(signal) };
}

/** Removes the -d lines (which may follow a -N payload on the same line). */
function withoutDebug(stdout: string): string {
  return stdout.replace(/Client \S+ (sending|received) [^\n]*\n/g, '').replace(/Subscribed \(mid: \d+\): [^\n]*\n/g, '');
}

interface Row {
  readonly name: string;
  /** Subscriber flags; TOPIC, CID, HOST and PORT are replaced per run. */
  readonly sub: readonly string[];
  /** Publishes made before the subscribers start (e.g. retained messages). */
  readonly before?: readonly (readonly string[])[];
  /** Publishes made once both subscribers have their SUBACK. */
  readonly pub: readonly (readonly string[])[];
  readonly stdin?: string;
  /** What mosquitto_sub + mosquitto + mosquitto_pub print (TOPIC replaced; bytes as latin1), and its exit code. */
  readonly expect: string;
  readonly code?: number;
  /** -L rows carry host and port in the URL. */
  readonly noHostArgs?: boolean;
}

let fileWithBytes = '';

const ROWS: readonly Row[] = [
  { name: '-t -m', sub: ['-t', 'TOPIC', '-C', '1'], pub: [['-t', 'TOPIC', '-m', 'hello']], expect: 'hello\n' },
  { name: '-q 1', sub: ['-t', 'TOPIC', '-q', '1', '-C', '1', '-F', '%t %q %p'], pub: [['-t', 'TOPIC', '-q', '1', '-m', 'm1']], expect: 'TOPIC 1 m1\n' },
  { name: '-q 2', sub: ['-t', 'TOPIC', '-q', '2', '-C', '1', '-F', '%q %r %p'], pub: [['-t', 'TOPIC', '-q', '2', '-m', 'm2']], expect: '2 0 m2\n' },
  {
    name: '-r retained, then a later subscriber',
    before: [['-t', 'TOPIC', '-q', '1', '-r', '-m', 'kept']],
    sub: ['-t', 'TOPIC', '-C', '1', '-F', '%r %p'],
    pub: [],
    expect: '1 kept\n',
  },
  {
    name: '-n -r clears the retained message',
    before: [['-t', 'TOPIC', '-r', '-q', '1', '-m', 'old'], ['-t', 'TOPIC', '-r', '-q', '1', '-n']],
    sub: ['-t', 'TOPIC', '-C', '1', '-v'],
    pub: [['-t', 'TOPIC', '-m', 'fresh']],
    expect: 'TOPIC fresh\n',
  },
  { name: '-v (and a null message)', sub: ['-t', 'TOPIC/#', '-v', '-C', '2'], pub: [['-t', 'TOPIC/a', '-m', 'x y'], ['-t', 'TOPIC/b', '-n']], expect: 'TOPIC/a x y\nTOPIC/b (null)\n' },
  { name: '-F %t %p %l %x %X', sub: ['-t', 'TOPIC', '-C', '1', '-F', '%t %p %l %x %X'], pub: [['-t', 'TOPIC', '-m', 'Hi!\u00ff']], expect: 'TOPIC Hi!\u00c3\u00bf 5 486921c3bf 486921C3BF\n' },
  { name: '-F widths, flags, @ and \\ escapes', sub: ['-t', 'TOPIC', '-C', '1', '-F', '[%12.5t]|%05l|%-3q|@@|%%\\t%r'], pub: [['-t', 'TOPIC', '-m', 'abc']], expect: '[       moat-]|00003|0|@|%\t0\n' },
  { name: '-C 3 stops after three', sub: ['-t', 'TOPIC', '-C', '3'], pub: [['-t', 'TOPIC', '-m', '1'], ['-t', 'TOPIC', '-m', '2'], ['-t', 'TOPIC', '-m', '3'], ['-t', 'TOPIC', '-m', '4']], expect: '1\n2\n3\n' },
  { name: '-W 1 times out with code 27', sub: ['-t', 'TOPIC', '-W', '1'], pub: [], expect: '', code: 27 },
  { name: '-N', sub: ['-t', 'TOPIC', '-N', '-C', '2'], pub: [['-t', 'TOPIC', '-m', 'a'], ['-t', 'TOPIC', '-m', 'b']], expect: 'ab' },
  {
    name: '-R skips stale retained messages',
    before: [['-t', 'TOPIC', '-q', '1', '-r', '-m', 'stale']],
    sub: ['-t', 'TOPIC', '-R', '-C', '1'],
    pub: [['-t', 'TOPIC', '-m', 'live']],
    expect: 'live\n',
  },
  { name: '-l sends one message per stdin line', sub: ['-t', 'TOPIC', '-v', '-C', '4'], pub: [['-t', 'TOPIC', '-l']], stdin: 'one\ntwo\n\nthree', expect: 'TOPIC one\nTOPIC two\nTOPIC (null)\nTOPIC three\n' },
  { name: '-s sends stdin whole', sub: ['-t', 'TOPIC', '-C', '1', '-F', '%l:%x'], pub: [['-t', 'TOPIC', '-s']], stdin: 'whole\nfile\n', expect: '11:77686f6c650a66696c650a\n' },
  { name: '-f sends a file', sub: ['-t', 'TOPIC', '-C', '1', '-F', '%l %x'], pub: [['-t', 'TOPIC', '-f', 'FILE']], expect: '4 00ff0a41\n' },
  {
    name: '-V 5 -D publish user-property and content-type',
    sub: ['-V', '5', '-t', 'TOPIC', '-C', '1', '-F', '%P|%C|%p'],
    pub: [['-V', 'mqttv5', '-t', 'TOPIC', '-m', 'v5', '-D', 'publish', 'user-property', 'k', 'v', '-D', 'publish', 'content-type', 'text/plain']],
    expect: 'k:v|text/plain|v5\n',
  },
  { name: '-i client id and -k keepalive', sub: ['-t', 'TOPIC', '-C', '1', '-i', 'CID', '-k', '5'], pub: [['-t', 'TOPIC', '-m', 'ka', '-i', 'CIDp', '-k', '10']], expect: 'ka\n' },
  { name: '-L URL', sub: ['-L', 'mqtt://HOST:PORT/TOPIC', '-C', '1', '-v'], pub: [['-L', 'mqtt://HOST:PORT/TOPIC', '-m', 'viaurl']], expect: 'TOPIC viaurl\n', noHostArgs: true },
  { name: '-V mqttv311 -c -q 1', sub: ['-V', 'mqttv311', '-c', '-i', 'CID', '-t', 'TOPIC', '-q', '1', '-C', '1', '-F', '%q'], pub: [['-V', '311', '-t', 'TOPIC', '-q', '1', '-m', 'p']], expect: '1\n' },
];

describe('moat pub/sub against mosquitto_pub/mosquitto_sub', { timeout: 240_000 } /* ~35 s alone; generous so a loaded machine does not cancel it */, () => {
  const brokers: Record<Tool, RunningBroker | undefined> = { mosquitto: undefined, moat: undefined };
  let dir = '';

  before(async () => {
    const [mosquitto, moat] = await Promise.all([startMosquitto(), startMoat()]);
    brokers.mosquitto = mosquitto;
    brokers.moat = moat;
    dir = await mkdtemp(join(tmpdir(), 'moat-cli-'));
    fileWithBytes = join(dir, 'payload.bin');
    await writeFile(fileWithBytes, Buffer.from([0x00, 0xff, 0x0a, 0x41]));
  });
  after(async () => {
    await Promise.all([brokers.mosquitto?.stop(), brokers.moat?.stop()]);
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  const broker = (tool: Tool): RunningBroker => {
    const b = brokers[tool];
    assert.ok(b, `${tool} broker did not start`);
    return b;
  };

  /** One (broker, publisher) combination: both subscribers run at once on their own topic. */
  async function runCombo(row: Row, index: number, brokerTool: Tool, pubTool: Tool): Promise<Record<Tool, Run & { topic: string }>> {
    const b = broker(brokerTool);
    const base = `moat-cli/${index}/${brokerTool}-${pubTool}`;
    const fill = (args: readonly string[], topic: string, cid: string): string[] => {
      const host = row.noHostArgs === true ? [] : ['-h', b.host, '-p', String(b.port)];
      return [
        ...host,
        ...args.map((a) => a.replace('TOPIC', topic).replace('CID', cid).replace('HOST', b.host).replace('PORT', String(b.port)).replace(/^FILE$/, fileWithBytes)),
      ];
    };
    const publish = async (topic: string, list: readonly (readonly string[])[]): Promise<void> => {
      for (const args of list) {
        const run = await start(pubTool, 'pub', fill(args, topic, `p-${base}-${topic.length}`), row.stdin === undefined ? {} : { stdin: row.stdin }).done;
        assert.equal(run.code, 0, `${pubTool} pub ${args.join(' ')} failed: ${run.stderr}`);
      }
    };
    const topics = { mosquitto: `${base}/by-mosquitto-sub`, moat: `${base}/by-moat-sub` } as const;
    await Promise.all(TOOLS.map((t) => publish(topics[t], row.before ?? [])));
    const subs = TOOLS.map((t) => start(t, 'sub', ['-d', ...fill(row.sub, topics[t], `s-${base}-${t}`)], { readyText: 'received SUBACK', timeoutMs: 12_000 }));
    await Promise.all(subs.map((s) => s.ready));
    await Promise.all(TOOLS.map((t) => publish(topics[t], row.pub)));
    const [mosquittoRun, moatRun] = await Promise.all(subs.map((s) => s.done));
    return { mosquitto: { ...(mosquittoRun as Run), topic: topics.mosquitto }, moat: { ...(moatRun as Run), topic: topics.moat } };
  }

  ROWS.forEach((row, index) => {
    test(`${row.name}: same output from every subscriber, broker and publisher`, async () => {
      const combos = TOOLS.flatMap((brokerTool) => TOOLS.map((pubTool) => ({ brokerTool, pubTool })));
      const results = await Promise.all(combos.map(({ brokerTool, pubTool }) => runCombo(row, index, brokerTool, pubTool)));
      results.forEach((result, i) => {
        const { brokerTool, pubTool } = combos[i] as (typeof combos)[number];
        for (const subTool of TOOLS) {
          const run = result[subTool];
          const where = `${subTool === 'moat' ? 'moat sub' : 'mosquitto_sub'} on ${brokerTool}, published by ${subTool === 'moat' ? 'moat pub' : 'mosquitto_pub'}`;
          const shown = withoutDebug(run.stdout).split(run.topic).join('TOPIC');
          assert.equal(shown, row.expect, `${where} (${pubTool} publishing)\nstderr: ${run.stderr}`);
          assert.equal(run.code, row.code ?? 0, `${where}: exit code\nstderr: ${run.stderr}`);
        }
      });
    });
  });

  test('--will-topic/--will-payload: a killed moat sub leaves its will, as a killed mosquitto_sub does', async () => {
    for (const brokerTool of TOOLS) {
      const b = broker(brokerTool);
      const hostArgs = ['-h', b.host, '-p', String(b.port)];
      const willTopic = `moat-cli/will/${brokerTool}`;
      const watcher = start('moat', 'sub', ['-d', ...hostArgs, '-t', `${willTopic}/#`, '-v', '-C', '2', '-W', '10'], { readyText: 'received SUBACK' });
      await watcher.ready;
      for (const tool of TOOLS) {
        const dying = start(tool, 'sub', ['-d', ...hostArgs, '-t', 'moat-cli/will/ignored', '--will-topic', `${willTopic}/${tool}`, '--will-payload', 'gone', '--will-qos', '1'], {
          readyText: 'received SUBACK',
        });
        await dying.ready;
        dying.kill('SIGKILL');
        await dying.done;
      }
      const run = await watcher.done;
      assert.deepEqual(withoutDebug(run.stdout).split('\n').filter(Boolean).sort(), [`${willTopic}/moat gone`, `${willTopic}/mosquitto gone`], run.stderr);
    }
  });

  test('--json prints one valid JSON document per message (moat only)', async () => {
    const b = broker('moat');
    const hostArgs = ['-h', b.host, '-p', String(b.port)];
    const sub = start('moat', 'sub', ['-d', ...hostArgs, '-t', 'moat-cli/json/#', '-C', '2', '--json', '-V', '5'], { readyText: 'received SUBACK' });
    await sub.ready;
    await start('moat', 'pub', [...hostArgs, '-t', 'moat-cli/json/a', '-m', '{"t":21}', '-q', '1']).done;
    await start('moat', 'pub', [...hostArgs, '-t', 'moat-cli/json/b', '-f', fileWithBytes, '-V', '5', '-D', 'publish', 'content-type', 'bin']).done;
    const run = await sub.done;
    assert.equal(run.code, 0, run.stderr);
    const documents = withoutDebug(run.stdout).split(/(?<=^\})\n/m).filter((s) => s.trim() !== '').map((s) => JSON.parse(s) as Record<string, unknown>);
    assert.equal(documents.length, 2);
    assert.deepEqual([documents[0]?.['topic'], documents[0]?.['payload'], documents[0]?.['qos']], ['moat-cli/json/a', '{"t":21}', 0]);
    assert.deepEqual([documents[1]?.['payloadBase64'], documents[1]?.['properties']], [Buffer.from([0x00, 0xff, 0x0a, 0x41]).toString('base64'), { contentType: 'bin' }]);
  });

  test('a broker that refuses anonymous clients: moat pub/sub exit with the same code as mosquitto_pub/sub and say why', async () => {
    const [mosquitto, moat] = await Promise.all([startMosquitto({ config: 'allow_anonymous false\n' }), startMoat({ config: 'listener 0 127.0.0.1\nallow_anonymous false\n' })]);
    try {
      for (const b of [mosquitto, moat]) {
        const hostArgs = ['-h', b.host, '-p', String(b.port)];
        for (const version of ['311', '5']) {
          for (const kind of ['pub', 'sub'] as const) {
            const args = [...hostArgs, '-V', version, '-t', 'moat-cli/refused', ...(kind === 'pub' ? ['-m', 'x'] : ['-W', '5'])];
            const [theirs, ours] = await Promise.all(TOOLS.map((t) => start(t, kind, args).done));
            assert.notEqual(theirs?.code, 0, `mosquitto_${kind} on ${b.name} -V ${version}`);
            assert.equal(ours?.code, theirs?.code, `moat ${kind} on ${b.name} -V ${version}: ${ours?.stderr}`);
            assert.match(ours?.stderr ?? '', /^Connection error: .*not authori[sz]ed.*What to do: /is, `moat ${kind} on ${b.name}`);
          }
        }
      }
    } finally {
      await Promise.all([mosquitto.stop(), moat.stop()]);
    }
  });
});
