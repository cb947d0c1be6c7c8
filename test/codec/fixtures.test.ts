// One fixture table (packet object + version + exact bytes) drives decode, encode and round-trip,
// whole, one byte at a time, and concatenated.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encode } from '../../src/codec/encode.js';
import { PROPERTIES } from '../../src/codec/properties.js';
import type { Packet, ProtocolVersion } from '../../src/codec/types.js';
import { FIXTURES } from './fixtures.js';
import { bytewise, hex, parse, parseChunks } from './helpers.js';

const opts = (version: ProtocolVersion) => ({ protocolVersion: version });

describe('fixtures', () => {
  for (const f of FIXTURES) {
    describe(f.name, () => {
      test('encodes to the exact bytes', () => {
        assert.equal(encode(f.packet, f.version).toString('hex'), hex(f.hex).toString('hex'));
      });
      test('decodes to the packet', () => {
        const { packets, errors } = parse(f.hex, opts(f.version));
        assert.deepEqual(errors, []);
        assert.deepEqual(packets, [f.packet]);
      });
      test('decodes when fed one byte at a time', () => {
        const { packets, errors } = parseChunks(bytewise(hex(f.hex)), opts(f.version));
        assert.deepEqual(errors, []);
        assert.deepEqual(packets, [f.packet]);
      });
      test('round-trips bytes → packet → bytes', () => {
        const [decoded] = parse(f.hex, opts(f.version)).packets;
        assert.ok(decoded);
        assert.equal(encode(decoded, f.version).toString('hex'), hex(f.hex).toString('hex'));
      });
    });
  }

  for (const version of [3, 4, 5] as const) {
    const set = FIXTURES.filter((f) => f.version === version);
    const all = Buffer.concat(set.map((f) => hex(f.hex)));
    const expected: Packet[] = set.map((f) => f.packet);

    test(`all ${version} fixtures concatenated in one chunk`, () => {
      const { packets, errors } = parse(all, opts(version));
      assert.deepEqual(errors, []);
      assert.deepEqual(packets, expected);
    });

    test(`all ${version} fixtures concatenated, fed one byte at a time`, () => {
      const { packets, errors } = parseChunks(bytewise(all), opts(version));
      assert.deepEqual(errors, []);
      assert.deepEqual(packets, expected);
    });

    test(`all ${version} fixtures concatenated, split at every offset into two chunks`, () => {
      for (let i = 0; i <= all.length; i++) {
        const { packets, errors } = parseChunks([all.subarray(0, i), all.subarray(i)], opts(version));
        assert.deepEqual(errors, []);
        assert.deepEqual(packets, expected, `split at ${i}`);
      }
    });
  }

  test('the server learns the version from CONNECT and decodes the 5.0 packets after it', () => {
    const set = FIXTURES.filter((f) => f.version === 5 && f.packet.type !== 'connack' && f.packet.type !== 'suback' && f.packet.type !== 'unsuback' && f.packet.type !== 'pingresp');
    const connect = set.find((f) => f.packet.type === 'connect');
    assert.ok(connect);
    const rest = set.filter((f) => f.packet.type !== 'connect');
    const { parser, packets, errors } = parse(Buffer.concat([hex(connect.hex), ...rest.map((f) => hex(f.hex))]), { side: 'server' });
    assert.deepEqual(errors, []);
    assert.equal(parser.protocolVersion, 5);
    assert.deepEqual(packets, [connect.packet, ...rest.map((f) => f.packet)]);
  });

  test('5.0 fixtures carry every property at least once', () => {
    const seen = new Set<string>();
    const visit = (props: object | undefined) => {
      for (const k of Object.keys(props ?? {})) seen.add(k);
    };
    for (const f of FIXTURES.filter((x) => x.version === 5)) {
      const p = f.packet as { properties?: object; will?: { properties?: object } };
      visit(p.properties);
      visit(p.will?.properties);
    }
    assert.deepEqual(
      PROPERTIES.map((p) => p.name).filter((n) => !seen.has(n)),
      [],
    );
  });

  test('every packet type appears under 3.1.1 and 5.0', () => {
    for (const version of [4, 5]) {
      const types = new Set(FIXTURES.filter((f) => f.version === version).map((f) => f.packet.type));
      const expected = ['connect', 'connack', 'publish', 'puback', 'pubrec', 'pubrel', 'pubcomp', 'subscribe', 'suback', 'unsubscribe', 'unsuback', 'pingreq', 'pingresp', 'disconnect'];
      if (version === 5) expected.push('auth');
      assert.deepEqual([...types].sort(), expected.sort());
    }
  });
});
