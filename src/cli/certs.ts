// `moat certs`: create a development CA, a server certificate and client certificates (one by one,
// or a numbered or listed batch of devices with a manifest), then print the listener lines and
// client command lines that use them.
import type { Command } from 'commander';
import { idsFromFile, MAX_DEVICES, numberedIds } from '../certs/devices.js';
import { CERT_DEFAULTS, CertsError, generateCerts, KEY_TYPE_LABELS, type GeneratedCerts, type GenerateCertsOptions } from '../certs/generate.js';
import { KEY_TYPE_CHOICES, parseKeyType } from '../certs/keys.js';

interface CertsCommandOptions {
  dir: string;
  san?: string[];
  days: string;
  keyType: string;
  client?: string[];
  clients?: string;
  clientPrefix?: string;
  clientsFrom?: string;
  clientsDir?: string;
  force?: boolean;
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

export function registerCertsCommand(program: Command): void {
  program
    .command('certs')
    .description('create a development CA, a server certificate and client certificates, and print the config to use them')
    .option('--dir <dir>', 'where to write the files', `./${CERT_DEFAULTS.dir}`)
    .option('--san <name>', 'another server name or IP address (repeatable); localhost, 127.0.0.1, ::1 and the host name are always in', collect)
    .option('--days <days>', 'validity of the server and client certificates (a new CA gets 3650)', String(CERT_DEFAULTS.days))
    .option('--key-type <type>', `key type of the new keys: ${KEY_TYPE_CHOICES} (RSA-2048, for devices without ECDSA); a reused CA keeps its own`, 'ec')
    .option('--client <name>', 'also create a client certificate NAME.crt/NAME.key with CN=NAME in --dir (repeatable)', collect)
    .option('--clients <n>', `bulk: N device certificates PREFIX0001 … (1 to ${MAX_DEVICES}), with a manifest, in --clients-dir`)
    .option('--client-prefix <prefix>', `bulk: what the numbered device ids start with (default "${CERT_DEFAULTS.devicePrefix}")`)
    .option('--clients-from <file>', 'bulk: one device certificate per id in FILE (one id a line; blank lines and # comments skipped)')
    .option('--clients-dir <dir>', `bulk: where the device certificates and manifest.csv go (default DIR/${CERT_DEFAULTS.devicesDir}; the CA key stays in --dir)`)
    .option('--force', 'replace existing files, the CA included (otherwise an existing CA is reused)')
    .action(async (options: CertsCommandOptions) => {
      try {
        const result = await generateCerts(await toGenerateOptions(options));
        process.stdout.write(formatCertsReport(result));
      } catch (error) {
        // The user's to fix: one sentence, no stack trace.
        if (!(error instanceof CertsError)) throw error;
        process.stderr.write(`moat certs: ${error.message}\n`);
        process.exitCode = 2;
      }
    });
}

async function toGenerateOptions(options: CertsCommandOptions): Promise<GenerateCertsOptions> {
  if (!/^\d+$/.test(options.days)) throw new CertsError(`--days must be a whole number of days, not "${options.days}".`);
  const keyType = parseKeyType(options.keyType);
  if (keyType === undefined) throw new CertsError(`--key-type must be ${KEY_TYPE_CHOICES}, not "${options.keyType}".`);
  if (options.clients !== undefined && options.clientsFrom !== undefined) throw new CertsError('give --clients N or --clients-from FILE, not both.');
  if (options.clientPrefix !== undefined && options.clients === undefined) throw new CertsError('--client-prefix names the devices of --clients N; add --clients.');
  if (options.clientsDir !== undefined && options.clients === undefined && options.clientsFrom === undefined) throw new CertsError('--clients-dir is where --clients or --clients-from write; add one of them.');
  let devices: string[] | undefined;
  if (options.clients !== undefined) {
    if (!/^\d+$/.test(options.clients)) throw new CertsError(`--clients must be a whole number from 1 to ${MAX_DEVICES}, not "${options.clients}".`);
    devices = numberedIds(Number(options.clients), options.clientPrefix ?? CERT_DEFAULTS.devicePrefix);
  } else if (options.clientsFrom !== undefined) {
    devices = await idsFromFile(options.clientsFrom);
  }
  return {
    dir: options.dir,
    sans: options.san ?? [],
    days: Number(options.days),
    keyType,
    clients: options.client ?? [],
    ...(devices !== undefined ? { devices } : {}),
    ...(options.clientsDir !== undefined ? { devicesDir: options.clientsDir } : {}),
    force: options.force === true,
  };
}

/** What `moat certs` prints: the files, the listener lines (as they go in moat.conf/mosquitto.conf), the client command lines. */
export function formatCertsReport(result: GeneratedCerts): string {
  const day = (d: Date): string => d.toISOString().slice(0, 10);
  const sans = result.server.sans.map((s) => `${s.type}:${s.value}`).join(', ');
  const keyLabel = KEY_TYPE_LABELS[result.keyType];
  const devices = result.devices;
  const withClients = result.clients.length > 0 || devices !== undefined;
  const identities = [...result.clients.map((c) => c.name), ...(devices === undefined ? [] : [span(devices.certs.map((d) => d.id))])];
  const lines = [
    `# ${result.ca.reused ? 'Reused' : 'Created'} the CA ${result.ca.cert} (key ${result.ca.key}, ${result.ca.keyLabel}), valid until ${day(result.ca.notAfter)}.`,
    result.server.reused
      ? `# Kept the server certificate ${result.server.cert} (key ${result.server.key}), valid until ${day(result.server.notAfter)}, for ${sans}.`
      : `# Created the server certificate ${result.server.cert} (key ${result.server.key}, ${keyLabel}), valid until ${day(result.server.notAfter)}, for ${sans}.`,
    ...result.clients.map((c) => `# Created the client certificate ${c.cert} (key ${c.key}, ${keyLabel}), CN=${c.name}.`),
    ...(devices === undefined
      ? []
      : [
          `# Created ${devices.certs.length} device certificate${devices.certs.length === 1 ? '' : 's'} (${keyLabel}) in ${devices.dir}: ${span(devices.certs.map((d) => d.id))}, each ID.crt and ID.key with CN=ID.`,
          `# Manifest (id, cert, key, sha256, serial, not_after): ${devices.manifest}`,
        ]),
    // A device that only does RSA must also verify the CA's signature: an ECDSA CA is no use to it.
    ...(result.ca.reused && !result.ca.keyLabel.startsWith(result.keyType === 'ec' ? 'ECDSA' : 'RSA')
      ? [`# Note: the reused CA's key is ${result.ca.keyLabel}, so clients must verify ${result.ca.keyLabel.split(' ')[0] ?? ''} signatures; for a ${keyLabel} chain use a new --dir.`]
      : []),
    '# Keep the .key files private (mode 0600); give clients only ca.crt (and their own certificate and key).',
    '',
    '# Broker: add to moat.conf or mosquitto.conf (run `moat broker -c FILE`):',
    'listener 8883',
    `cafile ${result.ca.cert}`,
    `certfile ${result.server.cert}`,
    `keyfile ${result.server.key}`,
    // A listener others can reach needs a way to log clients in, or moat refuses to start it.
    ...(withClients
      ? ['require_certificate true', `# Each client certificate's CN (${identities.join(', ')}) is its user name, for acl_file rules:`, 'use_identity_as_username true']
      : ['# Clients log in with a user name and password; create the file with: moat passwd -c /etc/moat/passwd USER', 'password_file /etc/moat/passwd']),
    '',
    '# Clients (mosquitto_sub / mosquitto_pub take the same flags):',
  ];
  const base = `-h localhost -p 8883 --cafile ${quote(result.ca.cert)}`;
  const flags = (c: { cert: string; key: string }): string => ` --cert ${quote(c.cert)} --key ${quote(c.key)}`;
  // A batch gets one example, not a thousand command lines.
  const firstDevice = devices?.certs[0];
  const clientFlags = [...result.clients.map(flags), ...(firstDevice === undefined ? [] : [flags(firstDevice)])];
  for (const flag of withClients ? clientFlags : ['']) {
    lines.push(`# moat sub ${base}${flag} -t '#' -v`);
    lines.push(`# mosquitto_pub ${base}${flag} -t test -m hello`);
  }
  if (devices !== undefined && devices.certs.length > 1) lines.push('# (each device likewise with its own ID.crt and ID.key)');
  return `${lines.join('\n')}\n`;
}

/** "a", "a, b", or "a … z" for a batch. */
function span(ids: readonly string[]): string {
  if (ids.length <= 2) return ids.join(', ');
  return `${ids[0] ?? ''} … ${ids[ids.length - 1] ?? ''}`;
}

/** A shell word: as is when safe, single-quoted otherwise. */
function quote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
