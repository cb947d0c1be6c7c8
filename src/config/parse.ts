// mosquitto.conf reader: splits lines, scopes options to listeners the way mosquitto 2.0 does, follows
// include_dir, applies defaults, and reports every problem at once as one ConfigError.

import { readFile } from 'node:fs/promises';
import { CONFIG_ISSUE_KINDS, ConfigError, where, type ConfigIssue, type ConfigIssueKind } from './errors.js';
import { describeFsError, readIncludeDir, type IncludeDirResult } from './include-dir.js';
import { NEVER_SUPPORTED, neverReasonOf, neverReasonOfValue, neverSupportedMessage } from './never.js';
import { notYetSupportedMessage, NOT_YET_SUPPORTED, plannedAreaOf, plannedAreaOfValue } from './not-supported.js';
import { adminConfig, checkAdmin, emptyAdmin } from './admin-options.js';
import { bindAddress, type ConfigLine, type Draft, type ListenerDraft, type OptionContext } from './option-kit.js';
import { emptySecurity, newListener, optionSpec, OPTIONS } from './options.js';
import { checkListenerTls, checkPskFileUsed, listenerTlsConfig, type ReportIssue } from './tls-listener.js';
import { closest } from './suggest.js';
import {
  CONFIG_DEFAULTS,
  LOG_DESTINATIONS,
  LOG_TYPES,
  type BrokerConfig,
  type ConfigSource,
  type ConfigWarning,
  type ListenerConfig,
} from './types.js';

export interface ParseConfigOptions {
  /**
   * Reads the directory named by an `include_dir` line (as written) in the file `from.file`.
   * Without it, include_dir is an error; loadConfig() provides one.
   */
  readonly readIncludeDir?: (dir: string, from: ConfigSource) => IncludeDirResult;
}

/** Splits a config file into meaningful lines: skips blanks and `#` comments, ignores surrounding whitespace. */
export function splitLines(text: string, file: string): ConfigLine[] {
  const out: ConfigLine[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  lines.forEach((raw, index) => {
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const option = trimmed.split(/[ \t]/, 1)[0] ?? trimmed;
    const rest = trimmed.slice(option.length).trim();
    const tokens = rest === '' ? [] : rest.split(/[ \t]+/);
    const comment = tokens.findIndex((t) => t.startsWith('#'));
    out.push({ file, line: index + 1, option, args: comment === -1 ? tokens : tokens.slice(0, comment), rest });
  });
  return out;
}

/** Every option name moat recognises (implemented, planned or refused for good): used for "did you mean". */
export const KNOWN_OPTIONS: readonly string[] = [...Object.keys(OPTIONS), ...Object.keys(NOT_YET_SUPPORTED), ...Object.keys(NEVER_SUPPORTED)];

/** Parses one mosquitto.conf text. Throws ConfigError listing every problem found. */
export function parseConfig(text: string, file: string, options: ParseConfigOptions = {}): BrokerConfig {
  const state = new ParseState(file, options);
  state.readFile(file, text, 0);
  return state.finish();
}

/** Reads a mosquitto.conf from disk, following include_dir (relative paths are relative to the main file). */
export async function loadConfig(path: string): Promise<BrokerConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const issue: ConfigIssue = {
      kind: CONFIG_ISSUE_KINDS.file,
      file: path,
      line: 0,
      option: undefined,
      message: `${where(path, 0)}cannot read the config file: ${describeFsError(err)}. Fix: check the path and its permissions.`,
    };
    throw new ConfigError([issue], { cause: err });
  }
  const includes = new Map<string, IncludeDirResult>();
  for (const line of splitLines(text, path)) {
    if (line.option === 'include_dir' && line.rest !== '' && !includes.has(line.rest)) {
      includes.set(line.rest, await readIncludeDir(path, line.rest));
    }
  }
  return parseConfig(text, path, {
    readIncludeDir: (dir) => includes.get(dir) ?? { error: 'the directory was not read' },
  });
}

/** No config file: one listener on 127.0.0.1:1883 that allows anonymous clients (local-only mode). */
export function defaultConfig(): BrokerConfig {
  return new ParseState('<defaults>', {}).finish();
}

class ParseState {
  readonly #options: ParseConfigOptions;
  readonly #issues: ConfigIssue[] = [];
  readonly #warnings: ConfigWarning[] = [];
  readonly draft: Draft;

