// The shape every scenario returns: headline values by name (each with a unit and a direction),
// the load generator's own CPU (so a reader sees it was not the bottleneck), the broker's cost
// when its PID is known, and honest warnings (loss, incomplete runs, a saturated generator).
import { MoatError } from '../codec/errors.js';

export interface Value {
  value: number;
  unit: string;
  /** Whether more is better: throughput yes, latency and memory no. */
  higherIsBetter: boolean;
}

export interface BenchResult {
  scenario: string;
  url: string;
  protocol: 4 | 5;
  /** The settings that shaped this run (clients, size, qos, rate, ...). */
  settings: Record<string, number | string>;
  /** The first entry is the scenario's headline number. */
  values: Record<string, Value>;
  /** Extra counts (sent, received, lost, ...). */
  details: Record<string, number | string | boolean>;
  generator: { corePercent: number; machinePercent: number; cores: number };
  broker: { pid: number; corePercent: number | undefined; rssPeakKb: number | undefined } | undefined;
  measuredMs: number;
  warnings: string[];
}

export function headline(result: BenchResult): [string, Value] {
  const first = Object.entries(result.values)[0];
  if (first === undefined) throw new MoatError('MOAT_ERR_BENCH', `bench ${result.scenario}: no values`);
  return first;
}

const round = (n: number): number => (Math.abs(n) >= 100 ? Math.round(n) : Math.round(n * 100) / 100);

/** A plain-text table for stdout. */
export function formatResult(r: BenchResult): string {
  const rows: Array<[string, string]> = [];
  for (const [name, v] of Object.entries(r.values)) rows.push([name, `${round(v.value).toLocaleString('en-US')} ${v.unit}`]);
  for (const [name, v] of Object.entries(r.details)) rows.push([name, typeof v === 'number' ? round(v).toLocaleString('en-US') : String(v)]);
  rows.push(['generator CPU', `${round(r.generator.corePercent)}% of one core, ${round(r.generator.machinePercent)}% of ${r.generator.cores} cores`]);
  if (r.broker !== undefined) {
    if (r.broker.corePercent !== undefined) rows.push(['broker CPU', `${round(r.broker.corePercent)}% of one core (pid ${r.broker.pid})`]);
    if (r.broker.rssPeakKb !== undefined) rows.push(['broker peak RSS', `${(r.broker.rssPeakKb / 1024).toFixed(1)} MiB`]);
  }
  rows.push(['measured', `${(r.measuredMs / 1000).toFixed(2)} s`]);
  const settings = Object.entries(r.settings)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = [`moat bench ${r.scenario}  ${r.url}  MQTT ${r.protocol === 5 ? '5.0' : '3.1.1'}`, `  ${settings}`, ''];
  for (const [k, v] of rows) lines.push(`  ${k.padEnd(width)}  ${v}`);
  for (const w of r.warnings) lines.push(`  warning: ${w}`);
  return `${lines.join('\n')}\n`;
}
