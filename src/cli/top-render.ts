// `moat top`'s screen as a pure function: BrokerState (+ the time and the terminal's size) → lines.
// Styles are applied by a `paint` function the caller passes (util.styleText on a terminal, plain
// text in tests), so the layout is tested without a terminal and the I/O stays in top.ts.
import type { ClientView } from '../admin/shapes.js';
import type { BrokerState } from './broker-view.js';

export type Style = 'bold' | 'dim' | 'green' | 'yellow' | 'red' | 'inverse';
export type Paint = (style: Style, text: string) => string;
export const plainPaint: Paint = (_style, text) => text;

/** The bar turns yellow at this share of the limit, and red at the next. */
export const WARN_PERCENT = 80;
export const CRITICAL_PERCENT = 95;

export interface RenderOptions {
  readonly now: number;
  readonly width: number;
  readonly height: number;
  readonly paint?: Paint;
}

interface Segment {
  readonly text: string;
  readonly style?: Style;
}
type Line = Segment[];

const seg = (text: string, style?: Style): Segment => (style === undefined ? { text } : { text, style });

/** 1234567 → "1,234,567" (the grouping `moat capacity` prints too). */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** A rate with one decimal below 100, none above: "0.5", "12.3", "1,234". */
export function formatRate(n: number): string {
  return n < 100 ? n.toFixed(1) : formatCount(n);
}

/** Bytes in binary units: "512 B", "40.6 KiB", "1.2 MiB". */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** 93784 → "1d 02h 03m 04s". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const days = Math.floor(s / 86400);
  const pad = (n: number): string => String(n).padStart(2, '0');
  const hms = `${pad(Math.floor((s % 86400) / 3600))}h ${pad(Math.floor((s % 3600) / 60))}m ${pad(s % 60)}s`;
  return days > 0 ? `${days}d ${hms}` : hms;
}

/** The share of the limit in use, as a percentage; undefined without a known limit. */
export function usagePercent(connected: number | undefined, limit: number | undefined): number | undefined {
  if (connected === undefined || limit === undefined || limit <= 0) return undefined;
  return (connected / limit) * 100;
}

export function usageStyle(percent: number): Style {
  return percent >= CRITICAL_PERCENT ? 'red' : percent >= WARN_PERCENT ? 'yellow' : 'green';
}

/** "90%", "85.5%": one decimal only when it is not whole. */
export function formatPercent(percent: number): string {
  const rounded = Math.round(percent * 10) / 10;
  return `${Number.isInteger(rounded) ? rounded.toFixed(0) : rounded.toFixed(1)}%`;
}

/** `[||||||||||        ]`: `cells` wide inside the brackets, full at 100% (and past it). */
export function usageBar(percent: number, cells: number): string {
  const filled = Math.min(cells, Math.max(0, Math.round((percent / 100) * cells)));
  return `[${'|'.repeat(filled)}${' '.repeat(cells - filled)}]`;
}

/** Non-zero counts, largest first: "queue_full 3  expired 1". */
function byReason(counts: Readonly<Record<string, number>>): Segment[] {
  const entries = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  if (entries.length === 0) return [seg('  none by reason', 'dim')];
  return entries.flatMap(([reason, n]) => [seg('  '), seg(reason, 'dim'), seg(` ${formatCount(n)}`, 'yellow')]);
}

function label(text: string): Segment {
  return seg(text.padEnd(15), 'bold');
}

function connectionLines(state: BrokerState, width: number): Line[] {
  const lines: Line[] = [];
  const percent = usagePercent(state.connected, state.limit);
  const counts: Segment[] = [label('Connections')];
  if (state.connected === undefined) counts.push(seg('waiting for $SYS/broker/clients/connected', 'dim'));
  else if (state.limit === undefined) counts.push(seg(formatCount(state.connected), 'bold'));
  else counts.push(seg(`${formatCount(state.connected)} of ${formatCount(state.limit)}`, 'bold'));
  if (state.peak !== undefined) counts.push(seg(`   peak ${formatCount(state.peak)}`));
  if (state.sessions !== undefined) counts.push(seg(`   sessions ${formatCount(state.sessions)}`));
  lines.push(counts);
  if (percent !== undefined) {
    const cells = Math.max(10, Math.min(60, width - 40));
    const style = usageStyle(percent);
    const source = state.limitSource === undefined ? '' : `   limit from ${state.limitSource}`;
    lines.push([seg(' '.repeat(15)), seg(usageBar(percent, cells), style), seg(` ${formatPercent(percent)}`, style), seg(source, 'dim')]);
  } else if (state.connected !== undefined) {
    lines.push([seg(' '.repeat(15)), seg('limit unknown, pass --limit', 'yellow')]);
  }
  if (state.capacityAlert !== undefined) {
    lines.push([seg(' '.repeat(15)), seg('capacity alert: '), state.capacityAlert ? seg('ON', 'red') : seg('off', 'green')]);
  }
  return lines;
}

