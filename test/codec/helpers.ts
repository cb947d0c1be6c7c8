// Test helpers: run bytes through a Parser and collect what it reports.
import type { ProtocolError } from '../../src/codec/errors.js';
import { Parser, type ParserOptions } from '../../src/codec/parser.js';
import type { Packet } from '../../src/codec/types.js';

export interface Collected {
  parser: Parser;
  packets: Packet[];
  errors: ProtocolError[];
}

export function collector(options?: ParserOptions): Collected {
  const packets: Packet[] = [];
  const errors: ProtocolError[] = [];
  const parser = new Parser(
    {
      onPacket: (p) => {
        if (errors.length > 0) throw new Error('packet emitted after an error');
        packets.push(p);
      },
      onError: (e) => {
        errors.push(e);
      },
    },
    options,
  );
  return { parser, packets, errors };
}

/** Parses `chunks` (pushed one by one) with a fresh Parser. */
export function parseChunks(chunks: Buffer[], options?: ParserOptions): Collected {
  const c = collector(options);
  for (const chunk of chunks) c.parser.push(chunk);
  return c;
}

export function parse(bytes: Buffer | string, options?: ParserOptions): Collected {
  return parseChunks([typeof bytes === 'string' ? hex(bytes) : bytes], options);
}

export function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

/** Splits `buf` into single bytes. */
export function bytewise(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i++) out.push(buf.subarray(i, i + 1));
  return out;
}
