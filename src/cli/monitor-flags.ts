// The flags `moat top` and `moat capacity check` share: a broker URL (positional) or -h/-p, -u/-P,
// TLS files, -V, the admin API and --limit; turned into the Connection `moat sub` uses, so the same
// connect step (and its reason-code wording) applies. Both only read `$SYS/#`.
import type { Command } from 'commander';
import { AdminApi, AdminApiError } from './admin-api.js';
import { buildConnection, CliError, connectClient, reasonInWords, type Connection, type MqttFlags } from './mqtt-flags.js';
import type { MqttClient, ReceivedMessage } from '../client/index.js';

export interface MonitorFlags {
  host?: string;
  port?: string;
  username?: string;
  pw?: string;
  cafile?: string;
  cert?: string;
  key?: string;
  insecure?: boolean;
  protocolVersion?: string;
  id?: string;
  admin?: string;
  adminToken?: string;
  limit?: string;
  quiet?: boolean;
}

/** The largest max_connections moat accepts (and so the largest --limit that means anything). */
export const INT32_MAX = 2_147_483_647;

export function addMonitorFlags(program: Command, command: Command): Command {
  program.enablePositionalOptions();
  return command
    .helpOption('--help', 'display help for command')
    .argument('[url]', 'mqtt(s)://[username[:password]@]host[:port]')
    .option('-h, --host <host>', 'broker host (default localhost)')
    .option('-p, --port <port>', 'broker port (default 1883, 8883 with TLS)')
    .option('-u, --username <username>', 'user name')
    .option('-P, --pw <password>', 'password')
    .option('--cafile <file>', 'trusted CA certificates (PEM): connect with TLS')
    .option('--cert <file>', 'client certificate (PEM)')
    .option('--key <file>', 'client private key (PEM)')
    .option('--insecure', 'do not verify the server certificate')
    .option('-V, --protocol-version <version>', 'mqttv5 (5), mqttv311 (311); default mqttv311')
    .option('-i, --id <id>', 'client id (default moat_<command>_<pid>)')
    .option('--admin <url>', "moat's admin API, e.g. http://127.0.0.1:9090 (per-client figures)")
    .option('--admin-token <token>', 'admin API bearer token (default: $MOAT_ADMIN_TOKEN)')
    .option('--limit <connections>', "the broker's connection limit, when it does not publish one (Mosquitto: its max_connections)")
    .option('--quiet', 'do not print error messages');
}

/** A whole number from min to max, or CliError naming the flag. */
export function wholeFlag(flag: string, value: string, min: number, max: number): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new CliError(`Error: ${flag} must be a whole number from ${formatPlain(min)} to ${formatPlain(max)}, got "${value}".`);
  return n;
}

/** A decimal number from min to max (seconds and rates), or CliError naming the flag. */
export function decimalFlag(flag: string, value: string, min: number, max: number): number {
  const n = /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isFinite(n) || n < min || n > max) throw new CliError(`Error: ${flag} must be a number from ${formatPlain(min)} to ${formatPlain(max)}, got "${value}".`);
  return n;
}

const formatPlain = (n: number): string => String(n);

export interface Monitor {
  readonly connection: Connection;
  /** What the screen calls the broker: mqtt://host:port. */
  readonly target: string;
  readonly limit: number | undefined;
  readonly admin: AdminApi | undefined;
}

/** Flags → connection settings (nothing is opened yet). */
export async function buildMonitor(url: string | undefined, flags: MonitorFlags, command: 'top' | 'capacity'): Promise<Monitor> {
  const mqttFlags: MqttFlags = { topic: [], idPrefix: `moat_${command}_` };
  for (const key of ['host', 'port', 'username', 'pw', 'cafile', 'cert', 'key', 'insecure', 'protocolVersion', 'id', 'quiet'] as const) {
    const value = flags[key];
    if (value !== undefined) (mqttFlags as unknown as Record<string, unknown>)[key] = value;
  }
  if (flags.id !== undefined) delete mqttFlags.idPrefix;
  if (url !== undefined) mqttFlags.url = url;
  const connection = await buildConnection(mqttFlags, 'sub');
  // A monitor that keeps a session would queue $SYS for itself while away: always clean.
  connection.options.clean = true;
  const limit = flags.limit === undefined ? undefined : wholeFlag('--limit', flags.limit, 1, INT32_MAX);
  const token = flags.adminToken ?? process.env['MOAT_ADMIN_TOKEN'];
  let admin: AdminApi | undefined;
  if (flags.admin !== undefined) {
    try {
      admin = new AdminApi(flags.admin, token === '' ? undefined : token);
    } catch (error) {
      if (error instanceof AdminApiError) throw new CliError(`Error: ${error.message}`);
      throw error;
    }
  }
  return { connection, target: connection.url, limit, admin };
}

/**
 * Connects and subscribes to `$SYS/#`; `onSys` gets every message (`retained`: the stored value sent on
 * subscribing, which predates this connection; later ones are live). A refused CONNECT throws CliError
 * with the reason in words (exit code = the CONNACK code, as mosquitto_sub); a refused subscription too.
 */
export async function openSys(connection: Connection, onSys: (topic: string, payload: string, at: number, retained: boolean) => void): Promise<MqttClient> {
  connection.options.onMessage = (message: ReceivedMessage) => onSys(message.topic, message.payload.toString('utf8'), Date.now(), message.retain);
  let client: MqttClient;
  try {
    client = await connectClient(connection);
  } catch (error) {
    if (error instanceof CliError && /closed the connection before sending CONNACK/.test(error.message)) {
      throw new CliError(`${error.message} Mosquitto does this when it is at max_connections (it sends no CONNACK to say so); other causes: an ACL or a listener for another protocol.`, error.exitCode);
    }
    throw error;
  }
  let codes: number[];
  try {
    codes = await client.subscribe(['$SYS/#'], { qos: 0 });
  } catch (error) {
    await client.end();
    throw new CliError(`Error: subscribing to $SYS/# failed: ${(error as Error).message}`);
  }
  const code = codes[0] ?? 0x80;
  if (code >= 0x80) {
    await client.end();
    throw new CliError(`Error: the broker refused the subscription to $SYS/#: ${reasonInWords(code, 'suback', connection.version)} This command needs read access to $SYS/# (an ACL "topic read $SYS/#" line for this user).`);
  }
  return client;
}
