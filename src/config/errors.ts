import { MoatError } from '../codec/errors.js';

/** What kind of problem a config line has. */
export const CONFIG_ISSUE_KINDS = {
  unknownOption: 'unknown-option',
  invalidValue: 'invalid-value',
  notYetSupported: 'not-yet-supported',
  neverSupported: 'never-supported',
  misplaced: 'misplaced',
  file: 'file',
} as const;
export type ConfigIssueKind = (typeof CONFIG_ISSUE_KINDS)[keyof typeof CONFIG_ISSUE_KINDS];

/** One problem found in a config file. */
export interface ConfigIssue {
  readonly kind: ConfigIssueKind;
  readonly file: string;
  /** 1-based line; 0 when the problem is the file itself (unreadable, ...). */
  readonly line: number;
  /** The option on that line, when there is one. */
  readonly option: string | undefined;
  /** Full text: "file:line: what is wrong. Fix: how to fix it." */
  readonly message: string;
}

/**
 * The config could not be used. Carries every problem found (the parser does not stop at the first);
 * `message` lists them all, one per line.
 */
export class ConfigError extends MoatError {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], options: { cause?: unknown } = {}) {
    super('MOAT_ERR_CONFIG', formatIssues(issues), options);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

function formatIssues(issues: readonly ConfigIssue[]): string {
  const first = issues[0];
  if (first === undefined) return 'invalid configuration';
  if (issues.length === 1) return first.message;
  return `${issues.length} problems in the configuration:\n${issues.map((i) => `  ${i.message}`).join('\n')}`;
}

/** "file:line: " (or "file: " for line 0). */
export function where(file: string, line: number): string {
  return line > 0 ? `${file}:${line}: ` : `${file}: `;
}
