// Walks the option table of docs/CONFIG.md ("Every Mosquitto 2.0.11 option"): every row marked
// supported parses from its Example; every row marked planned or never is refused with the area or
// the reason the row states; and the table names every option moat's parser knows and every option
// of Mosquitto 2.0.11 (test/config/mosquitto-options.ts).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  ConfigError,
  loadConfig,
  NEVER_SUPPORTED,
  NEVER_SUPPORTED_PREFIXES,
  NEVER_SUPPORTED_VALUES,
  NOT_YET_SUPPORTED,
  NOT_YET_SUPPORTED_VALUES,
  parseConfig,
  type ConfigIssue,
} from '../../src/config/index.js';
import { OPTIONS } from '../../src/config/options.js';
import { TLS_OPTIONS } from '../../src/config/tls-options.js';
import { sourcePath } from '../kit/paths.js';
import { MAN_PAGE_OPTIONS, UNDOCUMENTED_OPTIONS } from './mosquitto-options.js';

interface Row {
  /** As written in the Option column, backticks removed: "log_dest", "log_dest syslog", "auth_opt_*". */
  readonly option: string;
  /** Its first word: the option name. */
  readonly name: string;
  readonly status: 'supported' | 'supported differently' | 'never' | `planned: ${string}`;
  readonly example: string;
  /** The last column, backticks removed. */
  readonly moat: string;
  readonly line: number;
}

const SECTION = '## Every Mosquitto 2.0.11 option';
const HEADER = '| Option | Status | Example | moat |';
const unquote = (cell: string): string => cell.replace(/`/g, '').trim();

/** The rows of every table with the HEADER in SECTION of docs/CONFIG.md. */
function readTable(): Row[] {
  const lines = readFileSync(sourcePath('docs', 'CONFIG.md'), 'utf8').split('\n');
  const start = lines.indexOf(SECTION);
  assert.notEqual(start, -1, `docs/CONFIG.md has a "${SECTION}" section`);
  const end = lines.findIndex((l, i) => i > start && l.startsWith('## '));
  const rows: Row[] = [];
  let inTable = false;
  for (let i = start; i < (end === -1 ? lines.length : end); i++) {
    const text = lines[i] ?? '';
    if (text === HEADER) {
      inTable = true;
      continue;
    }
    if (!text.startsWith('|')) {
      inTable = false;
      continue;
    }
    if (!inTable || text.startsWith('|---')) continue;
    const cells = text.slice(1, -1).split(' | ').map((c) => c.trim());
    assert.equal(cells.length, 4, `docs/CONFIG.md:${i + 1} has 4 cells: ${text}`);
    const [option, status, example, moat] = cells.map(unquote) as [string, string, string, string];
    assert.match(status, /^(supported|supported differently|never|planned: .+)$/, `docs/CONFIG.md:${i + 1}: status "${status}"`);
    assert.match(cells[2] ?? '', /^`[^`]+`$/, `docs/CONFIG.md:${i + 1}: the Example is one config line in backticks`);
    rows.push({ option, name: option.split(' ')[0] ?? option, status: status as Row['status'], example, moat, line: i + 1 });
  }
  return rows;
}

