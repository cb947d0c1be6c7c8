// `moat pub`: mosquitto_pub's flags. Publishes one message (-m, -f, -n, -s) --repeat times, or one
// message per stdin line (-l), waits for each QoS flow to finish, then disconnects. Exit codes
// follow mosquitto_pub: 0, the CONNACK code when the broker refuses, 1 for anything else.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { MqttError, type MqttClient } from '../client/index.js';
import { addConnectionFlags, buildConnection, CliError, connectClient, reasonInWords, runCli, type Connection, type MqttFlags } from './mqtt-flags.js';

interface PubFlags extends MqttFlags {
  message?: string;
  file?: string;
  stdinLine?: boolean;
  stdinFile?: boolean;
  nullMessage?: boolean;
  retain?: boolean;
  repeat?: string;
  repeatDelay?: string;
}

export function registerPubCommand(program: Command): void {
  const command = program.command('pub').description('publish a message (mosquitto_pub-compatible flags)');
  addConnectionFlags(program, command, 'pub')
    .option('-m, --message <message>', 'message payload')
    .option('-f, --file <file>', 'send the contents of a file as the message')
    .option('-l, --stdin-line', 'read stdin, sending one message per line')
    .option('-s, --stdin-file', 'read stdin, sending it whole as one message')
    .option('-n, --null-message', 'send a zero-length message')
    .option('-r, --retain', 'retain the message')
    .option('--repeat <count>', 'publish the message (-m, -f, -s, -n) this many times')
    .option('--repeat-delay <seconds>', 'seconds between repeats (default 0)')
    .action((flags: PubFlags) => runCli(flags.quiet === true, () => runPub(flags)));
}

type Source = { kind: 'one'; payload: () => Promise<Buffer> } | { kind: 'lines' };

function messageSource(flags: PubFlags): Source {
  const given = [flags.message !== undefined, flags.file !== undefined, flags.stdinLine === true, flags.stdinFile === true, flags.nullMessage === true].filter(Boolean).length;
  if (given === 0) throw new CliError('Error: Both topic and message must be supplied (-m, -f, -l, -n or -s).');
  if (given > 1) throw new CliError('Error: Only one type of message can be sent at once (-m, -f, -l, -n, -s).');
  if (flags.message !== undefined) {
    const payload = Buffer.from(flags.message, 'utf8');
    return { kind: 'one', payload: () => Promise.resolve(payload) };
  }
  if (flags.file !== undefined) {
    const file = flags.file;
    return {
      kind: 'one',
      payload: () => readFile(file).catch((error: Error) => Promise.reject(new CliError(`Error: Unable to read file "${file}": ${error.message}`))),
    };
  }
  if (flags.stdinFile === true) return { kind: 'one', payload: readStdin };
  if (flags.stdinLine === true) return { kind: 'lines' };
  return { kind: 'one', payload: () => Promise.resolve(Buffer.alloc(0)) };
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** stdin split at '\n' (kept out of the payload; '\r' stays, as with mosquitto_pub); a last unterminated line counts. */
async function* stdinLines(): AsyncGenerator<Buffer> {
  let rest = Buffer.alloc(0);
  for await (const chunk of process.stdin) {
    rest = Buffer.concat([rest, chunk as Buffer]);
    let newline = rest.indexOf(0x0a);
    while (newline !== -1) {
      yield rest.subarray(0, newline);
      rest = rest.subarray(newline + 1);
      newline = rest.indexOf(0x0a);
    }
  }
  if (rest.length > 0) yield rest;
}

async function runPub(flags: PubFlags): Promise<number> {
  const source = messageSource(flags);
  const connection = await buildConnection(flags, 'pub');
  const topic = connection.topics[0];
  if (topic === undefined) throw new CliError('Error: Both topic and message must be supplied (-t TOPIC or -L mqtt://host/TOPIC).');
  if (connection.topics.length > 1) throw new CliError('Error: moat pub publishes to one topic; give -t once.');
  const repeat = flags.repeat === undefined ? 1 : Number(flags.repeat);
  if (!Number.isInteger(repeat) || repeat < 1) throw new CliError(`Error: --repeat must be a whole number of at least 1, got "${flags.repeat}".`);
  if (repeat > 1 && source.kind === 'lines') throw new CliError('Error: --repeat works with -m, -f, -n and -s, not -l.');
  const delayMs = flags.repeatDelay === undefined ? 0 : Number(flags.repeatDelay) * 1000;
  if (!Number.isFinite(delayMs) || delayMs < 0) throw new CliError(`Error: --repeat-delay must be a number of seconds, got "${flags.repeatDelay}".`);

  // Read -f/-s before connecting, so a bad file never opens a connection.
  const payload = source.kind === 'one' ? await source.payload() : undefined;
  const debug = debugPrinter(connection);
  debug('sending CONNECT');
  const client = await connectClient(connection);
  debug('received CONNACK (0)');
  const failures: string[] = [];
  const pending: Promise<void>[] = [];
  const send = (body: Buffer): void => {
    debug(`sending PUBLISH (d0, q${connection.qos}, r${flags.retain === true ? 1 : 0}, m?, '${topic}', ... (${body.length} bytes))`);
    pending.push(publish(client, connection, topic, body, flags.retain === true).catch((error: unknown) => void failures.push(describePublishError(error, connection))));
  };
  try {
    if (payload !== undefined) {
      for (let i = 0; i < repeat; i++) {
        if (i > 0 && delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
        send(payload);
      }
    } else {
      for await (const line of stdinLines()) send(line);
    }
    await Promise.all(pending);
  } finally {
    debug('sending DISCONNECT');
    await client.end();
  }
  for (const failure of failures) process.stderr.write(`${failure}\n`);
  return failures.length === 0 ? 0 : 1;
}

function publish(client: MqttClient, connection: Connection, topic: string, payload: Buffer, retain: boolean): Promise<void> {
  const properties = connection.properties.publish;
  return client.publish(topic, payload, { qos: connection.qos, retain, ...(properties !== undefined ? { properties } : {}) });
}

function describePublishError(error: unknown, connection: Connection): string {
  if (error instanceof MqttError && error.reasonCode !== undefined) {
    return `Warning: Publish failed: ${reasonInWords(error.reasonCode, error.code === 'MOAT_ERR_PUBREC' ? 'pubrec' : 'puback', connection.version)}`;
  }
  return `Error: Publish failed: ${error instanceof Error ? error.message : String(error)}`;
}

/** -d: mosquitto-style "Client ID sending X" lines on stdout. */
export function debugPrinter(connection: Connection): (text: string) => void {
  if (!connection.debug) return () => undefined;
  const id = connection.options.clientId ?? '(null)';
  return (text) => void process.stdout.write(`Client ${id} ${text}\n`);
}
