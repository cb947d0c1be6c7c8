// Mosquitto-compatible ACL files (`acl_file`), with the semantics of Mosquitto 2.0.11
// (src/security_default.c: aclfile__parse, add__acl, add__acl_pattern, mosquitto_acl_check_default).
// Where moat is stricter than mosquitto the comment says so; see also docs/SECURITY.md.

import { readFile } from 'node:fs/promises';
import { CONFIG_ISSUE_KINDS, ConfigError, where, type ConfigIssue } from '../config/errors.js';
import { filterMatches } from '../topic/filter-matches.js';
import { parseSharedFilter, validateTopicFilter } from '../topic/validate.js';

export type AclAccess = 'read' | 'write' | 'subscribe';

/** Who is asking; `username` undefined = anonymous client. */
export interface AclSubject {
  readonly username: string | undefined;
  readonly clientId: string;
}

export interface AclRule {
  readonly kind: 'topic' | 'pattern';
  /** The section's user for 'topic' rules; undefined for the anonymous section and for patterns. */
  readonly username: string | undefined;
  readonly access: 'read' | 'write' | 'readwrite' | 'deny';
  readonly filter: string;
  readonly source: { readonly file: string; readonly line: number };
}

const READ = 1;
const WRITE = 2;
const ACCESS_BITS = { read: READ, write: WRITE, readwrite: READ | WRITE, deny: 0 } as const;
type AccessWord = keyof typeof ACCESS_BITS;
const ACCESS_WORDS = Object.keys(ACCESS_BITS) as AccessWord[];

interface CompiledRule {
  readonly filter: string;
  /** Pre-split for the SUBSCRIBE overlap test. */
  readonly levels: readonly string[];
  readonly bits: number;
}

interface CompiledPattern {
  readonly template: string;
  readonly bits: number;
  readonly usesClientId: boolean;
  readonly usesUsername: boolean;
}

/**
 * Mosquitto moves every `deny` rule to the front of its list (add__acl), so a deny wins over any grant
 * in the same list wherever it appears in the file. Keeping them apart gives the same order.
 */
interface RuleList<T> {
  readonly deny: T[];
  readonly grant: T[];
}

const emptyList = <T>(): RuleList<T> => ({ deny: [], grant: [] });

export class AclFile {
  readonly file: string;
  readonly #rules: readonly AclRule[];
  readonly #anonymous: RuleList<CompiledRule>;
  readonly #users: ReadonlyMap<string, RuleList<CompiledRule>>;
  readonly #patterns: RuleList<CompiledPattern>;
  readonly #patternCount: number;

  private constructor(file: string, rules: readonly AclRule[]) {
    this.file = file;
    this.#rules = rules;
    const anonymous = emptyList<CompiledRule>();
    const users = new Map<string, RuleList<CompiledRule>>();
    const patterns = emptyList<CompiledPattern>();
    for (const rule of rules) {
      const bits = ACCESS_BITS[rule.access];
      if (rule.kind === 'pattern') {
        const compiled: CompiledPattern = {
          template: rule.filter,
          bits,
          usesClientId: rule.filter.includes('%c'),
          usesUsername: rule.filter.includes('%u'),
        };
        (bits === 0 ? patterns.deny : patterns.grant).push(compiled);
        continue;
      }
      let list = anonymous;
      if (rule.username !== undefined) {
        // Repeated `user` sections for one name are merged, as in mosquitto.
        list = users.get(rule.username) ?? emptyList<CompiledRule>();
        users.set(rule.username, list);
      }
      const compiled: CompiledRule = { filter: rule.filter, levels: rule.filter.split('/'), bits };
      (bits === 0 ? list.deny : list.grant).push(compiled);
    }
    this.#anonymous = anonymous;
    this.#users = users;
    this.#patterns = patterns;
    this.#patternCount = patterns.deny.length + patterns.grant.length;
  }

  /** Parses ACL file text; throws a ConfigError listing every bad line. `file` is used in messages. */
  static parse(text: string, file: string): AclFile {
    const rules: AclRule[] = [];
    const issues: ConfigIssue[] = [];
    let user: string | undefined;
    const lines = text.split(/\r?\n/);
    for (let i = 0; i < lines.length; i++) {
      const result = parseLine(lines[i] ?? '', file, i + 1, user);
      if (result === undefined) continue;
      if ('issue' in result) issues.push(result.issue);
      else if ('user' in result) user = result.user;
      else rules.push(result.rule);
    }
    if (issues.length > 0) throw new ConfigError(issues);
    return new AclFile(file, rules);
  }