const rows = readTable();
const dir = mkdtempSync(join(tmpdir(), 'moat-option-table-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// What a row's example needs above it: a listener for listener options, with certificate files for
// TLS ones; deprecated port/bind_address must come before any listener.
const PLAIN = 'listener 8883 127.0.0.1\n';
const TLS = `${PLAIN}cafile /etc/moat/ca.crt\ncertfile /etc/moat/server.crt\nkeyfile /etc/moat/server.key\nrequire_certificate true\n`;
const TLS_NAMES = new Set([...Object.keys(TLS_OPTIONS), 'crlfile']);

function contextFor(row: Row): string {
  if (row.name === 'port' || row.name === 'bind_address') return '';
  // psk_hint and psk_file are each refused without the other.
  if (row.name === 'psk_hint') return `${PLAIN}psk_file /etc/moat/psk\n`;
  if (row.name === 'psk_file') return `${PLAIN}psk_hint moat\n`;
  return TLS_NAMES.has(row.name) ? TLS : PLAIN;
}

/** Parses the row's example in its context: the issues, and the line the example is on. */
function parseRow(row: Row): { issues: readonly ConfigIssue[]; exampleLine: number } {
  const context = contextFor(row);
  const exampleLine = context.split('\n').length;
  try {
    parseConfig(`${context}${row.example}\n`, 'table.conf');
    return { issues: [], exampleLine };
  } catch (error) {
    assert.ok(error instanceof ConfigError, `${row.option}: ${String(error)}`);
    return { issues: error.issues, exampleLine };
  }
}

/** What the error names: the row's option (with its value), or for a prefix row the example's option. */
const subject = (row: Row): string => (row.name.endsWith('*') ? (row.example.split(' ')[0] ?? '') : row.option);

describe('docs/CONFIG.md option table: each row does what it says', () => {
  for (const row of rows) {
    test(`${row.option}: ${row.status} (docs/CONFIG.md:${row.line})`, async () => {
      const set = row.example.split(' ')[0] ?? '';
      if (row.name.endsWith('*')) assert.ok(set.startsWith(row.name.slice(0, -1)), 'the Example sets an option of its row');
      else assert.equal(set, row.name, 'the Example sets the option of its row');
      if (row.name === 'include_dir') {
        const included = mkdtempSync(join(dir, 'conf.d-'));
        writeFileSync(join(included, 'a.conf'), 'max_keepalive 60\n');
        const main = join(dir, 'include.conf');
        writeFileSync(main, `${PLAIN}include_dir ${included}\n`);
        assert.equal((await loadConfig(main)).maxKeepalive, 60);
        return;
      }
      const { issues, exampleLine } = parseRow(row);
      if (row.status === 'supported' || row.status === 'supported differently') {
        assert.deepEqual(issues.map((i) => i.message), [], `"${row.example}" should parse`);
        return;
      }
      assert.equal(issues.length, 1, issues.map((i) => i.message).join('\n'));
      const [issue] = issues as [ConfigIssue];
      assert.equal(issue.line, exampleLine);
      if (row.status === 'never') {
        assert.equal(issue.kind, 'never-supported');
        assert.equal(issue.message, `table.conf:${exampleLine}: ${subject(row)} is not supported by moat and will not be: ${row.moat}`);
      } else {
        assert.equal(issue.kind, 'not-yet-supported');
        assert.ok(issue.message.startsWith(`table.conf:${exampleLine}: ${subject(row)} is not yet supported by moat (${row.status});`), issue.message);
      }
    });
  }
});

describe('docs/CONFIG.md option table: it is complete', () => {
  const named = new Set(rows.map((r) => r.option));
  const names = new Set(rows.map((r) => r.name));

  test('no option has two rows', () => {
    const seen = new Map<string, number>();
    for (const row of rows) {
      assert.equal(seen.get(row.option), undefined, `${row.option} on lines ${seen.get(row.option)} and ${row.line}`);
      seen.set(row.option, row.line);
    }
  });

  test('every option of Mosquitto 2.0.11 has a row: the man page\'s and the undocumented ones', () => {
    for (const option of [...MAN_PAGE_OPTIONS, ...UNDOCUMENTED_OPTIONS]) assert.ok(names.has(option), `${option} is missing from docs/CONFIG.md`);
  });

  test('every option the parser knows has a row: implemented, planned, never, prefixes and refused values', () => {
    const parserNames = [...Object.keys(OPTIONS), ...Object.keys(NOT_YET_SUPPORTED), ...Object.keys(NEVER_SUPPORTED), ...Object.keys(NEVER_SUPPORTED_PREFIXES).map((p) => `${p}*`)];
    for (const name of parserNames) assert.ok(names.has(name), `${name} is missing from docs/CONFIG.md`);
    for (const value of [...Object.keys(NOT_YET_SUPPORTED_VALUES), ...Object.keys(NEVER_SUPPORTED_VALUES)]) assert.ok(named.has(value), `"${value}" has no row of its own`);
  });

  test('every row is a Mosquitto 2.0.11 option, one the parser knows, or a value of one', () => {
    const known = new Set([...MAN_PAGE_OPTIONS, ...UNDOCUMENTED_OPTIONS, ...Object.keys(OPTIONS), ...Object.keys(NOT_YET_SUPPORTED), ...Object.keys(NEVER_SUPPORTED)]);
    for (const row of rows) assert.ok(known.has(row.name), `docs/CONFIG.md:${row.line}: ${row.name} is neither a Mosquitto 2.0.11 option nor one moat reads`);
  });

  test('a row says "supported" exactly when the parser implements the option', () => {
    for (const row of rows) {
      if (row.option.includes(' ') || row.name.endsWith('*')) continue; // values and prefixes are checked by parsing
      const implemented = Object.hasOwn(OPTIONS, row.name);
      assert.equal(row.status.startsWith('supported'), implemented, `docs/CONFIG.md:${row.line}: ${row.name} is ${row.status} but ${implemented ? 'implemented' : 'not implemented'} in src/config`);
    }
  });
});
