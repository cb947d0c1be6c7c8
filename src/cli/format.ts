// How `moat sub` prints a message, byte for byte as mosquitto_sub 2.0 does: the payload alone
// (nothing at all for an empty one), -v "topic payload" ("topic (null)" when empty), or an -F
// format string with %-parameters (flags 0 and -, width, .max), @-strftime sequences and
// \-escapes. The format is compiled once; an unsupported sequence is an error up front.
import type { Properties, QoS } from '../codec/types.js';
import { CliError } from './mqtt-flags.js';

export interface PrintableMessage {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly properties?: Properties | undefined;
}

/** When a message arrived: wall clock in nanoseconds since the epoch. */
export type Clock = () => bigint;

const epochOffset = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
export const systemClock: Clock = () => process.hrtime.bigint() + epochOffset;

type Piece = (message: PrintableMessage, ns: bigint) => Buffer | string;
export type Formatter = (message: PrintableMessage, ns: bigint) => Buffer;

const pad2 = (n: number): string => String(n).padStart(2, '0');
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'] as const;
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'] as const;

/** strftime's %z: +hhmm of local time. */
function zone(date: Date): string {
  const minutes = -date.getTimezoneOffset();
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${pad2(Math.floor(abs / 60))}${pad2(abs % 60)}`;
}

function dayOfYear(date: Date): number {
  const start = new Date(date.getFullYear(), 0, 1);
  return Math.floor((date.getTime() - start.getTime()) / 86_400_000) + 1;
}

/** The strftime conversions @X supports (local time, C locale). */
const STRFTIME: Readonly<Record<string, (date: Date) => string>> = {
  Y: (d) => String(d.getFullYear()),
  y: (d) => pad2(d.getFullYear() % 100),
  m: (d) => pad2(d.getMonth() + 1),
  d: (d) => pad2(d.getDate()),
  e: (d) => String(d.getDate()).padStart(2, ' '),
  H: (d) => pad2(d.getHours()),
  I: (d) => pad2(d.getHours() % 12 === 0 ? 12 : d.getHours() % 12),
  M: (d) => pad2(d.getMinutes()),
  S: (d) => pad2(d.getSeconds()),
  p: (d) => (d.getHours() < 12 ? 'AM' : 'PM'),
  j: (d) => String(dayOfYear(d)).padStart(3, '0'),
  a: (d) => DAYS[d.getDay()]?.slice(0, 3) ?? '',
  A: (d) => DAYS[d.getDay()] ?? '',
  b: (d) => MONTHS[d.getMonth()]?.slice(0, 3) ?? '',
  h: (d) => MONTHS[d.getMonth()]?.slice(0, 3) ?? '',
  B: (d) => MONTHS[d.getMonth()] ?? '',
  u: (d) => String(d.getDay() === 0 ? 7 : d.getDay()),
  w: (d) => String(d.getDay()),
  z: zone,
  s: (d) => String(Math.floor(d.getTime() / 1000)),
  F: (d) => `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`,
  T: (d) => `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`,
  R: (d) => `${pad2(d.getHours())}:${pad2(d.getMinutes())}`,
  D: (d) => `${pad2(d.getMonth() + 1)}/${pad2(d.getDate())}/${pad2(d.getFullYear() % 100)}`,
  n: () => '\n',
  t: () => '\t',
};

const ESCAPES: Readonly<Record<string, string>> = { '\\': '\\', '0': '\0', a: '\x07', e: '\x1b', n: '\n', r: '\r', t: '\t', v: '\x0b' };

const dateOf = (ns: bigint): Date => new Date(Number(ns / 1_000_000n));

/** 2016-08-10T09:47:38+0100 */
function isoSeconds(date: Date): string {
  return `${STRFTIME['F']?.(date)}T${STRFTIME['T']?.(date)}${zone(date)}`;
}

/** mosquitto's %j timestamp: 2020-05-06T22:12:00.000000Z+0100 (sic). */
function jsonTimestamp(ns: bigint): string {
  const date = dateOf(ns);
  const micros = String((ns / 1000n) % 1_000_000n).padStart(6, '0');
  return `${STRFTIME['F']?.(date)}T${STRFTIME['T']?.(date)}.${micros}Z${zone(date)}`;
}

/** JSON string escaping at the byte level, as cJSON does: bytes >= 0x80 stay raw. */
function jsonBytes(bytes: Buffer): Buffer {
  const out: number[] = [0x22];
  for (const byte of bytes) {
    if (byte === 0x22 || byte === 0x5c) out.push(0x5c, byte);
    else if (byte === 0x08) out.push(0x5c, 0x62);
    else if (byte === 0x0c) out.push(0x5c, 0x66);
    else if (byte === 0x0a) out.push(0x5c, 0x6e);
    else if (byte === 0x0d) out.push(0x5c, 0x72);
    else if (byte === 0x09) out.push(0x5c, 0x74);
    else if (byte < 0x20) out.push(...Buffer.from(`\\u${byte.toString(16).padStart(4, '0')}`));
    else out.push(byte);
  }
  out.push(0x22);
  return Buffer.from(out);
}

function isJson(bytes: Buffer): boolean {
  try {
    JSON.parse(bytes.toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

function jsonProperties(p: Properties | undefined): Buffer[] {
  if (p === undefined) return [];
  const parts: Buffer[] = [];
  const add = (key: string, value: Buffer | string | number): void => {
    const encoded = typeof value === 'number' ? String(value) : Buffer.isBuffer(value) ? jsonBytes(value) : JSON.stringify(value);
    parts.push(Buffer.concat([Buffer.from(`${JSON.stringify(key)}:`), typeof encoded === 'string' ? Buffer.from(encoded) : encoded]));
  };
  if (p.userProperties !== undefined && p.userProperties.length > 0) {
    const inner = p.userProperties.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',');
    parts.push(Buffer.from(`"user-properties":{${inner}}`));
  }
  if (p.contentType !== undefined) add('content-type', p.contentType);
  if (p.responseTopic !== undefined) add('response-topic', p.responseTopic);
  if (p.payloadFormatIndicator !== undefined) add('payload-format-indicator', p.payloadFormatIndicator);
  if (p.correlationData !== undefined) add('correlation-data', p.correlationData);
  if (p.messageExpiryInterval !== undefined) add('message-expiry-interval', p.messageExpiryInterval);
  return parts;
}

/** %j (payload quoted) and %J (payload must be JSON), mosquitto's field order. */
function jsonMessage(message: PrintableMessage, ns: bigint, quoted: boolean): Buffer {
  const { topic, qos, retain, payload } = message;
  let body: Buffer;
  if (payload.length === 0) body = Buffer.from('null');
  else if (quoted) body = jsonBytes(payload);
  else if (isJson(payload)) body = payload;
  else {
    process.stderr.write(`Error: Message payload is not valid JSON on topic ${topic}.\n`);
    return Buffer.alloc(0);
  }
  const head = `{"tst":"${jsonTimestamp(ns)}","topic":${JSON.stringify(topic)},"qos":${qos},"retain":${retain ? 1 : 0},"payloadlen":${payload.length},`;
  const props = jsonProperties(message.properties);
  const propsPart = props.length === 0 ? [] : [Buffer.from('"properties":{'), ...props.flatMap((part, i) => (i === 0 ? [part] : [Buffer.from(','), part])), Buffer.from('},')];
  return Buffer.concat([Buffer.from(head), ...propsPart, Buffer.from('"payload":'), body, Buffer.from('}')]);
}

interface Spec {
  readonly zero: boolean;
  readonly left: boolean;
  readonly width: number;
  readonly max: number | undefined;
}

const WIDTH_OK = new Set('ACEFIlmpRStxX');
const ZERO_OK = new Set('AEFlmSXx');
const MAX_OK = new Set('CIRt');

function applyWidth(value: Buffer | string, letter: string, spec: Spec): Buffer | string {
  let bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  if (spec.max !== undefined && MAX_OK.has(letter) && bytes.length > spec.max) bytes = bytes.subarray(0, spec.max);
  if (!WIDTH_OK.has(letter) || bytes.length >= spec.width) return bytes;
  const fill = Buffer.alloc(spec.width - bytes.length, spec.zero && !spec.left && ZERO_OK.has(letter) ? '0' : ' ');
  return spec.left ? Buffer.concat([bytes, fill]) : Buffer.concat([fill, bytes]);
}

const PARAMETERS: Readonly<Record<string, (m: PrintableMessage, ns: bigint) => Buffer | string>> = {
  t: (m) => m.topic,
  p: (m) => m.payload,
  q: (m) => String(m.qos),
  r: (m) => (m.retain ? '1' : '0'),
  l: (m) => String(m.payload.length),
  // The client library does not expose the packet identifier of a received PUBLISH.
  m: () => '0',
  x: (m) => m.payload.toString('hex'),
  X: (m) => m.payload.toString('hex').toUpperCase(),
  A: (m) => (m.properties?.topicAlias === undefined ? '' : String(m.properties.topicAlias)),
  C: (m) => m.properties?.contentType ?? '',
  D: (m) => m.properties?.correlationData ?? '',
  E: (m) => (m.properties?.messageExpiryInterval === undefined ? '' : String(m.properties.messageExpiryInterval)),
  F: (m) => (m.properties?.payloadFormatIndicator === undefined ? '' : String(m.properties.payloadFormatIndicator)),
  P: (m) => (m.properties?.userProperties ?? []).map(([k, v]) => `${k}:${v}`).join(' '),
  R: (m) => m.properties?.responseTopic ?? '',
  S: (m) => (m.properties?.subscriptionIdentifiers?.[0] === undefined ? '' : String(m.properties.subscriptionIdentifiers[0])),
  I: (_m, ns) => isoSeconds(dateOf(ns)),
  U: (_m, ns) => `${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`,
  j: (m, ns) => jsonMessage(m, ns, true),
  J: (m, ns) => jsonMessage(m, ns, false),
};

/** Compiles an -F format; throws CliError naming the first sequence moat does not support. */
export function compileFormat(format: string): Formatter {
  const pieces: Piece[] = [];
  let literal = '';
  const flush = (): void => {
    if (literal === '') return;
    const text = literal;
    pieces.push(() => text);
    literal = '';
  };
  for (let i = 0; i < format.length; i++) {
    const c = format[i] as string;
    if (c === '%') {
      const match = /^([0-]*)(\d*)(?:\.(\d+))?(.?)/.exec(format.slice(i + 1)) as RegExpExecArray;
      const [whole, flagChars = '', width = '', max, letter = ''] = match;
      i += whole.length;
      if (letter === '%') {
        literal += '%';
        continue;
      }
      const parameter = PARAMETERS[letter];
      if (parameter === undefined) {
        throw new CliError(`Error: -F: %${letter === '' ? ' at the end' : letter} is not a format parameter moat sub supports; supported: %% ${Object.keys(PARAMETERS).map((k) => `%${k}`).join(' ')}.`);
      }
      flush();
      const spec: Spec = { zero: flagChars.includes('0'), left: flagChars.includes('-'), width: width === '' ? 0 : Number(width), max: max === undefined ? undefined : Number(max) };
      pieces.push(spec.width === 0 && spec.max === undefined ? parameter : (m, ns) => applyWidth(parameter(m, ns), letter, spec));
    } else if (c === '@') {
      const letter = format[++i] ?? '';
      if (letter === '@') literal += '@';
      else if (letter === 'N') {
        flush();
        pieces.push((_m, ns) => String(ns % 1_000_000_000n).padStart(9, '0'));
      } else {
        const convert = STRFTIME[letter];
        if (convert === undefined) {
          throw new CliError(`Error: -F: @${letter === '' ? ' at the end' : letter} is not supported by moat sub; supported: @@ @N ${Object.keys(STRFTIME).map((k) => `@${k}`).join(' ')}.`);
        }
        flush();
        pieces.push((_m, ns) => convert(dateOf(ns)));
      }
    } else if (c === '\\') {
      const letter = format[++i] ?? '';
      const escaped = ESCAPES[letter];
      if (escaped === undefined) throw new CliError(`Error: -F: \\${letter} is not a supported escape; use \\\\ \\0 \\a \\e \\n \\r \\t or \\v.`);
      literal += escaped;
    } else {
      literal += c;
    }
  }
  flush();
  return (message, ns) => Buffer.concat(pieces.map((piece) => piece(message, ns)).map((part) => (typeof part === 'string' ? Buffer.from(part, 'utf8') : part)));
}

/** The default output: the payload alone; an empty payload prints nothing (not even the newline). */
export function plainFormatter(message: PrintableMessage): Buffer | undefined {
  return message.payload.length === 0 ? undefined : message.payload;
}

/** -v: "topic payload", "topic (null)" for an empty payload. */
export function verboseFormatter(message: PrintableMessage): Buffer {
  return Buffer.concat([Buffer.from(`${message.topic} `), message.payload.length === 0 ? Buffer.from('(null)') : message.payload]);
}

/** --json: one pretty-printed JSON document per message (moat's own format). */
export function jsonDocument(message: PrintableMessage, ns: bigint): string {
  const text = message.payload.toString('utf8');
  const utf8 = Buffer.from(text, 'utf8').equals(message.payload);
  const properties: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(message.properties ?? {})) {
    properties[key] = Buffer.isBuffer(value) ? { base64: value.toString('base64') } : value;
  }
  const document: Record<string, unknown> = {
    time: jsonTimestamp(ns),
    topic: message.topic,
    qos: message.qos,
    retain: message.retain,
    payloadLength: message.payload.length,
    ...(utf8 ? { payload: text } : { payloadBase64: message.payload.toString('base64') }),
  };
  if (Object.keys(properties).length > 0) document['properties'] = properties;
  return JSON.stringify(document, null, 2);
}
