// Publishers. QoS 0: a batch of K pre-encoded copies is written as one Buffer while the socket
// accepts it (write() false → wait for 'drain'), optionally capped by a rate and by how far the
// publishers may run ahead of what subscribers have received (so no broker queue explodes; the
// unpaced scenarios pass no pace, to see what a broker does when producers outrun consumers).
// QoS 1: each client keeps `window` pre-encoded PUBLISH (ids 1..window) in flight and re-sends an
// id's copy when its PUBACK arrives.
import type { LeanClient } from '../lean-client.js';
import { ACKED, SENT } from '../pool.js';
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
  let scheduled = false;
  const pacer = new Pacer(p, counters);
  const allowance = (): number => pacer.allowance(sent, performance.now() - start);

  return new Promise<PublishResult>((resolve) => {
    const loop = (): void => {
      scheduled = false;
      if (ctx.isStopped()) {
        resolve({ sent, acked: 0, pacedAsLost: pacer.lost, window: 0 });
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
  const pacer = new Pacer(p, counters);
  const start = performance.now();
  let sent = 0;
  let acked = 0;
  let window = p.window;
  for (const c of clients) window = Math.min(window, c.receiveMaximum);
  const copies = clients.map((c, i) => Array.from({ length: window }, (_, id) => c.encodePublish(topics[i] as string, payload, 1, false, id + 1)));
  // Ids whose PUBACK came back but which the pacer held: re-sent by the 1 ms poll.
  const free: number[][] = clients.map(() => []);
  let polling: NodeJS.Timeout | undefined;

  const send = (i: number): void => {
    const client = clients[i] as LeanClient;
    const ids = free[i] as number[];
    if (ctx.isStopped() || ids.length === 0) return;
    const n = Math.min(ids.length, pacer.allowance(sent, performance.now() - start));
    if (n <= 0) {
      polling ??= setTimeout(poll, 1);
      return;
    }
    const own = copies[i] as Buffer[];
    client.socket.cork();
    for (const id of ids.splice(0, n)) client.write(own[id - 1] as Buffer);
    client.socket.uncork();
    sent += n;
    counters[base + SENT] = sent;
    if (ids.length > 0) polling ??= setTimeout(poll, 1);
  };
  const poll = (): void => {
    polling = undefined;
    for (let i = 0; i < clients.length; i++) send(i);
  };
  clients.forEach((client, i) => {
    (free[i] as number[]).push(...Array.from({ length: window }, (_, id) => id + 1));
    client.onAcks = (ids) => {
      acked += ids.length;
      counters[base + ACKED] = acked;
      (free[i] as number[]).push(...ids);
      send(i);
    };
  });
  poll();
  await ctx.stopped;
  clearTimeout(polling);
  // Let the last window come back so "acked" is complete (bounded: 3 s).
  const deadline = Date.now() + 3000;
  while (acked < sent && Date.now() < deadline && !clients.every((c) => c.closed)) await sleep(10);
  return { sent, acked, pacedAsLost: pacer.lost, window };
}

/**
 * Caps how many messages may go out now: by the rate, and by how far publishers are ahead of what
 * subscribers have received. If delivery stalls for 200 ms while capped, the outstanding messages
 * are counted as lost (the broker dropped them) so a dropping broker cannot stall the run.
 */
class Pacer {
  lost = 0;
  readonly #p: PublishParams;
  readonly #counters: Float64Array;
  #lastDelivered = -1;
  #stalledSince = 0;

  constructor(p: PublishParams, counters: Float64Array) {
    this.#p = p;
    this.#counters = counters;
  }

  allowance(sent: number, elapsedMs: number): number {
    let a = Number.POSITIVE_INFINITY;
    if (this.#p.rate > 0) a = Math.floor((elapsedMs * this.#p.rate) / 1000) - sent;
    const pace = this.#p.pace;
    if (pace !== undefined) {
      let delivered = 0;
      for (const s of pace.slots) delivered += this.#counters[s] ?? 0;
      const ahead = sent * pace.factor - delivered - this.lost;
      const limit = pace.ahead * pace.factor;
      if (ahead >= limit) {
        const now = performance.now();
        if (delivered !== this.#lastDelivered) {
          this.#lastDelivered = delivered;
          this.#stalledSince = now;
        } else if (now - this.#stalledSince > 200) {
          this.lost += ahead;
          this.#stalledSince = now;
        }
        return 0;
      }
      a = Math.min(a, Math.floor((limit - ahead) / pace.factor));
    }
    return Math.max(0, a);
  }
}