  constructor(mainFile: string, options: ParseConfigOptions) {
    this.#options = options;
    this.draft = {
      mainFile,
      files: [],
      listeners: [],
      defaultListener: newListener(CONFIG_DEFAULTS.port, undefined, { file: mainFile, line: 0 }),
      defaultListenerDeclared: undefined,
      defaultListenerOptions: [],
      firstListener: undefined,
      security: emptySecurity(),
      perListenerSettings: undefined,
      firstSecurityOption: undefined,
      securityLines: new Map(),
      values: {
        maxKeepalive: CONFIG_DEFAULTS.maxKeepalive,
        maxPacketSize: CONFIG_DEFAULTS.maxPacketSize,
        messageSizeLimit: CONFIG_DEFAULTS.messageSizeLimit,
        retainAvailable: CONFIG_DEFAULTS.retainAvailable,
        persistentClientExpiration: undefined,
        maxInflightMessages: CONFIG_DEFAULTS.maxInflightMessages,
        maxInflightBytes: CONFIG_DEFAULTS.maxInflightBytes,
        maxQueuedMessages: CONFIG_DEFAULTS.maxQueuedMessages,
        maxQueuedBytes: CONFIG_DEFAULTS.maxQueuedBytes,
        sysInterval: CONFIG_DEFAULTS.sysInterval,
        capacityAlertThreshold: CONFIG_DEFAULTS.capacityAlertThreshold,
        maxTopicLevels: CONFIG_DEFAULTS.maxTopicLevels,
        publisherFlowControl: CONFIG_DEFAULTS.publisherFlowControl,
        globalMaxConnections: CONFIG_DEFAULTS.globalMaxConnections,
        maxConnectionRate: CONFIG_DEFAULTS.maxConnectionRate,
        maxConnectionRatePerAddress: CONFIG_DEFAULTS.maxConnectionRatePerAddress,
        memoryLimit: CONFIG_DEFAULTS.memoryLimit,
        maxSubscriptionsPerClient: CONFIG_DEFAULTS.maxSubscriptionsPerClient,
        maxTopicLength: CONFIG_DEFAULTS.maxTopicLength,
        overloadProtection: CONFIG_DEFAULTS.overloadProtection,
        maxEventLoopLag: CONFIG_DEFAULTS.maxEventLoopLag,
        connectTimeout: CONFIG_DEFAULTS.connectTimeout,
        authFailureLimit: CONFIG_DEFAULTS.authFailureLimit,
        authBanTime: CONFIG_DEFAULTS.authBanTime,
        upgradeOutgoingQos: CONFIG_DEFAULTS.upgradeOutgoingQos,
        setTcpNodelay: CONFIG_DEFAULTS.setTcpNodelay,
        checkRetainSource: CONFIG_DEFAULTS.checkRetainSource,
        badPasswordAnswer: CONFIG_DEFAULTS.badPasswordAnswer,
        aclDeniedSubscribe: CONFIG_DEFAULTS.aclDeniedSubscribe,
        queueQos0Messages: CONFIG_DEFAULTS.queueQos0Messages,
        clientidPrefixes: undefined,
        websocketsHeadersSize: CONFIG_DEFAULTS.websocketsHeadersSize,
        pidFile: undefined,
        persistence: CONFIG_DEFAULTS.persistence,
        persistenceFile: undefined,
        persistenceLocation: undefined,
        persistenceSync: CONFIG_DEFAULTS.persistenceSync,
        clusterRedis: undefined,
        clusterPrefix: CONFIG_DEFAULTS.clusterPrefix,
      },
      admin: emptyAdmin(),
      log: {
        destinations: undefined,
        file: undefined,
        types: undefined,
        timestamp: CONFIG_DEFAULTS.logTimestamp,
        timestampFormat: undefined,
        connectionMessages: CONFIG_DEFAULTS.connectionMessages,
      },
    };
  }