  /** Reads and parses `file`; an unreadable file is a ConfigError naming the path. */
  static async load(file: string): Promise<AclFile> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code ?? String(err);
      throw new ConfigError(
        [
          {
            kind: CONFIG_ISSUE_KINDS.file,
            file,
            line: 0,
            option: 'acl_file',
            message: `${where(file, 0)}cannot read the ACL file (${why}). Fix: check the acl_file path and that the broker's user may read it.`,
          },
        ],
        { cause: err },
      );
    }
    return AclFile.parse(text, file);
  }

  /**
   * May `subject` do `access` on `topic`? `topic` is a topic name for read/write, a topic filter for
   * subscribe. With no matching rule the answer is no.
   */
  check(subject: AclSubject, access: AclAccess, topic: string): boolean {
    if (access === 'subscribe') return this.#mayEverRead(subject, topic);
    const bit = access === 'read' ? READ : WRITE;
    const section = this.#section(subject);
    if (section !== undefined) {
      for (const rule of section.deny) if (filterMatches(rule.filter, topic)) return false;
      for (const rule of section.grant) if (rule.bits & bit && filterMatches(rule.filter, topic)) return true;
    }
    if (this.#patternCount === 0 || !patternsApplyTo(subject)) return false;
    for (const pattern of this.#patterns.deny) {
      const filter = substitute(pattern, subject);
      if (filter !== undefined && filterMatches(filter, topic)) return false;
    }
    for (const pattern of this.#patterns.grant) {
      if (!(pattern.bits & bit)) continue;
      const filter = substitute(pattern, subject);
      if (filter !== undefined && filterMatches(filter, topic)) return true;
    }
    return false;
  }

  /** Counts and rules for `moat audit`, in file order. */
  describe(): { readonly users: number; readonly patterns: number; readonly anonymousRules: number; readonly rules: readonly AclRule[] } {
    return {
      users: this.#users.size,
      patterns: this.#patternCount,
      anonymousRules: this.#anonymous.deny.length + this.#anonymous.grant.length,
      rules: this.#rules,
    };
  }

  #section(subject: AclSubject): RuleList<CompiledRule> | undefined {
    return subject.username === undefined ? this.#anonymous : this.#users.get(subject.username);
  }

  /**
   * SUBSCRIBE. Mosquitto 2.0's acl_file grants every SUBSCRIBE ("FIXME - implement ACL subscription
   * strings" in mosquitto_acl_check_default) and relies on the per-message read check. moat is
   * stricter only where that grant is useless: it refuses a filter that no readable topic can match
   * (no read rule overlaps it, or a deny covers all of it). What is delivered is unchanged: every
   * message is still read-checked, so a granted `#` with `topic read a/#` only ever receives a/...
   * The test errs towards granting: a filter partly covered by several denies is granted.
   */
  #mayEverRead(subject: AclSubject, filter: string): boolean {
    const plain = parseSharedFilter(filter)?.filter ?? filter;
    if (validateTopicFilter(plain) !== undefined) return false;
    const levels = plain.split('/');
    const section = this.#section(subject);
    if (section !== undefined) {
      if (section.deny.some((rule) => covers(rule.levels, levels))) return false;
      if (section.grant.some((rule) => rule.bits & READ && overlaps(rule.levels, levels))) return true;
    }
    if (this.#patternCount === 0 || !patternsApplyTo(subject)) return false;
    const substituted = (pattern: CompiledPattern): string[] | undefined => substitute(pattern, subject)?.split('/');
    for (const pattern of this.#patterns.deny) {
      const deny = substituted(pattern);
      if (deny !== undefined && covers(deny, levels)) return false;
    }
    return this.#patterns.grant.some((pattern) => {
      if (!(pattern.bits & READ)) return false;
      const grant = substituted(pattern);
      return grant !== undefined && overlaps(grant, levels);
    });
  }
}

type LineResult = { rule: AclRule } | { user: string } | { issue: ConfigIssue } | undefined;

const KEYWORDS = ['user', 'topic', 'pattern'] as const;

/** One line of the file: a rule, a new user section, a problem, or nothing (blank, comment). */
function parseLine(raw: string, file: string, line: number, user: string | undefined): LineResult {
  const text = raw.trim();
  // Mosquitto only skips '#' in column 1 and refuses to start on an indented comment; moat accepts it.
  if (text === '' || text.startsWith('#')) return undefined;
  const match = /^(\S+)(?:[ \t]+(.*))?$/.exec(text);
  const keyword = match?.[1] ?? text;
  const rest = match?.[2] ?? '';
  const problem = (what: string, fix: string): LineResult => ({
    issue: { kind: CONFIG_ISSUE_KINDS.invalidValue, file, line, option: keyword, message: `${where(file, line)}${what}. Fix: ${fix}.` },
  });
  if (keyword === 'user') {
    if (rest === '') return problem('"user" without a name', 'write "user <name>"; the name is the rest of the line and may contain spaces');
    return { user: rest };
  }
  if (keyword === 'topic' || keyword === 'pattern') return parseRule(keyword, rest, user, file, line, problem);
  const known = KEYWORDS.find((k) => k === keyword.toLowerCase());
  const hint = known !== undefined ? `write "${known}" in lower case` : 'start the line with user, topic or pattern, or with # for a comment';
  return problem(`unknown keyword "${keyword}" (mosquitto refuses to start on it too)`, hint);
}

