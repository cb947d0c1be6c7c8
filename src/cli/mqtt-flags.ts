// The flags `moat pub` and `moat sub` share with mosquitto_pub/mosquitto_sub (-h -p -L -V -i -I -k
// -u -P -c -x -D --will-* --cafile --cert --key --insecure -d --quiet), and what they turn into: a
// broker URL plus ClientOptions, the -D properties per packet, and the connect step with the
// reason-code wording and mosquitto's exit codes (the CONNACK code on a refusal, 1 otherwise).
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { MoatError } from '../codec/errors.js';
import { describeReason } from '../codec/reason-codes.js';
import type { Properties, QoS } from '../codec/types.js';
import { connect, MqttError, type ClientOptions, type MqttClient } from '../client/index.js';

/** A CLI failure: the message goes to stderr as is, the process exits with exitCode. */
export class CliError extends MoatError {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super('MOAT_ERR_CLI', message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** What commander hands us for the shared flags. */
export interface MqttFlags {
  host?: string;
  port?: string;
  url?: string;
  topic: string[];
  protocolVersion?: string;
  id?: string;
  idPrefix?: string;
  keepalive?: string;
  username?: string;
  pw?: string;
  disableCleanSession?: boolean;
  sessionExpiry?: string;
  property?: string[];
  willTopic?: string;
  willPayload?: string;
  willQos?: string;
  willRetain?: boolean;
  cafile?: string;
  cert?: string;
  key?: string;
  insecure?: boolean;
  qos?: string;
  debug?: boolean;
  quiet?: boolean;
}

/** The client's TLS options (PEM contents, read from the --cafile/--cert/--key paths). */
type CliTlsOptions = NonNullable<ClientOptions['tls']>;
export type CliClientOptions = ClientOptions;

/** -D properties by the packet they go in. */
export interface PropertySet {
  connect?: Properties;
  publish?: Properties;
  subscribe?: Properties;
  will?: Properties;
}

export interface Connection {
  readonly url: string;
  readonly options: CliClientOptions;
  readonly version: 4 | 5;
  /** -t values, plus the topic of -L mqtt://host/topic. */
  readonly topics: string[];
  readonly properties: PropertySet;
  readonly qos: QoS;
  readonly debug: boolean;
  readonly quiet: boolean;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/**
 * Adds the flags both commands share. mosquitto's -h is the host and -V the protocol version, so
 * help moves to --help and the root's -V (version) is recognised only before the subcommand.
 */
export function addConnectionFlags(program: Command, command: Command, tool: 'pub' | 'sub'): Command {
  program.enablePositionalOptions();
  return command
    .helpOption('--help', 'display help for command')
    .option('-h, --host <host>', 'broker host (default localhost)')
    .option('-p, --port <port>', 'broker port (default 1883, 8883 with TLS)')
    .option('-L, --url <url>', 'mqtt(s)://[username[:password]@]host[:port]/topic')
    .option('-t, --topic <topic>', tool === 'pub' ? 'topic to publish to' : 'topic filter to subscribe to (repeatable)', collect, [])
    .option('-q, --qos <qos>', tool === 'pub' ? 'QoS of the message: 0, 1 or 2' : 'maximum QoS of the subscription: 0, 1 or 2', '0')
    .option('-V, --protocol-version <version>', 'mqttv5 (5), mqttv311 (311) or mqttv31 (31); default mqttv311')
    .option('-i, --id <id>', 'client id (default moat_<tool>_<pid>)')
    .option('-I, --id-prefix <prefix>', 'client id = prefix + process id')
    .option('-k, --keepalive <seconds>', 'keep alive in seconds (default 60)')
    .option('-u, --username <username>', 'user name')
    .option('-P, --pw <password>', 'password')
    .option('-c, --disable-clean-session', 'keep the session (clean session / clean start off)')
    .option('-x, --session-expiry <seconds>', 'MQTT 5 session expiry interval; -1 = never')
    .option('-D, --property <words...>', 'MQTT 5 property: COMMAND IDENTIFIER VALUE, e.g. -D publish user-property key value')
    .option('--will-topic <topic>', 'topic of the will message')
    .option('--will-payload <payload>', 'payload of the will message')
    .option('--will-qos <qos>', 'QoS of the will message')
    .option('--will-retain', 'retain the will message')
    .option('--cafile <file>', 'trusted CA certificates (PEM): connect with TLS')
    .option('--cert <file>', 'client certificate (PEM)')
    .option('--key <file>', 'client private key (PEM)')
    .option('--insecure', 'do not verify the server certificate')
    .option('-d, --debug', 'print debug messages')
    .option('--quiet', 'do not print error messages');
}

function parseIntFlag(flag: string, value: string, min: number, max: number): number {
  const n = /^-?\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw new CliError(`Error: ${flag} must be a whole number from ${min} to ${max}, got "${value}".`);
  return n;
}

export function parseQos(flag: string, value: string): QoS {
  return parseIntFlag(flag, value, 0, 2) as QoS;
}

export function parseVersion(value: string | undefined): 4 | 5 {
  switch (value) {
    case undefined:
    case 'mqttv311':
    case '311':
      return 4;
    case 'mqttv5':
    case '5':
      return 5;
    case 'mqttv31':
    case '31':
      throw new CliError('Error: MQTT 3.1 (-V mqttv31) is not supported by the moat client; use -V mqttv311 or -V mqttv5.');
    default:
      throw new CliError(`Error: Invalid protocol version "${value}"; use mqttv5 (5), mqttv311 (311) or mqttv31 (31).`);
  }
}

type PropertyCommand = keyof PropertySet;
interface PropertySpec {
  readonly key: keyof Properties;
  readonly kind: 'byte' | 'u16' | 'u32' | 'varint' | 'string' | 'binary';
  readonly commands: readonly PropertyCommand[];
}

const PROPERTY_SPECS: Readonly<Record<string, PropertySpec>> = {
  'payload-format-indicator': { key: 'payloadFormatIndicator', kind: 'byte', commands: ['publish', 'will'] },
  'message-expiry-interval': { key: 'messageExpiryInterval', kind: 'u32', commands: ['publish', 'will'] },
  'content-type': { key: 'contentType', kind: 'string', commands: ['publish', 'will'] },
  'response-topic': { key: 'responseTopic', kind: 'string', commands: ['publish', 'will'] },
  'correlation-data': { key: 'correlationData', kind: 'binary', commands: ['publish', 'will'] },
  'subscription-identifier': { key: 'subscriptionIdentifiers', kind: 'varint', commands: ['subscribe'] },
  'session-expiry-interval': { key: 'sessionExpiryInterval', kind: 'u32', commands: ['connect'] },
  'request-problem-information': { key: 'requestProblemInformation', kind: 'byte', commands: ['connect'] },
  'request-response-information': { key: 'requestResponseInformation', kind: 'byte', commands: ['connect'] },
  'will-delay-interval': { key: 'willDelayInterval', kind: 'u32', commands: ['will'] },
  'receive-maximum': { key: 'receiveMaximum', kind: 'u16', commands: ['connect'] },
  'topic-alias-maximum': { key: 'topicAliasMaximum', kind: 'u16', commands: ['connect'] },
  'topic-alias': { key: 'topicAlias', kind: 'u16', commands: ['publish'] },
  'maximum-packet-size': { key: 'maximumPacketSize', kind: 'u32', commands: ['connect'] },
  'user-property': { key: 'userProperties', kind: 'string', commands: ['connect', 'publish', 'subscribe', 'will'] },
};

const MAX: Readonly<Record<PropertySpec['kind'], number>> = { byte: 255, u16: 65535, u32: 4294967295, varint: 268435455, string: 0, binary: 0 };

/** Parses the words of every -D (commander joins repeated -D into one list): COMMAND IDENTIFIER VALUE [VALUE]. */
export function parseProperties(words: readonly string[]): PropertySet {
  const set: PropertySet = {};
  let i = 0;
  while (i < words.length) {
    const [command, identifier] = [words[i], words[i + 1]];
    if (command === undefined || identifier === undefined) throw new CliError(`Error: -D needs COMMAND IDENTIFIER VALUE, got "${words.slice(i).join(' ')}".`);
    const spec = PROPERTY_SPECS[identifier];
    if (command !== 'connect' && command !== 'publish' && command !== 'subscribe' && command !== 'will') {
      const hint = ['disconnect', 'unsubscribe', 'auth', 'puback', 'pubrec', 'pubrel', 'pubcomp'].includes(command) ? ' is not supported by moat pub/sub' : ' is not a command';
      throw new CliError(`Error: -D ${command}${hint}; use connect, publish, subscribe or will.`);
    }
    if (spec === undefined) throw new CliError(`Error: -D ${command} ${identifier}: unknown or unsupported property; known: ${Object.keys(PROPERTY_SPECS).join(', ')}.`);
    if (!spec.commands.includes(command)) throw new CliError(`Error: -D ${identifier} is not allowed on ${command}; it belongs on ${spec.commands.join(' or ')}.`);
    const properties: Properties = (set[command] ??= {});
    if (spec.key === 'userProperties') {
      const [name, value] = [words[i + 2], words[i + 3]];
      if (name === undefined || value === undefined) throw new CliError('Error: -D COMMAND user-property needs a NAME and a VALUE.');
      (properties.userProperties ??= []).push([name, value]);
      i += 4;
      continue;
    }
    const value = words[i + 2];
    if (value === undefined) throw new CliError(`Error: -D ${command} ${identifier} needs a VALUE.`);
    const target = properties as Record<string, unknown>;
    if (spec.kind === 'string') target[spec.key] = value;
    else if (spec.kind === 'binary') target[spec.key] = Buffer.from(value, 'utf8');
    else {
      const n = parseIntFlag(`-D ${command} ${identifier}`, value, spec.kind === 'varint' ? 1 : 0, MAX[spec.kind]);
      target[spec.key] = spec.kind === 'varint' ? [n] : n;
    }
    i += 3;
  }
  return set;
}

interface UrlParts {
  secure: boolean;
  host: string;
  port?: number;
  username?: string;
  password?: string;
  topic?: string;
}

/** -L mqtt(s)://[username[:password]@]host[:port]/topic, as mosquitto reads it. */
export function parseMosquittoUrl(url: string): UrlParts {
  const match = /^(mqtts?):\/\/(?:([^:@/]*)(?::([^@/]*))?@)?(\[[^\]]+\]|[^:/]+)(?::(\d+))?(?:\/(.*))?$/.exec(url);
  if (match === null) throw new CliError(`Error: -L "${url}" is not of the form mqtt(s)://[username[:password]@]host[:port]/topic.`);
  const [, scheme, username, password, host = '', port, topic] = match;
  const parts: UrlParts = { secure: scheme === 'mqtts', host: host.replace(/^\[(.*)\]$/, '$1') };
  if (port !== undefined) parts.port = parseIntFlag('-L port', port, 1, 65535);
  if (username !== undefined && username !== '') parts.username = decodeURIComponent(username);
  if (password !== undefined) parts.password = decodeURIComponent(password);
  if (topic !== undefined && topic !== '') parts.topic = topic;
  return parts;
}

async function readPem(flag: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new CliError(`Error: cannot read ${flag} ${path}: ${(error as Error).message}`);
  }
}

/** Turns the shared flags into a URL, ClientOptions and per-packet properties; throws CliError naming the flag. */
export async function buildConnection(flags: MqttFlags, tool: 'pub' | 'sub'): Promise<Connection> {
  const version = parseVersion(flags.protocolVersion);
  const fromUrl = flags.url === undefined ? undefined : parseMosquittoUrl(flags.url);
  const tlsWanted = fromUrl?.secure === true || flags.cafile !== undefined || flags.cert !== undefined || flags.key !== undefined || flags.insecure === true;
  const host = fromUrl?.host ?? flags.host ?? 'localhost';
  const port = fromUrl?.port ?? (flags.port === undefined ? (tlsWanted ? 8883 : 1883) : parseIntFlag('-p', flags.port, 1, 65535));
  const url = `${tlsWanted ? 'mqtts' : 'mqtt'}://${host.includes(':') ? `[${host}]` : host}:${port}`;

  const properties = parseProperties(flags.property ?? []);
  if (version !== 5 && (flags.property?.length ?? 0) > 0) throw new CliError('Error: -D (MQTT 5 properties) needs -V mqttv5.');

  const options: CliClientOptions = { protocolVersion: version, connectTimeoutMs: 30_000 };
  options.clientId = flags.id ?? `${flags.idPrefix ?? `moat_${tool}_`}${process.pid}`;
  if (flags.id !== undefined && flags.idPrefix !== undefined) throw new CliError('Error: -i and -I cannot be used together.');
  if (flags.keepalive !== undefined) options.keepalive = parseIntFlag('-k', flags.keepalive, 0, 65535);
  options.clean = flags.disableCleanSession !== true;
  const username = fromUrl?.username ?? flags.username;
  const password = fromUrl?.password ?? flags.pw;
  if (username !== undefined) options.username = username;
  if (password !== undefined) {
    if (username === undefined && version === 4) throw new CliError('Error: -P needs -u with MQTT 3.1.1.');
    options.password = password;
  }
  const connectProperties: Properties = { ...properties.connect };
  if (version === 5) {
    if (flags.sessionExpiry !== undefined) {
      const raw = flags.sessionExpiry === '-1' || flags.sessionExpiry === '∞' ? '4294967295' : flags.sessionExpiry;
      connectProperties.sessionExpiryInterval = parseIntFlag('-x', raw, 0, 4294967295);
    } else if (flags.disableCleanSession === true) {
      connectProperties.sessionExpiryInterval = 4294967295;
    }
    if (Object.keys(connectProperties).length > 0) options.properties = connectProperties;
  } else if (flags.sessionExpiry !== undefined) {
    throw new CliError('Error: -x (session expiry) needs -V mqttv5.');
  }
  if (flags.willTopic !== undefined) {
    options.will = {
      topic: flags.willTopic,
      payload: flags.willPayload ?? '',
      qos: flags.willQos === undefined ? 0 : parseQos('--will-qos', flags.willQos),
      retain: flags.willRetain === true,
      ...(properties.will !== undefined ? { properties: properties.will } : {}),
    };
  } else if (flags.willPayload !== undefined || flags.willQos !== undefined || flags.willRetain === true) {
    throw new CliError('Error: Will payload, QoS or retain given without --will-topic.');
  }
  if (tlsWanted) {
    const tls: CliTlsOptions = {};
    if (flags.cafile !== undefined) tls.ca = await readPem('--cafile', flags.cafile);
    if (flags.cert !== undefined) tls.cert = await readPem('--cert', flags.cert);
    if (flags.key !== undefined) tls.key = await readPem('--key', flags.key);
    if ((flags.cert === undefined) !== (flags.key === undefined)) throw new CliError('Error: --cert and --key must be given together.');
    if (flags.insecure === true) tls.rejectUnauthorized = false;
    options.tls = tls;
  }
  const topics = [...(fromUrl?.topic !== undefined ? [fromUrl.topic] : []), ...flags.topic];
  return { url, options, version, topics, properties, qos: parseQos('-q', flags.qos ?? '0'), debug: flags.debug === true, quiet: flags.quiet === true };
}

/** "0x87 Not authorized: meaning. What to do: remedy" — the reason-code table's words. */
export function reasonInWords(code: number, packet: 'connack' | 'suback' | 'puback' | 'pubrec' | 'disconnect', version: 4 | 5): string {
  const info = describeReason(code, { packet, protocolVersion: version });
  const meaning = info.meaning.replace(/\.?$/, '.');
  return `${info.name} (0x${code.toString(16).padStart(2, '0')}): ${meaning} What to do: ${info.remedy}`;
}

/** Connects, or throws CliError with mosquitto's exit code: the CONNACK code on a refusal, 1 otherwise. */
export async function connectClient(connection: Connection): Promise<MqttClient> {
  try {
    return await connect(connection.url, connection.options);
  } catch (error) {
    if (error instanceof MqttError && error.reasonCode !== undefined) {
      throw new CliError(`Connection error: ${reasonInWords(error.reasonCode, 'connack', connection.version)}`, error.reasonCode);
    }
    if (error instanceof MoatError) throw new CliError(`Error: ${error.message}`);
    throw error;
  }
}

/** Runs a command body: CliError → its message on stderr (unless --quiet) and its exit code. */
export async function runCli(quiet: boolean, body: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await body();
  } catch (error) {
    if (error instanceof CliError) {
      if (!quiet) process.stderr.write(`${error.message}\n`);
      process.exitCode = error.exitCode;
      return;
    }
    if (error instanceof MoatError) {
      if (!quiet) process.stderr.write(`Error: ${error.message}\n`);
      process.exitCode = 1;
      return;
    }
    throw error;
  }
}
