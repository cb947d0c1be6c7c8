// `moat debug URL`: flags in, the troubleshooting report out (src/debug/ does the work). Exit codes:
// 0 healthy, 2 usage error, 10 DNS, 11 TCP, 12 TLS, 13 MQTT CONNECT, 14 round trip / ACL, 15 payloads.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { MoatError } from '../codec/errors.js';
import { loadSchema } from '../debug/payload.js';
import { renderDebugJson, renderDebugText, runDebug, type DebugOptions } from '../debug/run.js';
import { DEBUG_EXIT } from '../debug/stages.js';
import { parseVersion } from './mqtt-flags.js';

interface DebugFlags {
  username?: string;
  pw?: string;
  cafile?: string;
  cert?: string;
  key?: string;
  protocolVersion?: string;
  topic?: string;
  schema?: string;
  sampleSeconds: string;
  probePrefix?: string;
  timeout: string;
  json?: boolean;
}

export function registerDebugCommand(program: Command): void {
  // -V is the protocol version here (as in moat pub/sub); the root's -V (version) only before the subcommand.
  program.enablePositionalOptions();
  program
    .command('debug')
    .description('troubleshoot a broker step by step: DNS, TCP, TLS, MQTT CONNECT, a publish/subscribe round trip, payloads; stops at the first failure with the diagnosis and the fix')
    .argument('<url>', 'broker: mqtt://, mqtts://, ws:// or wss://HOST[:PORT][/PATH]')
    .option('-u, --username <username>', 'user name')
    .option('-P, --pw <password>', 'password')
    .option('--cafile <file>', 'CA certificate (PEM) to verify the broker against, instead of the system CAs')
    .option('--cert <file>', 'client certificate (PEM)')
    .option('--key <file>', 'client private key (PEM)')
    .option('-V, --protocol-version <version>', 'mqttv5 (5) or mqttv311 (311); default 5, then 3.1.1 if the broker refuses 5')
    .option('--topic <filter>', 'also sample this topic filter and check the payloads (UTF-8, JSON, --schema)')
    .option('--schema <file>', 'JSON Schema the --topic payloads must match')
    .option('--sample-seconds <seconds>', 'how long to sample --topic', '5')
    .option('--probe-prefix <topic>', 'where the round-trip probe topic goes (<prefix>/<random>)', 'moat/debug')
    .option('--timeout <ms>', 'time allowed for each step, in milliseconds', '5000')
    .option('--json', 'print the report as one JSON object')
    .exitOverride((error) => {
      // commander's own usage errors (unknown option, missing URL) exit 2 like ours; help exits 0.
      process.exit(error.exitCode === 0 ? 0 : DEBUG_EXIT.usage);
    })
    .action(async (url: string, flags: DebugFlags) => {
      let options: DebugOptions;
      try {
        options = await debugOptions(url, flags);
      } catch (error) {
        if (!(error instanceof MoatError)) throw error;
        usageError(flags, url, error.message);
        return;
      }
      try {
        const report = await runDebug(options);
        process.stdout.write(flags.json === true ? renderDebugJson(report) : renderDebugText(report));
        process.exitCode = report.exitCode;
      } catch (error) {
        // parseTarget's refusal of the URL: a usage error too.
        if (!(error instanceof MoatError) || error.code !== 'MOAT_ERR_AUDIT') throw error;
        usageError(flags, url, error.message);
      }
    });
}

function usageError(flags: DebugFlags, target: string, message: string): void {
  process.stderr.write(`moat debug: ${message}\n`);
  if (flags.json === true) process.stdout.write(`${JSON.stringify({ target, error: message, exitCode: DEBUG_EXIT.usage }, null, 2)}\n`);
  process.exitCode = DEBUG_EXIT.usage;
}

function positive(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new MoatError('MOAT_ERR_CLI', `${flag} must be a positive number, not "${value}".`);
  return n;
}

async function readPem(flag: string, path: string | undefined): Promise<string | undefined> {
  if (path === undefined) return undefined;
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new MoatError('MOAT_ERR_CLI', `cannot read ${flag} ${path}: ${(error as Error).message}`, { cause: error });
  }
}

async function debugOptions(url: string, flags: DebugFlags): Promise<DebugOptions> {
  const timeoutMs = Math.round(positive('--timeout', flags.timeout));
  const sampleMs = Math.round(positive('--sample-seconds', flags.sampleSeconds) * 1000);
  if (flags.pw !== undefined && flags.username === undefined) throw new MoatError('MOAT_ERR_CLI', '-P needs -u: give the user name too.');
  if ((flags.cert === undefined) !== (flags.key === undefined)) throw new MoatError('MOAT_ERR_CLI', '--cert and --key must be given together.');
  if (flags.schema !== undefined && flags.topic === undefined) throw new MoatError('MOAT_ERR_CLI', '--schema checks the payloads of --topic: give --topic too.');
  const version = flags.protocolVersion === undefined ? undefined : parseVersion(flags.protocolVersion);
  return {
    url,
    username: flags.username,
    password: flags.pw,
    ca: await readPem('--cafile', flags.cafile),
    cert: await readPem('--cert', flags.cert),
    key: await readPem('--key', flags.key),
    version,
    timeoutMs,
    probePrefix: flags.probePrefix,
    topic: flags.topic,
    sampleMs,
    schema: flags.schema === undefined ? undefined : await loadSchema(flags.schema),
  };
}
