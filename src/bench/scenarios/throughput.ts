// fanin, fanout and qos1 share one shape: subscribers on a filter, publishers on matching topics,
// a warm-up, a measured window, then loss counted after stragglers settle. Paced, publishers stay
// `ahead` messages in front of delivery; unpaced (the -unpaced variants), only their own in-flight
// window (QoS 1) or socket (QoS 0) holds them back, so what the broker accepts beyond what it can
// deliver shows up as loss.
import { ACKED, Counters, RECEIVED, RoleHandle, SENT } from '../pool.js';
import type { ResolvedBenchOptions } from '../options.js';
import type { BenchResult } from '../result.js';
import type { PublishParams, PublishResult } from '../roles/publish.js';
import type { SubscribeParams, SubscribeResult } from '../roles/subscribe.js';
import { allReady, brokerOf, generatorOf, measure, saturationWarnings, settle, type RunEnv } from '../timed.js';

export interface ThroughputShape {
  /** Topic per publisher; `{i}` is the publisher index. */
  topic: string;
  filter: string;
  /** Subscribers each publish reaches. */
  factor: number;
  /** The paced headline name, e.g. "received" (fanin) or "deliveries" (fanout); unpaced: "delivered". */
  headline: string;
}

export async function runThroughput(o: ResolvedBenchOptions, env: RunEnv, shape: ThroughputShape): Promise<BenchResult> {
  const counters = new Counters();
  const group = { target: o.target, protocol: o.protocol };
  const subParams: SubscribeParams = { ...group, target: o.subscriberTarget, clients: o.subscribers, clientPrefix: `bench-${o.runId}-sub`, filter: shape.filter, qos: o.qos, persistent: o.persistentSubscribers };
  const subs = new RoleHandle<SubscribeResult>(counters, 'subscribe', subParams);
  await allReady([subs], 'connecting subscribers');
  const pubParams: PublishParams = {
    ...group,
    targets: o.publisherTargets,
    clients: o.publishers,
    clientPrefix: `bench-${o.runId}-pub`,
    topic: shape.topic,
    size: o.size,
    qos: o.qos,
    window: o.window,
    rate: o.rate,
    ...(o.unpaced ? {} : { pace: { slots: [subs.base + RECEIVED], factor: shape.factor, ahead: o.ahead } }),
  };
  const pubs = new RoleHandle<PublishResult>(counters, 'publish', pubParams);
  await allReady([pubs, subs], 'connecting publishers');
  subs.send('go');
  pubs.send('go');

  const received = (): number => counters.get(subs.base, RECEIVED);
  const sent = (): number => counters.get(pubs.base, SENT);
  const acked = (): number => counters.get(pubs.base, ACKED);
  const unit = `${o.unpaced ? 'delivered' : shape.headline}/s`;
  let window;
  try {
    window = await measure(o, env, `${o.scenario} ${o.url}`, [received, sent, acked], received, unit);
  } catch (error) {
    pubs.terminate();
    subs.terminate();
    throw error;
  }
  const pub = await pubs.stop();
  // What the broker took responsibility for: QoS 1 what it acknowledged, QoS 0 what was sent.
  const accepted = o.qos === 1 ? pub.acked : pub.sent;
  const expected = accepted * shape.factor;
  // Unpaced, a broker may hold thousands of queued messages when publishers stop: let them drain.
  const SETTLE_MS = 10_000;
  const settled = await settle(received, 300, SETTLE_MS, expected);
  const sub = await subs.stop();

  const seconds = window.ms / 1000;
  const [dReceived = 0, dSent = 0, dAcked = 0] = window.deltas;
  const lost = Math.max(0, expected - sub.received);
  const lossPercent = (100 * lost) / Math.max(1, expected);
  const values: BenchResult['values'] = {
    [unit]: { value: dReceived / seconds, unit, higherIsBetter: true },
    'published/s': { value: dSent / seconds, unit: 'msg/s', higherIsBetter: true },
  };
  if (o.qos === 1) values['publisher acks/s'] = { value: dAcked / seconds, unit: 'acks/s', higherIsBetter: true };
  if (o.unpaced) {
    // Beside the rates: an unpaced broker that acknowledges faster than it delivers shows it here.
    values['loss'] = { value: lost, unit: 'msgs', higherIsBetter: false };
    values['loss %'] = { value: lossPercent, unit: '%', higherIsBetter: false };
  }
  const warnings = saturationWarnings(window.cpu, 2);
  if (lost > 0) warnings.push(`${lost.toLocaleString('en-US')} of ${expected.toLocaleString('en-US')} ${o.qos === 1 ? 'acknowledged' : 'sent'} deliveries never arrived (${lossPercent.toFixed(2)}%)`);
  if (!settled) {
    // QoS 0 fan-out can leave MBs in socket buffers (millions of deliveries): not lost, not yet delivered.
    warnings.push(`deliveries were still arriving when the count was taken ${SETTLE_MS / 1000} s after the publishers stopped: loss includes messages still queued in the broker or in socket buffers`);
  }
  if (sub.received > expected) {
    warnings.push(`subscribers received ${(sub.received - expected).toLocaleString('en-US')} more than expected: unacknowledged messages delivered, or other traffic on ${shape.filter}`);
  }
  if (sub.duplicates > 0) warnings.push(`${sub.duplicates.toLocaleString('en-US')} DUP resend(s) of messages already received (not counted as deliveries)`);
  if (sub.disconnected > 0) warnings.push(`${sub.disconnected} subscriber(s) were disconnected by the broker`);
  return {
    scenario: o.scenario,
    url: o.url,
    protocol: o.protocol,
    settings: {
      publishers: o.publishers,
      subscribers: o.subscribers,
      size: o.size,
      qos: o.qos,
      ...(o.qos === 1 ? { window: pub.window } : {}),
      ...(o.unpaced ? { pacing: 'none' } : { ahead: o.ahead }),
      ...(o.rate > 0 ? { rate: o.rate } : {}),
      filter: shape.filter.replace(o.runId, '<run>'),
      duration: o.durationMs / 1000,
    },
    values,
    details: {
      sent: pub.sent,
      received: sub.received,
      // Unpaced, loss is among the values (beside the rates) already.
      ...(o.unpaced ? {} : { lost, 'loss %': lossPercent }),
      ...(o.qos === 1 ? { acked: pub.acked, duplicates: sub.duplicates } : {}),
      settled,
      ...(o.unpaced ? {} : { 'paced as lost': pub.pacedAsLost }),
      ...(o.subscribers > 1 ? { 'min per subscriber': sub.minPerClient, 'max per subscriber': sub.maxPerClient } : {}),
    },
    generator: generatorOf(window.cpu),
    broker: brokerOf(o, window.cpu, window.rssPeakKb),
    measuredMs: window.ms,
    warnings,
  };
}
