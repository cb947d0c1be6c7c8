// `moat debug URL`: the MQTT troubleshooting flow, one step after the other, stopping at the first
// that fails: DNS → TCP → TLS (mqtts://, wss://) → MQTT CONNECT → round trip → payloads (--topic).
// The steps after a failure are reported as skipped, so the checklist always has six lines.
import type { MqttClient } from '../client/index.js';
import { closeQuietly } from '../audit/mqtt-probe.js';
import { parseTarget } from '../audit/target.js';
import { resolveHost } from './dns.js';
import { connectMqtt, probeTopic, roundTrip } from './mqtt.js';
import { checkPayloads, type SchemaCheck } from './payload.js';
import { DEBUG_EXIT, skipped, STAGE_ORDER, type StageId, type StageResult } from './stages.js';
import { connectTcp } from './tcp.js';
import { checkTls } from './tls.js';

export interface DebugOptions {
  readonly url: string;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  /** PEM contents of --cafile, --cert, --key. */
  readonly ca?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
  /** -V: only this protocol version; default MQTT 5, then 3.1.1 if the broker refuses 5. */
  readonly version?: 4 | 5 | undefined;
  /** Per step (and per request within a step). */
  readonly timeoutMs: number;
  /** Where the probe topic goes; default moat/debug. */
  readonly probePrefix?: string | undefined;
  /** --topic: sample this filter and check the payloads. */
  readonly topic?: string | undefined;
  readonly sampleMs?: number | undefined;
  readonly schema?: SchemaCheck | undefined;
}

export interface DebugReport {
  readonly target: string;
  readonly stages: readonly StageResult[];
  /** The failing step, if any. */
  readonly failed: StageId | undefined;
  readonly diagnosis: string | undefined;
  readonly fix: string | undefined;
  readonly exitCode: number;
}

/** Throws AuditError (MOAT_ERR_AUDIT) for a URL moat cannot use; every other problem is a failed step. */
export async function runDebug(options: DebugOptions): Promise<DebugReport> {
  const target = parseTarget(options.url);
  const stages: StageResult[] = [];
  let client: MqttClient | undefined;
  try {
    const dns = await resolveHost(target.host, options.timeoutMs);
    stages.push(dns.result);
    if (dns.result.status === 'failed') return finish(target.url, stages);
    stages.push(await connectTcp(dns.addresses, target.port, options.timeoutMs));
    if (failed(stages)) return finish(target.url, stages);
    stages.push(target.tls
      ? await checkTls(target, { ca: options.ca, cert: options.cert, key: options.key, timeoutMs: options.timeoutMs })
      : skipped('tls', `${target.scheme}:// has no TLS`));
    if (failed(stages)) return finish(target.url, stages);
    const connected = await connectMqtt(target.url, {
      timeoutMs: options.timeoutMs, ca: options.ca, cert: options.cert, key: options.key,
      username: options.username, password: options.password, version: options.version,
    });
    client = connected.client;
    stages.push(connected.result);
    if (client === undefined) return finish(target.url, stages);
    stages.push(await roundTrip(client, probeTopic(options.probePrefix), options.timeoutMs, options.username));
    if (failed(stages)) return finish(target.url, stages);
    stages.push(options.topic === undefined
      ? skipped('payload', 'no --topic given')
      : await checkPayloads(client, { topic: options.topic, sampleMs: options.sampleMs ?? 5000, timeoutMs: options.timeoutMs, schema: options.schema }));
    return finish(target.url, stages);
  } finally {
    await closeQuietly(client);
  }
}

function failed(stages: readonly StageResult[]): boolean {
  return stages.at(-1)?.status === 'failed';
}

function finish(target: string, stages: StageResult[]): DebugReport {
  const bad = stages.find((s) => s.status === 'failed');
  for (const id of STAGE_ORDER.slice(stages.length)) stages.push(skipped(id, bad === undefined ? 'not run' : `not run: ${bad.title} failed`));
  return Object.freeze({
    target,
    stages: Object.freeze(stages),
    failed: bad?.stage,
    diagnosis: bad?.diagnosis,
    fix: bad?.fix,
    exitCode: bad === undefined ? DEBUG_EXIT.healthy : DEBUG_EXIT[bad.stage],
  });
}

const MARKS = { ok: '✓', failed: '✗', warning: '!', skipped: '-' } as const;

/** The checklist, one line per step, then the diagnosis and the fix of the failing one. */
export function renderDebugText(report: DebugReport): string {
  const width = Math.max(...report.stages.map((s) => s.title.length));
  const lines = [`moat debug ${report.target}`, ''];
  for (const s of report.stages) {
    const ms = s.status === 'skipped' ? '' : `${s.ms} ms`;
    lines.push(`${MARKS[s.status]} ${s.title.padEnd(width)}  ${ms.padStart(8)}  ${s.summary}`);
  }
  lines.push('');
  if (report.failed === undefined) {
    const warned = report.stages.filter((s) => s.status === 'warning').map((s) => s.title);
    lines.push(warned.length === 0 ? 'Healthy: every step passed.' : `Healthy: every step passed; look at the ! line${warned.length === 1 ? '' : 's'} (${warned.join(', ')}).`);
  } else {
    lines.push(`Diagnosis: ${report.diagnosis ?? ''}`, '', `Fix: ${(report.fix ?? '').replace(/\n/g, '\n  ')}`);
  }
  lines.push('', `exit ${report.exitCode}`);
  return `${lines.join('\n')}\n`;
}

export function renderDebugJson(report: DebugReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
