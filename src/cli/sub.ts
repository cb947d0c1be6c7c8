// `moat sub`: mosquitto_sub's flags. Subscribes to every -t, prints each message (payload, -v, -F
// or moat's --json), and exits after -C messages, after -W seconds (code 27, "Timed out", as
// mosquitto_sub), on -E once subscribed, or on SIGINT/SIGTERM. Refusals print the reason code's
// name, meaning and remedy; a refused CONNECT exits with the CONNACK code, as mosquitto_sub does.
import type { Command } from 'commander';
import type { MqttClient, ReceivedMessage } from '../client/index.js';
import { filterMatches } from '../topic/filter-matches.js';
import { compileFormat, jsonDocument, plainFormatter, systemClock, verboseFormatter, type PrintableMessage } from './format.js';
import { addConnectionFlags, buildConnection, CliError, connectClient, reasonInWords, runCli, type MqttFlags } from './mqtt-flags.js';
import { debugPrinter } from './pub.js';

interface SubFlags extends MqttFlags {
  count?: string;
  timeout?: string;
  R?: boolean;
  N?: boolean;
  verbose?: boolean;
  format?: string;
  json?: boolean;
  exitAfterSubscribe?: boolean;
  filterOut: string[];
  unsubscribe: string[];
  retainedOnly?: boolean;
}

/** mosquitto_sub's exit code when -W runs out. */
export const TIMEOUT_EXIT_CODE = 27;

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function registerSubCommand(program: Command): void {
  const command = program.command('sub').description('subscribe and print messages (mosquitto_sub-compatible flags)');
  addConnectionFlags(program, command, 'sub')
    .option('-C, --count <count>', 'exit after this many messages')
    .option('-W, --timeout <seconds>', `exit (code ${TIMEOUT_EXIT_CODE}) after this many seconds`)
    .option('-R', 'do not print stale (retained) messages')
    .option('-N', 'no newline after each message')
    .option('-v, --verbose', 'print "topic payload"')
    .option('-F, --format <format>', 'output format: %t %p %q %r %l %x %X %j %J %I %U %P %C %E %F %R %S %D %A %m, @strftime, \\escapes')
    .option('--json', 'print each message as a pretty-printed JSON document (moat only)')
    .option('-E, --exit-after-subscribe', 'exit once the subscriptions are acknowledged')
    .option('-T, --filter-out <filter>', 'do not print messages on topics matching this filter (repeatable)', collect, [])
    .option('-U, --unsubscribe <filter>', 'unsubscribe from this filter after subscribing (repeatable)', collect, [])
    .option('--retained-only', 'print only retained messages; exit at the first non-retained one')
    .action((flags: SubFlags) => runCli(flags.quiet === true, () => runSub(flags)));
}

function positive(flag: string, value: string | undefined, integer: boolean): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new CliError(`Error: ${flag} must be a positive ${integer ? 'whole ' : ''}number, got "${value}".`);
  return n;
}

type Printer = (message: PrintableMessage, ns: bigint) => Buffer | string | undefined;

function choosePrinter(flags: SubFlags): Printer {
  const chosen = [flags.json === true, flags.format !== undefined, flags.verbose === true].filter(Boolean).length;
  if (chosen > 1 && flags.json === true) throw new CliError('Error: --json cannot be combined with -F or -v.');
  const eol = flags.N === true ? '' : '\n';
  if (flags.json === true) return (m, ns) => `${jsonDocument(m, ns)}\n`;
  const base: Printer = flags.format !== undefined ? compileFormat(flags.format) : flags.verbose === true ? verboseFormatter : plainFormatter;
  return (m, ns) => {
    const out = base(m, ns);
    return out === undefined ? undefined : eol === '' ? out : Buffer.concat([typeof out === 'string' ? Buffer.from(out) : out, Buffer.from(eol)]);
  };
}

async function runSub(flags: SubFlags): Promise<number> {
  const count = positive('-C', flags.count, true);
  const timeoutSeconds = positive('-W', flags.timeout, false);
  const print = choosePrinter(flags);
  const connection = await buildConnection(flags, 'sub');
  if (connection.topics.length === 0) throw new CliError('Error: You must specify a topic to subscribe to (-t TOPIC or -L mqtt://host/TOPIC).');
  const debug = debugPrinter(connection);

  let finish: (code: number) => void = () => undefined;
  const finished = new Promise<number>((resolve) => {
    finish = resolve;
  });
  const timer = timeoutSeconds === undefined ? undefined : setTimeout(() => {
    process.stderr.write('Timed out\n');
    finish(TIMEOUT_EXIT_CODE);
  }, timeoutSeconds * 1000);
  const onSignal = (): void => finish(0);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  let client: MqttClient | undefined;
  let ending = false;
  try {
    debug('sending CONNECT');
    const connecting = connectClient(connection);
    client = await Promise.race([connecting, finished.then(() => undefined)]);
    if (client === undefined) {
      // -W ran out or a signal came while connecting: drop the attempt quietly.
      connecting.then((late) => late.end(), () => undefined);
      return await finished;
    }
    debug('received CONNACK (0)');
    let printed = 0;
    client.onMessage((message: ReceivedMessage) => {
      debug(`received PUBLISH (d${message.dup ? 1 : 0}, q${message.qos}, r${message.retain ? 1 : 0}, m0, '${message.topic}', ... (${message.payload.length} bytes))`);
      if (count !== undefined && printed >= count) return;
      if (flags.retainedOnly === true && !message.retain) return finish(0);
      if (flags.R === true && message.retain) return;
      if (flags.filterOut.some((filter) => filterMatches(filter, message.topic))) return;
      const out = print(message, systemClock());
      if (out !== undefined) process.stdout.write(out);
      printed++;
      if (count !== undefined && printed >= count) finish(0);
    });
    client.onDisconnect((reason) => {
      if (ending) return;
      process.stderr.write(`${reason.message}\n`);
      // Like mosquitto_sub, keep running while the client reconnects (and resubscribes) by itself.
      if (reason.reconnecting !== true) finish(1);
    });
    for (const topic of connection.topics) debug(`sending SUBSCRIBE (Mid: 0, Topic: ${topic}, QoS: ${connection.qos}, Options: 0x00)`);
    const properties = connection.properties.subscribe;
    const codes = await client.subscribe(connection.topics, { qos: connection.qos, ...(properties !== undefined ? { properties } : {}) });
    debug('received SUBACK');
    if (connection.debug) process.stdout.write(`Subscribed (mid: 0): ${codes.join(', ')}\n`);
    const refused = codes.map((code, i) => ({ code, topic: connection.topics[i] ?? '' })).filter(({ code }) => code >= 0x80);
    for (const { code, topic } of refused) process.stderr.write(`Subscription to "${topic}" refused: ${reasonInWords(code, 'suback', connection.version)}\n`);
    if (refused.length === codes.length) {
      process.stderr.write('All subscription requests were denied.\n');
      return 1;
    }
    if (flags.unsubscribe.length > 0) await client.unsubscribe(flags.unsubscribe);
    if (flags.exitAfterSubscribe === true) return 0;
    return await finished;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    if (client !== undefined) {
      ending = true;
      debug('sending DISCONNECT');
      await client.end();
    }
  }
}
