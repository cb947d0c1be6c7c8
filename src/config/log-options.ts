// The logging options of mosquitto.conf (log_dest, log_type, log_timestamp, log_timestamp_format,
// connection_messages, log_facility): each records its value in the draft's log settings.
import { CONFIG_ISSUE_KINDS } from './errors.js';
import { bool, fixFor, freeText, oneOf, wholeNumber, type OptionContext, type OptionSpec } from './option-kit.js';
import { LOG_TYPES } from './types.js';

function logDest(ctx: OptionContext): void {
  const { draft, line } = ctx;
  const example = 'stdout';
  const [kind] = line.args;
  if (kind === undefined) {
    ctx.error(CONFIG_ISSUE_KINDS.invalidValue, 'log_dest needs a value', fixFor(ctx, example));
    return;
  }
  if (kind === 'file') {
    const path = line.rest.slice('file'.length).trim();
    if (path === '') {
      ctx.error(CONFIG_ISSUE_KINDS.invalidValue, 'log_dest file needs a path', 'write e.g. "log_dest file /var/log/moat.log".');
      return;
    }
    if (draft.log.file !== undefined) {
      const prev = draft.log.file.source;
      ctx.error(
        CONFIG_ISSUE_KINDS.invalidValue,
        `log_dest file is already set at ${prev.file}:${prev.line}; only one log file is allowed`,
        'remove one of the two lines.',
      );
      return;
    }
    draft.log.file = { path, source: { file: line.file, line: line.line } };
    (draft.log.destinations ??= new Set()).add('file');
    return;
  }
  const value = oneOf(ctx, ['none', 'stdout', 'stderr', 'file', 'topic'] as const, example);
  if (value === undefined || value === 'file') return; // 'file' was handled above
  if (value === 'none') {
    draft.log.destinations = new Set();
    draft.log.file = undefined;
    return;
  }
  (draft.log.destinations ??= new Set()).add(value);
}

function logType(ctx: OptionContext): void {
  const value = oneOf(ctx, ['none', 'all', ...LOG_TYPES] as const, 'error');
  if (value === undefined) return;
  const { log } = ctx.draft;
  if (value === 'none') log.types = new Set();
  else if (value === 'all') log.types = new Set(LOG_TYPES);
  else (log.types ??= new Set()).add(value);
}

export const LOG_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  log_dest: { scope: 'global', example: 'stdout', apply: logDest },
  log_type: { scope: 'global', example: 'error', apply: logType },
  log_timestamp: {
    scope: 'global',
    example: 'true',
    apply: (ctx) => {
      const value = bool(ctx, 'true');
      if (value !== undefined) ctx.draft.log.timestamp = value;
    },
  },
  log_timestamp_format: {
    scope: 'global',
    example: '%Y-%m-%dT%H:%M:%S',
    apply: (ctx) => {
      const value = freeText(ctx, '%Y-%m-%dT%H:%M:%S');
      if (value !== undefined) ctx.draft.log.timestampFormat = value;
    },
  },
  // Mosquitto uses it only with log_dest syslog, which moat refuses (never.ts): checked, without effect.
  log_facility: {
    scope: 'global',
    example: '5',
    apply: (ctx) => {
      const value = wholeNumber(ctx, 0, 7, '5', 'a syslog local facility number 0-7');
      if (value === undefined) return;
      ctx.warn(`log_facility ${value} has no effect: it picks the syslog facility local${value}, and moat does not log to syslog. Fix: remove the line.`);
    },
  },
  connection_messages: {
    scope: 'global',
    example: 'true',
    apply: (ctx) => {
      const value = bool(ctx, 'true');
      if (value !== undefined) ctx.draft.log.connectionMessages = value;
    },
  },
};
