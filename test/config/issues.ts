// What parseConfig reports for a config text: the tests' one way to read its issues.
import assert from 'node:assert/strict';
import { ConfigError, parseConfig, type ConfigIssue } from '../../src/config/index.js';

/** The issues of `text` (read as `file`); fails the test when it parses cleanly. */
export function issues(text: string, file = 'moat.conf'): readonly ConfigIssue[] {
  try {
    parseConfig(text, file);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.issues;
  }
  assert.fail('expected a ConfigError');
}

/** The message of the one issue of `text`; fails the test when there are none or several. */
export function only(text: string, file = 'moat.conf'): string {
  const found = issues(text, file);
  assert.equal(found.length, 1, found.map((i) => i.message).join('\n'));
  return found[0]?.message ?? '';
}
