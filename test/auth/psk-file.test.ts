// psk_file parsing: Mosquitto's identity:hexkey lines, its reading of the key (leading zero bytes
// kept, an odd digit count read as a leading 0 nibble, as mosquitto_pub --psk sends it), and
// lines moat cannot use skipped with a warning naming file:line and the fix, at the limits a TLS-PSK
// handshake has.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MAX_PSK_KEY_BYTES, PskFile } from '../../src/auth/psk-file.js';
import { ConfigError } from '../../src/config/errors.js';
import { MAX_PSK_IDENTITY_BYTES } from '../../src/config/types.js';

const FIX = 'Fix: write one IDENTITY:HEXKEY line per client, the key in hex digits without "0x" (make one with `openssl rand -hex 32`).';
const SKIPPED = ', so this line is skipped and the other clients still connect.';

/** The warnings for `text`; every line skipped leaves no key behind. */
function problems(text: string): string[] {
  return [...PskFile.parse(text, 'psk').warnings];
}

test('identity:hexkey lines; comments, blank lines, blanks around both halves and CRLF are fine', () => {
  const file = PskFile.parse('# devices\n\nsensor-01:0123456789ABCDEF\r\n  sensor-02 : a1b2 \n', 'psk');
  assert.equal(file.size, 2);
  assert.equal(file.key('sensor-01')?.toString('hex'), '0123456789abcdef');
  assert.equal(file.key('sensor-02')?.toString('hex'), 'a1b2');
  assert.equal(file.key('sensor-03'), undefined);
});

test('keys are read as Mosquitto and mosquitto_pub read them: leading 00 bytes kept, an odd count of digits gets a leading 0', () => {
  const file = PskFile.parse('a:00ff\nb:abc\nc:001\nd:0000\n', 'psk');
  assert.equal(file.key('a')?.toString('hex'), '00ff');
  assert.equal(file.key('b')?.toString('hex'), '0abc');
  assert.equal(file.key('c')?.toString('hex'), '0001');
  assert.equal(file.key('d')?.toString('hex'), '0000');
});

test('the key length edges: 1 byte and 512 bytes are keys, a 513-byte one is skipped', () => {
  assert.equal(PskFile.parse('a:01\n', 'psk').key('a')?.length, 1);
  assert.equal(PskFile.parse(`a:${'ab'.repeat(MAX_PSK_KEY_BYTES)}\n`, 'psk').key('a')?.length, 512);
  assert.deepEqual(problems(`a:${'ab'.repeat(MAX_PSK_KEY_BYTES + 1)}\n`), [`psk:1: the key of identity "a" is 513 bytes; TLS-PSK keys are at most 512${SKIPPED} ${FIX}`]);
  // 1025 hex digits: 513 bytes once the leading 0 nibble is added.
  assert.match(problems(`a:f${'ab'.repeat(MAX_PSK_KEY_BYTES)}\n`)[0] ?? '', /is 513 bytes/);
});

test('the identity length edges: 256 bytes is an identity, a 257-byte one is skipped', () => {
  assert.equal(PskFile.parse(`${'i'.repeat(MAX_PSK_IDENTITY_BYTES)}:01\n`, 'psk').size, 1);
  assert.deepEqual(problems(`${'i'.repeat(MAX_PSK_IDENTITY_BYTES + 1)}:01\n`), [`psk:1: the identity is longer than 256 bytes, the most a TLS-PSK handshake carries${SKIPPED} ${FIX}`]);
  // Bytes, not characters: 129 two-byte characters are 258 bytes.
  assert.equal(problems(`${'é'.repeat(129)}:01\n`).length, 1);
});

test('an unusable line is skipped with file:line and the fix; the other identities keep their keys; a later duplicate wins', () => {
  const file = PskFile.parse('good:01\nno colon here\n:abcd\nempty:\nhex:0x1234\nnot-hex:12zz\ngood:02\nsplit:ab:cd\nlast:ff\n', 'psk');
  assert.deepEqual(file.warnings, [
    `psk:2: this line is not IDENTITY:HEXKEY (no ":")${SKIPPED} ${FIX}`,
    `psk:3: this line has no identity before the ":"${SKIPPED} ${FIX}`,
    `psk:4: identity "empty" has no key${SKIPPED} ${FIX}`,
    `psk:5: the key of identity "hex" starts with "0x"${SKIPPED} ${FIX}`,
    `psk:6: the key of identity "not-hex" is not hexadecimal${SKIPPED} ${FIX}`,
    'psk:7: identity "good" is also on line 1; this later line wins, as in Mosquitto. Fix: delete the line you do not want.',
    `psk:8: the key of identity "split" is not hexadecimal${SKIPPED} ${FIX}`,
  ]);
  assert.equal(file.size, 2);
  assert.equal(file.key('good')?.toString('hex'), '02');
  assert.equal(file.key('last')?.toString('hex'), 'ff');
  for (const skipped of ['empty', 'hex', 'not-hex', 'split']) assert.equal(file.key(skipped), undefined, skipped);
});

test('load: a missing file names the path and the fix', () => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-psk-'));
  try {
    const file = join(dir, 'psk');
    assert.throws(() => PskFile.load(file), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.message, `${file}: the psk_file does not exist. Fix: create it (${FIX.slice(5, -1)}), or correct the path and permissions in psk_file.`);
      return true;
    });
    writeFileSync(file, 'dev:0a0b\n');
    assert.equal(PskFile.load(file).key('dev')?.toString('hex'), '0a0b');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
