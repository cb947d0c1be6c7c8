// `moat certs`: create a development CA, a server certificate and client certificates in one
// directory, then print the listener lines and client command lines that use them.
import type { Command } from 'commander';
import { CERT_DEFAULTS, CertsError, generateCerts, type GeneratedCerts } from '../certs/generate.js';

interface CertsCommandOptions {
  dir: string;
  san?: string[];
  days: string;
  client?: string[];
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
    .option('--client <name>', 'also create a client certificate NAME.crt/NAME.key with CN=NAME (repeatable)', collect)
    .option('--force', 'replace existing files, the CA included (otherwise an existing CA is reused)')
    .action(async (options: CertsCommandOptions) => {
      try {
        if (!/^\d+$/.test(options.days)) throw new CertsError(`--days must be a whole number of days, not "${options.days}".`);
        const result = await generateCerts({
          dir: options.dir,
          sans: options.san ?? [],
          days: Number(options.days),
          clients: options.client ?? [],
          force: options.force === true,
        });
        process.stdout.write(formatCertsReport(result));
      } catch (error) {
        // The user's to fix: one sentence, no stack trace.
        if (!(error instanceof CertsError)) throw error;
        process.stderr.write(`moat certs: ${error.message}\n`);
        process.exitCode = 2;
      }
    });
}

/** What `moat certs` prints: the files, the listener lines (as they go in moat.conf/mosquitto.conf), the client command lines. */
export function formatCertsReport(result: GeneratedCerts): string {
  const day = (d: Date): string => d.toISOString().slice(0, 10);
  const sans = result.server.sans.map((s) => `${s.type}:${s.value}`).join(', ');
  const withClients = result.clients.length > 0;
  const lines = [
    `# ${result.ca.reused ? 'Reused' : 'Created'} the CA ${result.ca.cert} (key ${result.ca.key}), valid until ${day(result.ca.notAfter)}.`,
    `# Created the server certificate ${result.server.cert} (key ${result.server.key}), valid until ${day(result.server.notAfter)}, for ${sans}.`,
    ...result.clients.map((c) => `# Created the client certificate ${c.cert} (key ${c.key}), CN=${c.name}.`),
    '# Keep the .key files private (mode 0600); give clients only ca.crt (and their own certificate and key).',
    '',
    '# Broker: add to moat.conf or mosquitto.conf (run `moat broker -c FILE`):',
    'listener 8883',
    `cafile ${result.ca.cert}`,
    `certfile ${result.server.cert}`,
    `keyfile ${result.server.key}`,
    // A listener others can reach needs a way to log clients in, or moat refuses to start it.
    ...(withClients
      ? ['require_certificate true', `# Each client certificate's CN (${result.clients.map((c) => c.name).join(', ')}) is its user name, for acl_file rules:`, 'use_identity_as_username true']
      : ['# Clients log in with a user name and password; create the file with: moat passwd -c /etc/moat/passwd USER', 'password_file /etc/moat/passwd']),
    '',
    '# Clients (mosquitto_sub / mosquitto_pub take the same flags):',
  ];
  const base = `-h localhost -p 8883 --cafile ${quote(result.ca.cert)}`;
  const clientFlags = result.clients.map((c) => ` --cert ${quote(c.cert)} --key ${quote(c.key)}`);
  for (const flags of withClients ? clientFlags : ['']) {
    lines.push(`# moat sub ${base}${flags} -t '#' -v`);
    lines.push(`# mosquitto_pub ${base}${flags} -t test -m hello`);
  }
  return `${lines.join('\n')}\n`;
}

/** A shell word: as is when safe, single-quoted otherwise. */
function quote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
