// Property-based tests: the parser never throws or hangs on hostile input, stops after its first
// error, and valid packets round-trip encode → parse.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { encode } from '../../src/codec/encode.js';
import type { ParserOptions } from '../../src/codec/parser.js';
import type { ProtocolVersion } from '../../src/codec/types.js';
import { normalForm, packet } from './arbitraries.js';
import { parseChunks } from './helpers.js';

const version = (): fc.Arbitrary<ProtocolVersion> => fc.constantFrom(3, 4, 5);

const parserOptions = (): fc.Arbitrary<ParserOptions> =>
  fc.record(
    {
      protocolVersion: version(),
      side: fc.constantFrom('server', 'client', 'any'),
      maxPacketSize: fc.integer({ min: 2, max: 1000 }),
    },
    { requiredKeys: [], noNullPrototype: true },
  ) as fc.Arbitrary<ParserOptions>;

/** Cuts `buf` at the given (unsorted, possibly repeated) offsets. */
function split(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out;
}

/** Feeds chunks and checks the invariants every input must satisfy; returns what was collected. */
function feedSafely(chunks: Buffer[], options: ParserOptions) {
  const started = performance.now();
  // helpers.collector throws from onPacket if a packet follows an error: that would escape push().
  const c = parseChunks(chunks, options);
  assert.ok(c.errors.length <= 1, 'at most one error');
  assert.equal(c.parser.failed, c.errors.length > 0);
  for (const e of c.errors) assert.ok([0x81, 0x82, 0x84, 0x95].includes(e.reasonCode ?? -1), `unexpected reason ${e.reasonCode}`);
  assert.ok(performance.now() - started < 500, 'parsing a small input must be fast');
  return c;
}

describe('parser robustness', () => {
  test('random bytes never throw out of push(), and nothing follows an error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(), { maxLength: 8 }), parserOptions(), (bytes, cuts, options) => {
        feedSafely(split(Buffer.from(bytes), cuts), options);
      }),
      { numRuns: 1500 },
    );
  });

  test('random bytes after a plausible fixed header never throw', () => {
    const header = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 127 }));
    fc.assert(
      fc.property(header, fc.uint8Array({ maxLength: 130 }), parserOptions(), ([first, len], body, options) => {
        feedSafely([Buffer.concat([Buffer.from([first, len]), body])], options);
      }),
      { numRuns: 1500 },
    );
  });

  test('mutated valid packets (bit flips, truncation, random chunking) never throw', () => {
    const input = version().chain((v) =>
      fc.record({
        v: fc.constant(v),
        packets: fc.array(packet(v), { minLength: 1, maxLength: 4 }),
        flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { maxLength: 4 }),
        truncate: fc.option(fc.nat(), { nil: undefined }),
        cuts: fc.array(fc.nat(), { maxLength: 6 }),
        side: fc.constantFrom<'server' | 'client' | 'any'>('server', 'client', 'any'),
      }),
    );
    fc.assert(
      fc.property(input, ({ v, packets, flips, truncate, cuts, side }) => {
        let bytes = Buffer.concat(packets.map((p) => encode(p, v)));
        for (const [at, bit] of flips) {
          const i = at % bytes.length;
          bytes[i] = (bytes[i] as number) ^ (1 << bit);
        }
        if (truncate !== undefined) bytes = bytes.subarray(0, truncate % (bytes.length + 1));
        feedSafely(split(bytes, cuts), { protocolVersion: v, side });
      }),
      { numRuns: 1000 },
    );
  });

  test('an announced length beyond maxPacketSize is refused without waiting for the body', () => {
    fc.assert(
      fc.property(fc.integer({ min: 200, max: 268435455 }), fc.integer({ min: 2, max: 199 }), (len, max) => {
        const header = Buffer.alloc(5);
        header[0] = 0x30;
        let n = len;
        let i = 1;
        do {
          let b = n % 128;
          n = Math.floor(n / 128);
          if (n > 0) b |= 0x80;
          header[i++] = b;
        } while (n > 0);
        const c = feedSafely([header.subarray(0, i)], { maxPacketSize: max });
        assert.equal(c.errors[0]?.reasonCode, 0x95);
      }),
      { numRuns: 300 },
    );
  });
});

describe('round trip', () => {
  for (const v of [3, 4, 5] as const) {
    test(`arbitrary valid ${v === 3 ? '3.1' : v === 4 ? '3.1.1' : '5.0'} packets encode and parse back to an equal object`, () => {
      fc.assert(
        fc.property(packet(v), (p) => {
          const bytes = encode(p, v);
          const c = parseChunks([bytes], { protocolVersion: v });
          assert.deepEqual(c.errors, []);
          assert.deepEqual(c.packets, [normalForm(p, v)]);
          // and the decoded packet re-encodes to the same bytes
          assert.deepEqual(encode(c.packets[0] as typeof p, v), bytes);
        }),
        { numRuns: 600 },
      );
    });

    test(`sequences of ${v} packets split at random points parse to the same list`, () => {
      fc.assert(
        fc.property(fc.array(packet(v), { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 10 }), (ps, cuts) => {
          const bytes = Buffer.concat(ps.map((p) => encode(p, v)));
          const c = parseChunks(split(bytes, cuts), { protocolVersion: v });
          assert.deepEqual(c.errors, []);
          assert.deepEqual(c.packets, ps.map((p) => normalForm(p, v)));
        }),
        { numRuns: 300 },
      );
    });
  }
});
