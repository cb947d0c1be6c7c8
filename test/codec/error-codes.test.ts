// The error codes are data: every code in ERROR_CODES is documented in docs/ERRORS.md and every
// documented code exists, and no module throws a bare Error/TypeError/RangeError (each error is a
// MoatError with a code from the table).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { ERROR_CODES, MoatError, ProtocolError } from '../../src/codec/errors.js';

// This file runs as build/test/codec/error-codes.test.js (or from test/codec/ under tsx): the
// repository root is the nearest ancestor that holds package.json.
function repoRoot(): string {
  let dir = fileURLToPath(new URL('.', import.meta.url));
  for (;;) {
    if (readdirSync(dir).includes('package.json') && readdirSync(dir).includes('src')) return dir;
    const parent = join(dir, '..');
    if (parent === dir) throw new Error('no package.json above the test file');
    dir = parent;
  }
}

const ROOT = repoRoot();

function documentedCodes(): string[] {
  const doc = readFileSync(join(ROOT, 'docs', 'ERRORS.md'), 'utf8');
  return [...doc.matchAll(/^\|\s*`(MOAT_ERR_[A-Z0-9_]+)`\s*\|/gm)].map((m) => m[1] as string);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

describe('error codes', () => {
  it('every code in ERROR_CODES has a row in docs/ERRORS.md', () => {
    const documented = new Set(documentedCodes());
    const missing = Object.keys(ERROR_CODES).filter((code) => !documented.has(code));
    assert.deepEqual(missing, [], `add these codes to docs/ERRORS.md: ${missing.join(', ')}`);
  });

  it('docs/ERRORS.md lists only codes in ERROR_CODES, each once', () => {
    const documented = documentedCodes();
    const unknown = documented.filter((code) => !Object.hasOwn(ERROR_CODES, code));
    assert.deepEqual(unknown, [], `docs/ERRORS.md lists codes that ERROR_CODES does not have: ${unknown.join(', ')}`);
    const twice = documented.filter((code, i) => documented.indexOf(code) !== i);
    assert.deepEqual(twice, [], `docs/ERRORS.md lists these codes more than once: ${twice.join(', ')}`);
  });

  it('every code has a summary and a fix', () => {
    for (const [code, { summary, fix }] of Object.entries(ERROR_CODES)) {
      assert.match(code, /^MOAT_ERR_[A-Z0-9_]+$/);
      assert.ok(summary.length > 10 && fix.length > 5, `${code} needs a summary and a fix`);
    }
  });

  it('ProtocolError takes its code from the reason code', () => {
    assert.equal(new ProtocolError(0x81, 'x').code, 'MOAT_ERR_MALFORMED_PACKET');
    assert.equal(new ProtocolError(0x84, 'x').code, 'MOAT_ERR_UNSUPPORTED_PROTOCOL_VERSION');
    assert.equal(new ProtocolError(0x95, 'x').code, 'MOAT_ERR_PACKET_TOO_LARGE');
    assert.equal(new ProtocolError(0x82, 'x').code, 'MOAT_ERR_PROTOCOL');
    const error = new ProtocolError(0x93, 'x');
    assert.ok(error instanceof MoatError && error instanceof Error);
    assert.equal(error.reasonCode, 0x93);
  });

  it('no source file throws a bare Error, TypeError or RangeError', () => {
    const bare = /\bnew (?:Error|TypeError|RangeError)\(/;
    const found: string[] = [];
    for (const file of sourceFiles(join(ROOT, 'src'))) {
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (bare.test(line)) found.push(`${relative(ROOT, file)}:${i + 1}: ${line.trim()}`);
        });
    }
    assert.deepEqual(found, [], `use MoatError with a code from ERROR_CODES instead:\n${found.join('\n')}`);
  });
});
