// Publishers. QoS 0: a batch of K pre-encoded copies is written as one Buffer while the socket
// accepts it (write() false → wait for 'drain'), optionally capped by a rate and by how far the
// publishers may run ahead of what subscribers have received (so no broker queue explodes).
// QoS 1: each client keeps `window` pre-encoded PUBLISH (ids 1..window) in flight and re-sends an
// id's copy when its PUBACK arrives.
import type { LeanClient } from '../lean-client.js';
import { ACKED, RECEIVED, SENT } from '../pool.js';
import { closeGroup, connectGroup, payloadOf, type ClientGroupParams } from './common.js';
import { sleep, type RoleContext } from './context.js';

export interface PaceParams {
  /** Absolute counter indices whose sum is "delivered so far". */
  slots: number[];
  /** Deliveries expected per publish (subscribers matching). */
  factor: number;
  /** Messages the publishers may be ahead of the slowest delivery, per subscriber. */
  ahead: number;
}

export interface PublishParams extends ClientGroupParams {
  /** `{i}` is replaced by the client index. */
  topic: string;
  size: number;
  qos: 0 | 1;
  window: number;
  /** Total messages/s over all clients; 0 = as fast as the broker takes them. */
  rate: number;
  pace?: PaceParams;
}

export interface PublishResult {
  sent: number;
  acked: number;
  /** Messages given up on by pacing (delivery stalled 200 ms): the broker dropped or lost them. */
  pacedAsLost: number;
  window: number;
}

const BATCH_BYTES = 8192;

export async function runPublish(p: PublishParams, ctx: RoleContext): Promise<PublishResult> {
  const clients = await connectGroup(p);
  const payload = payloadOf(p.size);
  const topics = clients.map((_, i) => p.topic.replaceAll('{i}', String(i)));
  await ctx.ready();
  const result = p.qos === 1 ? await publishQos1(p, ctx, clients, topics, payload) : await publishQos0(p, ctx, clients, topics, payload);
  await closeGroup(clients);
  return result;
}

async function publishQos0(p: PublishParams, ctx: RoleContext, clients: LeanClient[], topics: string[], payload: Buffer): Promise<PublishResult> {
  const { counters, base } = ctx;
  const singles = clients.map((c, i) => c.encodePublish(topics[i] as string, payload, 0));
  const packetLength = (singles[0] as Buffer).length;
  const k = Math.max(1, Math.floor(BATCH_BYTES / packetLength));
  const batches = singles.map((s) => Buffer.concat(Array.from({ length: k }, () => s)));
  const blocked = clients.map(() => false);
  const start = performance.now();
  let sent = 0;
  let lost = 0;
  let lastDelivered = -1;
  let stalledSince = 0;
  let scheduled = false;

  // How many messages may go out now (rate cap and run-ahead cap), never negative.
  const allowance = (): number => {
    let a = Number.POSITIVE_INFINITY;
    if (p.rate > 0) a = Math.floor(((performance.now() - start) * p.rate) / 1000) - sent;
    const pace = p.pace;
    if (pace !== undefined) {
      let delivered = 0;
      for (const s of pace.slots) delivered += counters[s] ?? 0;
      const ahead = sent * pace.factor - delivered - lost;
      const limit = pace.ahead * pace.factor;
      if (ahead >= limit) {
        const now = performance.now();
        if (delivered !== lastDelivered) {
          lastDelivered = delivered;
          stalledSince = now;
        } else if (now - stalledSince > 200) {
          lost += ahead; // nothing arrives any more: the broker dropped these
          stalledSince = now;
        }
        return 0;
      }
      a = Math.min(a, Math.floor((limit - ahead) / pace.factor));
    }
    return Math.max(0, a);
  };

  return new Promise<PublishResult>((resolve) => {
    const loop = (): void => {
      scheduled = false;
      if (ctx.isStopped()) {
        resolve({ sent, acked: 0, pacedAsLost: lost, window: 0 });
        return;
      }
      let open = 0;
      for (let i = 0; i < clients.length; i++) {
        if (blocked[i] === true) continue;
        const client = clients[i] as LeanClient;
        // A few batches per client per turn, then yield so reads (and other clients) get a go.
        for (let j = 0; j < 4; j++) {
          const a = allowance();
          if (a <= 0) break;
          const n = Math.min(a, k);
          const ok = client.write(n === k ? (batches[i] as Buffer) : (batches[i] as Buffer).subarray(0, n * packetLength));
          sent += n;
          counters[base + SENT] = sent;
          if (!ok) {
            blocked[i] = true;
            void client.drain().then(() => {
              blocked[i] = false;
              kick(0);
            });
            break;
          }
        }
        if (blocked[i] !== true) open++;
      }
      // All blocked: a drain will kick. Capped by rate/pace: poll again in 1 ms.
      if (open > 0) kick(allowance() > 0 ? 0 : 1);
    };
    const kick = (ms: number): void => {
      if (scheduled) return;
      scheduled = true;
      if (ms === 0) setImmediate(loop);
      else setTimeout(loop, ms);
    };
    void ctx.stopped.then(() => kick(0));
    kick(0);
  });
}

async function publishQos1(p: PublishParams, ctx: RoleContext, clients: LeanClient[], topics: string[], payload: Buffer): Promise<PublishResult> {
  const { counters, base } = ctx;
  let sent = 0;
  let acked = 0;
  let window = p.window;
  for (const c of clients) window = Math.min(window, c.receiveMaximum);
  const copies = clients.map((c, i) => Array.from({ length: window }, (_, id) => c.encodePublish(topics[i] as string, payload, 1, false, id + 1)));
  clients.forEach((client, i) => {
    const own = copies[i] as Buffer[];
    client.onAcks = (ids) => {
      acked += ids.length;
      counters[base + ACKED] = acked;
      if (ctx.isStopped()) return;
      client.socket.cork();
      for (const id of ids) {
        const copy = own[id - 1];
        if (copy !== undefined) client.write(copy);
      }
      client.socket.uncork();
      sent += ids.length;
      counters[base + SENT] = sent;
    };
    client.socket.cork();
    for (const copy of own) client.write(copy);
    client.socket.uncork();
    sent += own.length;
  });
  counters[base + SENT] = sent;
  await ctx.stopped;
  // Let the last window come back so "acked" is complete (bounded: 3 s).
  const deadline = Date.now() + 3000;
  while (acked < sent && Date.now() < deadline && !clients.every((c) => c.closed)) await sleep(10);
  counters[base + RECEIVED] = 0;
  return { sent, acked, pacedAsLost: 0, window };
}