  #issue(kind: ConfigIssueKind, file: string, line: number, option: string | undefined, text: string, fix?: string): void {
    const message = `${where(file, line)}${text}${fix === undefined ? '' : `. Fix: ${fix}`}`;
    this.#issues.push({ kind, file, line, option, message });
  }

  #warn(file: string, line: number, text: string): void {
    this.#warnings.push({ file, line, message: `${where(file, line)}${text}` });
  }

  /** Reads one file; `level` 0 is the main file. Like mosquitto, each file starts outside any listener block. */
  readFile(file: string, text: string, level: number): void {
    this.draft.files.push(file);
    let current: ListenerDraft | undefined;
    for (const line of splitLines(text, file)) {
      const source = { file: line.file, line: line.line };
      const ctx: OptionContext = {
        line,
        draft: this.draft,
        listener: current ?? this.draft.defaultListener,
        inListenerBlock: current !== undefined,
        error: (kind, what, fix) => this.#issue(kind, line.file, line.line, line.option, what, fix),
        warn: (what) => this.#warn(line.file, line.line, what),
      };
      switch (line.option) {
        case 'listener':
          current = this.#listener(ctx, source);
          continue;
        case 'port':
        case 'bind_address':
          this.#defaultListenerOption(ctx, current);
          continue;
        case 'include_dir':
          this.#includeDir(ctx, source, level);
          continue;
      }
      const spec = optionSpec(line.option);
      if (spec !== undefined) {
        if (!this.#refusedValue(ctx)) spec.apply(ctx);
        continue;
      }
      const area = plannedAreaOf(line.option);
      if (area !== undefined) {
        ctx.error(CONFIG_ISSUE_KINDS.notYetSupported, notYetSupportedMessage(line.option, area));
        continue;
      }
      const never = neverReasonOf(line.option);
      if (never !== undefined) {
        ctx.error(CONFIG_ISSUE_KINDS.neverSupported, neverSupportedMessage(line.option, never));
        continue;
      }
      const suggestion = closest(line.option, KNOWN_OPTIONS);
      const caseOnly = suggestion !== undefined && suggestion.toLowerCase() === line.option.toLowerCase();
      ctx.error(
        CONFIG_ISSUE_KINDS.unknownOption,
        `unknown option "${line.option}"${caseOnly ? ' (option names are case-sensitive)' : ''}`,
        suggestion === undefined
          ? 'remove the line; docs/CONFIG.md lists the options moat reads.'
          : `did you mean "${suggestion}"?`,
      );
    }
  }

  /** A value of an implemented option that moat does not take (yet, or ever): reported, true. */
  #refusedValue(ctx: OptionContext): boolean {
    const { option, args } = ctx.line;
    const value = args[0];
    if (value === undefined) return false;
    const area = plannedAreaOfValue(option, value);
    if (area !== undefined) {
      ctx.error(CONFIG_ISSUE_KINDS.notYetSupported, notYetSupportedMessage(`${option} ${value}`, area));
      return true;
    }
    const never = neverReasonOfValue(option, value);
    if (never !== undefined) {
      ctx.error(CONFIG_ISSUE_KINDS.neverSupported, neverSupportedMessage(`${option} ${value}`, never));
      return true;
    }
    return false;
  }

  /** `listener PORT [BIND_ADDRESS]`: starts a listener block. Returns the block (a detached one if the line is bad). */
  #listener(ctx: OptionContext, source: ConfigSource): ListenerDraft {
    const { args } = ctx.line;
    const detached = newListener(0, undefined, source);
    const [portText, hostText, ...extra] = args;
    const fix = 'write e.g. "listener 1883" or "listener 1883 127.0.0.1".';
    if (portText === undefined) {
      ctx.error(CONFIG_ISSUE_KINDS.invalidValue, 'listener needs a port', fix);
      return detached;
    }
    if (extra.length > 0) {
      ctx.error(
        CONFIG_ISSUE_KINDS.invalidValue,
        `listener takes a port and an optional bind address, got "${args.join(' ')}"`,
        `${fix} A comment after the values must start with "#".`,
      );
      return detached;
    }
    const port = /^\d+$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 0 && port <= 65535)) {
      ctx.error(
        CONFIG_ISSUE_KINDS.invalidValue,
        `listener expects a port 0-65535 (0 = any free port), got "${portText}"`,
        fix,
      );
      return detached;
    }
    let host: string | undefined;
    if (hostText !== undefined) {
      // mosquitto: port 0 and a path make a Unix socket listener.
      if (port === 0 && hostText.includes('/')) {
        const twin = this.draft.listeners.find((l) => l.socketPath === hostText);
        if (twin !== undefined) {
          ctx.error(
            CONFIG_ISSUE_KINDS.invalidValue,
            `listener 0 ${hostText} is already defined at ${twin.source.file}:${twin.source.line}`,
            'remove one of the two, or give them different socket paths.',
          );
          return detached;
        }
        const listener = newListener(0, undefined, source);
        listener.socketPath = hostText;
        this.draft.listeners.push(listener);
        this.draft.firstListener ??= { ...source, port: 0 };
        return listener;
      }
      host = bindAddress(ctx, hostText, '1883 127.0.0.1');
      if (host === undefined) return detached;
    }
    const twin = port === 0 ? undefined : this.draft.listeners.find((l) => l.port === port && l.host === host);
    if (twin !== undefined) {
      ctx.error(
        CONFIG_ISSUE_KINDS.invalidValue,
        `listener ${args.join(' ')} is already defined at ${twin.source.file}:${twin.source.line}`,
        'remove one of the two, or give them different ports or bind addresses.',
      );
      return detached;
    }
    const listener = newListener(port, host, source);
    this.draft.listeners.push(listener);
    this.draft.firstListener ??= { ...source, port };
    return listener;
  }

  /** Deprecated `port N` / `bind_address HOST`: configure mosquitto's default listener. */
  #defaultListenerOption(ctx: OptionContext, current: ListenerDraft | undefined): void {
    const { option } = ctx.line;
    const isPort = option === 'port';
    const example = isPort ? '1883' : '127.0.0.1';
    if (current !== undefined) {
      const block = `listener ${current.port}${current.host === undefined ? '' : ` ${current.host}`}`;
      ctx.error(
        CONFIG_ISSUE_KINDS.misplaced,
        `${option} after a "listener" line configures mosquitto's separate default listener, not "${block}" ` +
          `(${current.source.file}:${current.source.line})`,
        isPort
          ? `to change that listener's port, edit its "listener" line; to keep mosquitto's extra default listener, move "${option}" above the first "listener" line.`
          : `to bind that listener, write "listener ${current.port} ${ctx.line.args[0] ?? example}"; to keep mosquitto's extra default listener, move "${option}" above the first "listener" line.`,
      );
      return;
    }
    const [value, ...extra] = ctx.line.args;
    if (value === undefined || extra.length > 0) {
      ctx.error(
        CONFIG_ISSUE_KINDS.invalidValue,
        value === undefined ? `${option} needs a value` : `${option} takes one value, got "${ctx.line.args.join(' ')}"`,
        `write e.g. "${option} ${example}".`,
      );
      return;
    }
    const target = this.draft.defaultListener;
    if (isPort) {
      const port = /^\d+$/.test(value) ? Number(value) : NaN;
      if (!(port >= 0 && port <= 65535)) {
        ctx.error(CONFIG_ISSUE_KINDS.invalidValue, `port expects a port 0-65535 (0 = any free port), got "${value}"`, 'write e.g. "port 1883".');
        return;
      }
      target.port = port;
    } else {
      const host = bindAddress(ctx, value, example);
      if (host === undefined) return;
      target.host = host;
    }
    if (this.draft.defaultListenerDeclared === undefined) {
      this.draft.defaultListenerDeclared = { file: ctx.line.file, line: ctx.line.line };
      target.source = this.draft.defaultListenerDeclared;
    }
    ctx.warn(
      `${option} is deprecated since mosquitto 2.0; it configures the implicit default listener. ` +
        `Fix: write "listener ${isPort ? value : `${target.port} ${value}`}" instead.`,
    );
  }

  #includeDir(ctx: OptionContext, source: ConfigSource, level: number): void {
    if (level > 0) {
      ctx.error(
        CONFIG_ISSUE_KINDS.misplaced,
        'include_dir only works in the main config file (mosquitto ignores it in included files)',
        `move this line to ${this.draft.mainFile}.`,
      );
      return;
    }
    const dir = ctx.line.rest;
    if (dir === '') {
      ctx.error(CONFIG_ISSUE_KINDS.invalidValue, 'include_dir needs a directory', 'write e.g. "include_dir /etc/mosquitto/conf.d".');
      return;
    }
    const reader = this.#options.readIncludeDir;
    if (reader === undefined) {
      ctx.error(
        CONFIG_ISSUE_KINDS.file,
        'include_dir needs to read files, but the config was parsed from text',
        'load the config with loadConfig(path) instead of parseConfig(text).',
      );
      return;
    }
    const result = reader(dir, source);
    if ('error' in result) {
      ctx.error(CONFIG_ISSUE_KINDS.file, `include_dir ${dir}: ${result.error}`, result.fix ?? 'check the directory.');
      return;
    }
    for (const included of result.files) this.readFile(included.file, included.text, level + 1);
  }

  /** In reading order: by file (main file, then included files), then by line. */
  #sorted<T extends { readonly file: string; readonly line: number }>(items: readonly T[]): T[] {
    const order = (file: string): number => this.draft.files.indexOf(file);
    return [...items].sort((a, b) => order(a.file) - order(b.file) || a.line - b.line);
  }

  /** Applies defaults, checks what needs the whole file, and returns the config or throws. */
  finish(): BrokerConfig {
    const { draft } = this;
    const localOnly = draft.firstListener === undefined && draft.defaultListenerDeclared === undefined;
    const firstDefaultOption = draft.defaultListenerOptions[0];
    if (localOnly && firstDefaultOption !== undefined) {
      const { option, source } = firstDefaultOption;
      this.#warn(
        source.file,
        source.line,
        `${option} comes before any "listener" line and the configuration defines no listener, so it applies to ` +
          `moat's local-only listener on ${CONFIG_DEFAULTS.localOnlyHost}:${CONFIG_DEFAULTS.port} (mosquitto 2.0 may ` +
          `open port ${CONFIG_DEFAULTS.port} on all interfaces for this file instead). Fix: add "listener ` +
          `${CONFIG_DEFAULTS.port}" above it to accept clients from other machines.`,
      );
    }
    const first = draft.firstListener;
    if (first !== undefined && draft.defaultListenerDeclared === undefined) {
      for (const { option, source } of draft.defaultListenerOptions) {
        this.#issue(
          CONFIG_ISSUE_KINDS.misplaced,
          source.file,
          source.line,
          option,
          `${option} comes before any "listener" line in ${source.file}, so mosquitto applies it to its implicit ` +
            `default listener on port ${CONFIG_DEFAULTS.port}, not to "listener ${first.port}" at ${first.file}:${first.line}`,
          `move it below the "listener" line it is meant for, or add "listener ${CONFIG_DEFAULTS.port}" above it ` +
            'if you want that extra listener.',
        );
      }
    }
    const report: ReportIssue = (kind, file, line, option, text, fix) => this.#issue(kind, file, line, option, text, fix);
    for (const listener of [...draft.listeners, draft.defaultListener]) checkListenerTls(draft, listener, report);
    checkPskFileUsed(draft, [...draft.listeners, draft.defaultListener], report);
    checkAdmin(draft, report, (source, text) => this.#warn(source.file, source.line, text));
    if (this.#issues.length > 0) {
      throw new ConfigError(this.#sorted(this.#issues));
    }

    const drafts = [...draft.listeners];
    if (draft.defaultListenerDeclared !== undefined) drafts.push(draft.defaultListener);
    if (localOnly) {
      draft.defaultListener.host = CONFIG_DEFAULTS.localOnlyHost;
      drafts.push(draft.defaultListener);
    }
    const perListener = draft.perListenerSettings !== undefined;
    const listeners = drafts.map((l): ListenerConfig => {
      const security = perListener ? l.security : draft.security;
      return Object.freeze({
        port: l.port,
        host: l.host,
        socketPath: l.socketPath,
        protocol: l.protocol,
        allowAnonymous: security.allowAnonymous,
        allowZeroLengthClientId: security.allowZeroLengthClientId ?? CONFIG_DEFAULTS.allowZeroLengthClientId,
        autoIdPrefix: security.autoIdPrefix ?? CONFIG_DEFAULTS.autoIdPrefix,
        passwordFile: security.passwordFile,
        aclFile: security.aclFile,
        maxConnections: l.maxConnections,
        maxTopicAlias: l.maxTopicAlias,
        maxQos: l.maxQos,
        ...(l.mountPoint === undefined ? {} : { mountPoint: l.mountPoint }),
        useUsernameAsClientid: l.useUsernameAsClientid,
        socketDomain: l.socketDomain,
        bindInterface: l.bindInterface,
        ...(l.tls.source === undefined ? {} : { tls: listenerTlsConfig(l.tls, security.pskFile) }),
        source: Object.freeze({ ...l.source }),
      });
    });
    const { log } = draft;
    const destinations = log.destinations ?? new Set(CONFIG_DEFAULTS.logDestinations);
    const types = log.types ?? new Set(CONFIG_DEFAULTS.logTypes);
    return Object.freeze({
      files: Object.freeze([...draft.files]),
      listeners: Object.freeze(listeners),
      localOnly,
      perListenerSettings: perListener,
      allowAnonymous: draft.security.allowAnonymous,
      allowZeroLengthClientId: draft.security.allowZeroLengthClientId ?? CONFIG_DEFAULTS.allowZeroLengthClientId,
      autoIdPrefix: draft.security.autoIdPrefix ?? CONFIG_DEFAULTS.autoIdPrefix,
      passwordFile: draft.security.passwordFile,
      aclFile: draft.security.aclFile,
      ...draft.values,
      admin: adminConfig(draft.admin),
      log: Object.freeze({
        destinations: Object.freeze(LOG_DESTINATIONS.filter((d) => destinations.has(d))),
        file: destinations.has('file') ? log.file?.path : undefined,
        types: Object.freeze(LOG_TYPES.filter((t) => types.has(t))),
        timestamp: log.timestamp,
        timestampFormat: log.timestampFormat,
        connectionMessages: log.connectionMessages,
      }),
      warnings: Object.freeze(this.#sorted(this.#warnings)),
    });
  }
}
