// Flood: the abuse scenario's hostile client. It connects, then never reads its socket again while
// it writes one kind of packet as fast as the socket takes it — PINGREQ, QoS 1 PUBLISH (to a topic
// nobody subscribes to), or SUBSCRIBE to a filter matching a large retained message set beforehand —
// so every packet makes the broker owe it a reply it will not read. It stops by itself after
// durationMs (or earlier when told to) and closes its socket; the broker may close it first.
import { LeanClient } from '../lean-client.js';
import type { FloodKind } from '../options.js';
import { SENT } from '../pool.js';
import { payloadOf, publishConfirmed, type ClientGroupParams } from './common.js';
import type { RoleContext } from './context.js';

export interface FloodParams extends Omit<ClientGroupParams, 'clients'> {
  kind: FloodKind;
  /** publish: the topic flooded, matched by no subscriber. */
  topic: string;
  /** publish: payload bytes per PUBLISH. */
  size: number;
  /** resubscribe: the retained message every SUBSCRIBE asks for again. */
  retainedTopic: string;
  retainedSize: number;
  /** resubscribe: at most this many SUBSCRIBEs, which bounds the retained bytes the broker owes. */
  maxSubscribes: number;
  durationMs: number;
  /** Clear the retained message afterwards. */
  cleanup: boolean;
}

export interface FloodResult {
  /** Packets the kernel took from the hostile socket (not those still buffered in Node). */
  written: number;
  floodMs: number;
  /** Set when the broker closed the hostile connection first: ms after the flood began. */
  closedByBrokerMs: number | undefined;
}

const BATCH_BYTES = 8192;
const SETUP_TIMEOUT_MS = 10_000;

/** Offset of the packet id in a pre-encoded PUBLISH (QoS > 0) or SUBSCRIBE. */
function packetIdOffset(packet: Buffer): number {
  let i = 1;
  while (((packet[i] as number) & 0x80) !== 0) i++;
  i++;
  return (packet[0] as number) >> 4 === 3 ? i + 2 + packet.readUInt16BE(i) : i;
}

/**
 * Returns count copies of template in one Buffer. With idAt, each copy carries the next packet id
 * (1..65535, wrapping) and the Buffer is new (a written Buffer must not change); without, a full
 * batch is built once and written again and again.
 */
function batcher(template: Buffer, idAt: number | undefined): (count: number) => Buffer {
  const per = Math.max(1, Math.floor(BATCH_BYTES / template.length));
  const fixed = idAt === undefined ? Buffer.concat(Array.from({ length: per }, () => template)) : undefined;
  let id = 0;
  return (count) => {
    if (fixed !== undefined && count === per) return fixed;
    const out = Buffer.allocUnsafe(count * template.length);
    for (let k = 0; k < count; k++) {
      template.copy(out, k * template.length);
      if (idAt !== undefined) {
        id = id === 65535 ? 1 : id + 1;
        out.writeUInt16BE(id, k * template.length + idAt);
      }
    }
    return out;
  };
}

export async function runFlood(p: FloodParams, ctx: RoleContext): Promise<FloodResult> {
  const options = { target: p.target, protocol: p.protocol, keepalive: 0 };
  // A well-behaved client stores the retained message and, afterwards, clears it.
  const setup = p.kind === 'resubscribe' ? await LeanClient.connect({ ...options, clientId: `${p.clientPrefix}-setup` }) : undefined;
  if (setup !== undefined) {
    await publishConfirmed(setup, setup.encodePublish(p.retainedTopic, payloadOf(p.retainedSize), 1, true, 1), SETUP_TIMEOUT_MS, 'the retained message');
  }
  const hostile = await LeanClient.connect({ ...options, clientId: `${p.clientPrefix}-hostile` });
  // Never read again: once Node's small read buffer fills, the kernel's does, and the broker's
  // replies have nowhere to go but its own memory (or it stops reading this client).
  hostile.socket.pause();
  const template =
    p.kind === 'pingreq'
      ? Buffer.from([0xc0, 0x00])
      : p.kind === 'publish'
        ? hostile.encodePublish(p.topic, payloadOf(p.size), 1, false, 1)
        : hostile.encodeSubscribe(p.retainedTopic, 0, 1);
  const next = batcher(template, p.kind === 'pingreq' ? undefined : packetIdOffset(template));
  const per = Math.max(1, Math.floor(BATCH_BYTES / template.length));
  const limit = p.kind === 'resubscribe' ? p.maxSubscribes : Number.POSITIVE_INFINITY;
  await ctx.ready();

  const socket = hostile.socket;
  const start = performance.now();
  const startBytes = socket.bytesWritten;
  let closedAt: number | undefined;
  socket.once('close', () => (closedAt ??= performance.now() - start));
  let timer: NodeJS.Timeout | undefined;
  const ended = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, p.durationMs);
    void ctx.stopped.then(resolve);
    socket.once('close', () => resolve());
  });
  let handed = 0;
  while (!ctx.isStopped() && !hostile.closed && performance.now() - start < p.durationMs && handed < limit) {
    const n = Math.min(per, limit - handed);
    const ok = hostile.write(next(n));
    handed += n;
    ctx.counters[ctx.base + SENT] = handed;
    // Blocked: the broker stopped reading us. Otherwise yield, so 'stop' and 'close' get through.
    if (!ok) await Promise.race([hostile.drain(), ended]);
    else await new Promise((resolve) => setImmediate(resolve));
  }
  // Past the resubscribe cap the client stays connected, still not reading, until the end.
  await ended;
  clearTimeout(timer);
  const floodMs = performance.now() - start;
  const closedByBrokerMs = closedAt;
  const written = Math.floor((socket.bytesWritten - socket.writableLength - startBytes) / template.length);
  hostile.destroy();
  if (setup !== undefined) {
    if (p.cleanup) await publishConfirmed(setup, setup.encodePublish(p.retainedTopic, Buffer.alloc(0), 1, true, 1), SETUP_TIMEOUT_MS, 'clearing the retained message').catch(() => undefined);
    await setup.close();
  }
  return { written, floodMs, closedByBrokerMs };
}