function trafficLines(state: BrokerState): Line[] {
  const { rates } = state;
  const rate = (n: number | undefined, unit: (v: number) => string): string => (n === undefined ? '-' : unit(n));
  const messages: Line = [label('Messages'), seg(`in ${rate(rates.messagesIn, formatRate)}/s   out ${rate(rates.messagesOut, formatRate)}/s`)];
  if (state.messagesReceived !== undefined || state.messagesSent !== undefined) {
    messages.push(seg(`   total in ${rate(state.messagesReceived, formatCount)}  out ${rate(state.messagesSent, formatCount)}`, 'dim'));
  }
  const bytes: Line = [label('Bytes')];
  if (state.bytesReceived === undefined && state.bytesSent === undefined && rates.bytesIn === undefined) {
    bytes.push(seg('not published by this broker', 'dim'));
  } else {
    bytes.push(seg(`in ${rate(rates.bytesIn, formatBytes)}/s   out ${rate(rates.bytesOut, formatBytes)}/s`));
    bytes.push(seg(`   total in ${rate(state.bytesReceived, formatBytes)}  out ${rate(state.bytesSent, formatBytes)}`, 'dim'));
  }
  const store: Line = [label('Subscriptions'), seg(rate(state.subscriptions, formatCount).padEnd(10)), seg('Retained '), seg(rate(state.retained, formatCount).padEnd(10))];
  if (state.heapBytes !== undefined) store.push(seg('Heap '), seg(formatBytes(state.heapBytes)));
  return [messages, bytes, store];
}

function lossLines(state: BrokerState): Line[] {
  const dropped: Line = [label('Dropped')];
  if (state.droppedTotal === undefined) dropped.push(seg('-', 'dim'));
  else dropped.push(seg(formatCount(state.droppedTotal), state.droppedTotal > 0 ? 'yellow' : undefined), ...byReason(state.dropped));
  const refused: Line = [label('Refused')];
  if (state.refusedTotal === undefined && Object.keys(state.refused).length === 0) refused.push(seg('not published by this broker', 'dim'));
  else {
    const total = state.refusedTotal ?? Object.values(state.refused).reduce((a, b) => a + b, 0);
    refused.push(seg(formatCount(total), total > 0 ? 'yellow' : undefined), ...byReason(state.refused));
  }
  return [dropped, refused];
}

const CLIENT_COLUMNS = [
  { title: 'CLIENT ID', width: 23 },
  { title: 'USER', width: 11 },
  { title: 'ADDRESS', width: 21 },
  { title: 'V', width: 2 },
  { title: 'UP', width: 12 },
  { title: 'SUBS', width: 5 },
  { title: 'INFL', width: 5 },
  { title: 'QUEUED', width: 7 },
  { title: 'DROP', width: 6 },
  { title: 'MSG IN', width: 8 },
  { title: 'MSG OUT', width: 8 },
] as const;

function cells(values: readonly string[]): string {
  return values
    .map((value, i) => {
      const width = CLIENT_COLUMNS[i]?.width ?? 8;
      const cut = value.length > width ? `${value.slice(0, width - 1)}~` : value;
      return i >= 5 ? cut.padStart(width) : cut.padEnd(width);
    })
    .join(' ');
}

