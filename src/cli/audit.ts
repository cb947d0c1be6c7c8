// `moat audit --config FILE` checks a config against the production checklist; `moat audit URL`
// probes a running broker. Exit codes: 0 clean, 1 warnings, 2 critical, 3 the audit could not run.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { auditConfigFile } from '../audit/config-audit.js';
import { AUDIT_EXIT, AuditError, buildReport, renderJson, renderText, type Finding } from '../audit/findings.js';
import { auditBroker } from '../audit/live-audit.js';

interface AuditFlags {
  config?: string;
  username?: string;
  pw?: string;
  cafile?: string;
  timeout: string;
  plainPort?: string;
  json?: boolean;
}

export function registerAuditCommand(program: Command): void {
  program
    .command('audit')
    .description('check a config file (--config) or a running broker (URL) against the production security checklist')
    .argument('[url]', 'broker to probe: mqtt://, mqtts://, ws:// or wss://HOST[:PORT][/PATH]')
    .option('-c, --config <file>', 'audit this mosquitto.conf-style file instead of a running broker')
    .option('-u, --username <username>', 'log in as this user for the read checks')
    .option('-P, --pw <password>', 'password of --username')
    .option('--cafile <file>', 'CA certificate (PEM) to verify the broker against, instead of the system CAs')
    .option('--timeout <seconds>', 'time allowed for each connection and request', '5')
    .option('--plain-port <port>', 'where to look for plain-text MQTT next to an mqtts:// or wss:// broker (default 1883)')
    .option('--json', 'print the report as JSON')
    .action(async (url: string | undefined, flags: AuditFlags) => {
      const target = flags.config ?? url ?? '';
      try {
        const findings = await runAudit(url, flags);
        const report = buildReport(target, findings);
        process.stdout.write(flags.json === true ? renderJson(report) : renderText(report));
        process.exitCode = report.exitCode;
      } catch (error) {
        if (!(error instanceof AuditError)) throw error;
        process.stderr.write(`moat audit: ${error.message}\n`);
        if (flags.json === true) process.stdout.write(`${JSON.stringify({ target, error: error.message, exitCode: AUDIT_EXIT.failed }, null, 2)}\n`);
        process.exitCode = AUDIT_EXIT.failed;
      }
    });
}

async function runAudit(url: string | undefined, flags: AuditFlags): Promise<Finding[]> {
  if ((url === undefined) === (flags.config === undefined)) {
    throw new AuditError('give either a broker URL (moat audit mqtts://broker.example:8883) or a config file (moat audit --config /etc/moat/moat.conf), not both.');
  }
  if (flags.config !== undefined) return auditConfigFile(flags.config);
  const seconds = Number(flags.timeout);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new AuditError(`--timeout must be a positive number of seconds, not "${flags.timeout}".`);
  const plainPort = flags.plainPort === undefined ? undefined : Number(flags.plainPort);
  if (plainPort !== undefined && (!Number.isInteger(plainPort) || plainPort < 1 || plainPort > 65535)) {
    throw new AuditError(`--plain-port must be a port number from 1 to 65535, not "${flags.plainPort}".`);
  }
  if (flags.pw !== undefined && flags.username === undefined) throw new AuditError('-P needs -u: give the username too.');
  let ca: string | undefined;
  if (flags.cafile !== undefined) {
    try {
      ca = await readFile(flags.cafile, 'utf8');
    } catch (error) {
      throw new AuditError(`cannot read --cafile ${flags.cafile}: ${(error as Error).message}`, { cause: error });
    }
  }
  return auditBroker({
    url: url ?? '',
    username: flags.username,
    password: flags.pw,
    ca,
    timeoutMs: Math.round(seconds * 1000),
    plainPort,
  });
}
