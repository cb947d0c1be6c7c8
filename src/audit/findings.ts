// What an audit produces: findings with a severity and an exact fix, the exit code they add up to,
// and the two renderings (text for people, JSON for scripts and CI).
import { MoatError } from '../codec/errors.js';

export const SEVERITIES = ['critical', 'warning', 'info', 'ok'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface Finding {
  /** Stable identifier (`anonymous-access`, `tls-missing`, ...); the same check may report several. */
  readonly id: string;
  readonly severity: Severity;
  /** One line: what was found. */
  readonly title: string;
  /** Why it matters, naming the listener, file or reason code involved. */
  readonly detail: string;
  /** The exact config line(s) to add or command to run; empty when there is nothing to do. */
  readonly fix: string;
}

export type Summary = Record<Severity, number>;

export interface AuditReport {
  /** The config file or broker URL audited. */
  readonly target: string;
  readonly findings: readonly Finding[];
  readonly summary: Summary;
  readonly exitCode: number;
}

/** Exit codes of `moat audit`. */
export const AUDIT_EXIT = {
  clean: 0,
  warnings: 1,
  critical: 2,
  /** The audit itself could not run (unreadable config, unreachable broker). */
  failed: 3,
} as const;

/** The audit could not run at all; `message` is one sentence for the user. */
export class AuditError extends MoatError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('MOAT_ERR_AUDIT', message, options);
    this.name = 'AuditError';
  }
}

export function finding(id: string, severity: Severity, title: string, detail: string, fix = ''): Finding {
  return Object.freeze({ id, severity, title, detail, fix });
}

export function summarize(findings: readonly Finding[]): Summary {
  const summary: Summary = { critical: 0, warning: 0, info: 0, ok: 0 };
  for (const f of findings) summary[f.severity]++;
  return summary;
}

/** 2 with any critical, 1 with warnings only, 0 otherwise (info and ok never fail an audit). */
export function exitCodeFor(findings: readonly Finding[]): number {
  if (findings.some((f) => f.severity === 'critical')) return AUDIT_EXIT.critical;
  if (findings.some((f) => f.severity === 'warning')) return AUDIT_EXIT.warnings;
  return AUDIT_EXIT.clean;
}

/** Worst first, keeping the checklist order within a severity. */
export function buildReport(target: string, findings: readonly Finding[]): AuditReport {
  const rank = (s: Severity): number => SEVERITIES.indexOf(s);
  const sorted = findings
    .map((f, i) => ({ f, i }))
    .sort((a, b) => rank(a.f.severity) - rank(b.f.severity) || a.i - b.i)
    .map(({ f }) => f);
  return { target, findings: sorted, summary: summarize(sorted), exitCode: exitCodeFor(sorted) };
}

const TAGS: Record<Severity, string> = { critical: 'CRITICAL', warning: 'WARNING ', info: 'INFO    ', ok: 'OK      ' };

/** One line per finding (severity tag, id, title), the detail and fix indented below, then a summary line. */
export function renderText(report: AuditReport): string {
  const lines = [`moat audit: ${report.target}`, ''];
  const indent = ' '.repeat(10);
  for (const f of report.findings) {
    lines.push(`${TAGS[f.severity]}  ${f.title} [${f.id}]`);
    if (f.detail !== '') lines.push(`${indent}${f.detail}`);
    if (f.fix !== '') {
      const [first = '', ...rest] = f.fix.split('\n');
      lines.push(`${indent}fix: ${first}`, ...rest.map((line) => `${indent}     ${line}`));
    }
  }
  const s = report.summary;
  lines.push('', `${s.critical} critical, ${s.warning} warning${s.warning === 1 ? '' : 's'}, ${s.info} info, ${s.ok} ok (exit code ${report.exitCode})`);
  return `${lines.join('\n')}\n`;
}

export function renderJson(report: AuditReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