function parseRule(
  kind: 'topic' | 'pattern',
  rest: string,
  user: string | undefined,
  file: string,
  line: number,
  problem: (what: string, fix: string) => LineResult,
): LineResult {
  if (rest === '') return problem(`"${kind}" without a topic filter`, `write "${kind} [read|write|readwrite|deny] <filter>"`);
  const split = /^(\S+)[ \t]+(.*)$/.exec(rest);
  let access: AccessWord = 'readwrite';
  let filter = rest;
  if (split !== null) {
    const word = split[1] ?? '';
    if (!isAccessWord(word)) {
      return problem(
        `invalid access "${word}"`,
        `use one of ${ACCESS_WORDS.join(', ')} (filters containing spaces need the access word first: "${kind} readwrite <filter>")`,
      );
    }
    access = word;
    filter = split[2] ?? '';
  } else if (isAccessWord(rest)) {
    // Mosquitto would silently take the access word as the filter ("topic read" = topic "read", readwrite).
    return problem(`"${kind} ${rest}" has an access word but no topic filter (mosquitto would use "${rest}" as the filter)`, `write "${kind} ${rest} <filter>"`);
  }
  const invalid = validateTopicFilter(filter);
  if (invalid !== undefined) return problem(`invalid ${kind} filter: ${invalid}`, 'write a valid MQTT topic filter, such as "sensors/+/temp" or "sensors/#"');
  if (parseSharedFilter(filter) !== undefined) {
    return problem(
      `filter "${filter}" is a shared subscription; ACL rules are matched against topic names, so it would never match`,
      'write the topic filter without the "$share/<group>/" prefix',
    );
  }
  const rule: AclRule = {
    kind,
    username: kind === 'topic' ? user : undefined,
    access,
    filter,
    source: { file, line },
  };
  return { rule };
}

function isAccessWord(word: string): word is AccessWord {
  return Object.hasOwn(ACCESS_BITS, word);
}

/**
 * Mosquitto 2.0.11 denies every pattern check (after the user's own rules) to a client whose username
 * or client id contains + or #, so `%c` cannot smuggle in a wildcard. moat also refuses "/": a client
 * id is not authenticated, and "alice/x" would otherwise turn `devices/%c/#` into a filter inside
 * alice's tree (mosquitto 1.x refused "/" too; 2.0 dropped it).
 */
function patternsApplyTo(subject: AclSubject): boolean {
  return !hasUnsafeChar(subject.clientId) && (subject.username === undefined || !hasUnsafeChar(subject.username));
}

function hasUnsafeChar(value: string): boolean {
  return value.includes('+') || value.includes('#') || value.includes('/');
}

/**
 * The pattern with %c/%u replaced (anywhere in the string, as mosquitto 2.0.11 does: "dev_%c" works);
 * undefined when the pattern does not apply: %u for an anonymous client (mosquitto skips such
 * patterns) or an empty client id/username (moat: an empty level would match other clients' topics).
 */
function substitute(pattern: CompiledPattern, subject: AclSubject): string | undefined {
  if (!pattern.usesClientId && !pattern.usesUsername) return pattern.template;
  const { clientId, username } = subject;
  if (pattern.usesClientId && clientId === '') return undefined;
  if (pattern.usesUsername && (username === undefined || username === '')) return undefined;
  return pattern.template.replace(/%[cu]/g, (m) => (m === '%c' ? clientId : (username ?? m)));
}

const isWildcard = (level: string | undefined): boolean => level === '+' || level === '#';
/** A leading wildcard never matches a topic starting with $ [MQTT-4.7.2-1]. */
const dollarMismatch = (a: readonly string[], b: readonly string[]): boolean =>
  (isWildcard(a[0]) && (b[0]?.startsWith('$') ?? false)) || (isWildcard(b[0]) && (a[0]?.startsWith('$') ?? false));

/** True when some topic name matches both filters. */
function overlaps(a: readonly string[], b: readonly string[]): boolean {
  if (dollarMismatch(a, b)) return false;
  for (let i = 0; ; i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined && y === undefined) return true;
    if (x === '#' || y === '#') return true; // '#' also matches the parent level
    if (x === undefined || y === undefined) return false;
    if (x !== '+' && y !== '+' && x !== y) return false;
  }
}

/** True when every topic name matching `filter` also matches `cover`. */
function covers(cover: readonly string[], filter: readonly string[]): boolean {
  if (dollarMismatch(cover, filter)) return false;
  for (let i = 0; ; i++) {
    const c = cover[i];
    const f = filter[i];
    if (c === '#') return true;
    if (c === undefined || f === undefined) return c === undefined && f === undefined;
    if (f === '#') return false;
    if (c !== '+' && c !== f) return false;
  }
}