/** Splits a sentence into lines of at most `width` columns at spaces (a longer word is cut). */
export function wrapWords(text: string, width: number): string[] {
  const room = Math.max(1, width);
  const lines: string[] = [];
  let current = '';
  for (const word of text.split(' ')) {
    if (current !== '' && current.length + 1 + word.length > room) {
      lines.push(current);
      current = '';
    }
    current = current === '' ? word : `${current} ${word}`;
    while (current.length > room) {
      lines.push(current.slice(0, room));
      current = current.slice(room);
    }
  }
  if (current !== '') lines.push(current);
  return lines;
}

function clientRow(client: ClientView, now: number): string {
  const since = Date.parse(client.connectedSince);
  const up = Number.isNaN(since) ? '-' : formatDuration((now - since) / 1000);
  const version = client.protocolVersion === 5 ? '5' : client.protocolVersion === 4 ? '4' : String(client.protocolVersion);
  return cells([
    client.id,
    client.username ?? '-',
    client.address ?? '-',
    version,
    up,
    formatCount(client.subscriptions),
    formatCount(client.inflight),
    formatCount(client.queued),
    formatCount(client.dropped),
    formatCount(client.messagesIn),
    formatCount(client.messagesOut),
  ]);
}

function clientLines(state: BrokerState, now: number, room: number, width: number): Line[] {
  const title = state.clientsTotal === undefined ? 'Busiest clients (by messages)' : `Busiest clients (by messages, ${formatCount(state.clientsTotal)} connected)`;
  const lines: Line[] = [[seg(title, 'bold')]];
  if (!state.admin.configured) {
    lines.push([seg('  per-client figures come from moat\'s admin API: pass --admin URL (and --admin-token)', 'dim')]);
    return lines;
  }
  if (state.admin.error !== undefined) for (const piece of wrapWords(state.admin.error, width - 2)) lines.push([seg(`  ${piece}`, 'red')]);
  if (state.clients === undefined) return lines;
  lines.push([seg(cells(CLIENT_COLUMNS.map((c) => c.title)), 'inverse')]);
  for (const client of state.clients.slice(0, Math.max(0, room - lines.length))) lines.push([seg(clientRow(client, now))]);
  return lines;
}

function headerLine(state: BrokerState): Line {
  const parts: Segment[] = [seg('moat top', 'bold'), seg(`  ${state.target}`)];
  if (state.version !== undefined) parts.push(seg(`  ${state.version}`));
  if (state.uptimeSeconds !== undefined) parts.push(seg(`  up ${formatDuration(state.uptimeSeconds)}`));
  return parts;
}

function footerLine(state: BrokerState, now: number): Line {
  const parts: Segment[] = [];
  if (state.lastUpdateAt === undefined) parts.push(seg('waiting for the first $SYS message (is sys_interval 0?)', 'dim'));
  else parts.push(seg(`$SYS updated ${Math.max(0, Math.round((now - state.lastUpdateAt) / 1000))} s ago`, 'dim'));
  parts.push(seg('   q quits', 'dim'));
  return parts;
}

/** Cuts a line to `width` columns (every character here is one column wide) and paints it. */
function finish(line: Line, width: number, paint: Paint): string {
  let room = width;
  let out = '';
  for (const { text, style } of line) {
    if (room <= 0) break;
    const piece = text.length > room ? text.slice(0, room) : text;
    room -= piece.length;
    out += style === undefined ? piece : paint(style, piece);
  }
  return out;
}

/** The whole screen: at most `height` lines, each at most `width` columns. */
export function renderTop(state: BrokerState, options: RenderOptions): string[] {
  const { now, width, height } = options;
  const paint = options.paint ?? plainPaint;
  // Connection trouble goes right under the header, whole (wrapped), because every figure below is now stale.
  const status: Line[] = state.status === undefined ? [] : wrapWords(`${state.status}; the figures below are from before`, width).map((piece) => [seg(piece, 'red')]);
  const top: Line[] = [headerLine(state), ...status, [], ...connectionLines(state, width), [], ...trafficLines(state), [], ...lossLines(state), []];
  const room = Math.max(0, height - top.length - 2);
  const lines: Line[] = [...top, ...clientLines(state, now, room, width).slice(0, Math.max(1, room)), [], footerLine(state, now)];
  return lines.slice(0, Math.max(1, height)).map((line) => finish(line, width, paint));
}
