// Steps 4 and 5 with moat's own client (through the audit's probe): CONNECT, the CONNACK's reason
// code in the words of the one reason-code table, then a SUBSCRIBE + PUBLISH round trip on a probe
// topic of our own, where a broker's ACL shows itself: a SUBACK or PUBACK refusal, or (Mosquitto's
// way) a message that never arrives.
import { randomBytes } from 'node:crypto';
import { MqttError, type MqttClient } from '../client/index.js';
import { describeReason, formatReason } from '../codec/reason-codes.js';
import { probeConnect, within, type ProbeOptions } from '../audit/mqtt-probe.js';
import { elapsed, stage, type StageResult } from './stages.js';

export interface ConnectStep {
  readonly result: StageResult;
  /** The connected client, when CONNECT was accepted; the caller ends it. */
  readonly client: MqttClient | undefined;
}

/**
 * Where the table's remedy is about the code in general and CONNECT narrows it down. moat sends
 * 0x97 (3 to 3.1.1 clients) when a listener is at max_connections.
 */
const CONNECT_FIXES: Readonly<Record<number, string>> = {
  0x97: 'The broker is at a connection limit (moat: max_connections or global_max_connections): close idle clients, or raise the limit in the broker\'s config and reload.',
  0x88: 'The broker cannot take connections now: check that it is healthy (its log, /healthz of moat\'s admin listener), then retry with backoff.',
  0x89: 'The broker is overloaded: retry with exponential backoff and jitter; if it persists, raise max_connections or add capacity.',
  0x8a: 'This client (its id, user or address) is banned: ask the broker\'s administrator; reconnecting will not help.',
  0x9f: 'Clients connect faster than the broker allows (moat: max_connection_rate, max_connection_rate_per_address): reconnect with exponential backoff and jitter.',
};

export async function connectMqtt(url: string, options: ProbeOptions): Promise<ConnectStep> {
  const started = performance.now();
  const outcome = await probeConnect(url, { ...options, clientIdPrefix: 'moat-debug-' });
  const ms = elapsed(started);
  if (outcome.kind === 'accepted') {
    const version = outcome.client.protocolVersion === 5 ? '5' : '3.1.1';
    return { result: stage('connect', 'ok', ms, `CONNACK Success (MQTT ${version}) in ${ms} ms`, { protocolVersion: outcome.client.protocolVersion }), client: outcome.client };
  }
  if (outcome.kind === 'refused') {
    const info = describeReason(outcome.reasonCode, { packet: 'connack', protocolVersion: outcome.version });
    const details = { protocolVersion: outcome.version, reasonCode: outcome.reasonCode, reason: info.name };
    const codeText = outcome.version === 5 ? `0x${outcome.reasonCode.toString(16).toUpperCase().padStart(2, '0')}` : `return code ${outcome.reasonCode}`;
    let diagnosis = `The broker refused the CONNECT: CONNACK ${codeText} ${info.name}. ${info.meaning}`;
    const notAuthorized = outcome.version === 5 ? outcome.reasonCode === 0x87 : outcome.reasonCode === 5;
    if (notAuthorized && options.username !== undefined) {
      diagnosis += ' Mosquitto answers a wrong password this way too, so check the password first.';
    }
    if (outcome.version === 4 && outcome.reasonCode === 3) {
      diagnosis += ' moat sends this to 3.1.1 clients at max_connections or a connection rate limit (MQTT 5 clients get 0x97 or 0x9F).';
    }
    const fix = (outcome.version === 5 ? CONNECT_FIXES[outcome.reasonCode] : undefined) ?? info.remedy;
    return { result: stage('connect', 'failed', ms, `CONNACK ${codeText} ${info.name}`, details, { diagnosis, fix }), client: undefined };
  }
  const details = { error: outcome.message, code: outcome.errorCode, errno: outcome.errno };
  if (outcome.errorCode === 'MOAT_ERR_CONNECT_TIMEOUT') {
    return {
      result: stage('connect', 'failed', ms, `no CONNACK within ${options.timeoutMs} ms`, details, {
        diagnosis: `The connection opened, but no CONNACK came within ${options.timeoutMs} ms: whatever listens on that port does not speak MQTT (an HTTP server, a TLS port reached with mqtt://, a WebSocket listener reached without ws://), or the broker is stalled.`,
        fix: 'Check the port and the scheme (mqtt://, mqtts://, ws://, wss://) against the broker\'s listener lines; if it is the broker, look at its log and load.',
      }),
      client: undefined,
    };
  }
  if (/closed the connection before sending CONNACK/.test(outcome.message)) {
    return {
      result: stage('connect', 'failed', ms, 'the broker closed the connection without a CONNACK', details, {
        diagnosis: 'The broker closed the connection without answering CONNECT. Mosquitto does this when the listener is at max_connections; brokers also close silently on a CONNECT they will not parse, and a TLS listener that requires a client certificate drops clients that sent none.',
        fix: 'Look in the broker\'s log at this time. For Mosquitto at its limit: close idle clients or raise max_connections in mosquitto.conf; for a certificate listener: pass --cert and --key.',
      }),
      client: undefined,
    };
  }
  return {
    result: stage('connect', 'failed', ms, outcome.message, details, {
      diagnosis: `The MQTT connection failed: ${outcome.message}`,
      fix: 'Check the host, the port and the scheme; the steps above passed, so look at the broker\'s log for this client.',
    }),
    client: undefined,
  };
}

/** "moat/debug/<16 hex>" under `prefix`: no other client publishes there. */
export function probeTopic(prefix = 'moat/debug'): string {
  return `${prefix.replace(/\/+$/, '')}/${randomBytes(8).toString('hex')}`;
}

function aclFix(topic: string, username: string | undefined): string {
  const filter = topic.replace(/\/[^/]*$/, '/#');
  return username === undefined
    ? `Grant the probe topic in the broker's acl_file (anonymous clients: topic readwrite ${filter} before any user line), or debug with a topic this client may use: --probe-prefix PREFIX.`
    : `Grant it in the broker's acl_file:\nuser ${username}\ntopic readwrite ${filter}\n(or debug with a topic this user may use: --probe-prefix PREFIX)`;
}

/** Subscribes to `topic`, publishes one QoS 1 message there and waits for it to come back. */
export async function roundTrip(client: MqttClient, topic: string, timeoutMs: number, username?: string): Promise<StageResult> {
  const started = performance.now();
  const version = client.protocolVersion === 5 ? 5 : 4;
  const payload = `moat debug ${randomBytes(4).toString('hex')}`;
  let arrivedAt: number | undefined;
  let markArrived = (): void => undefined;
  const arrived = new Promise<void>((resolve) => (markArrived = resolve));
  const off = client.onMessage((message) => {
    if (message.topic === topic && message.payload.toString('utf8') === payload) {
      arrivedAt ??= performance.now();
      markArrived();
    }
  });
  try {
    const codes = await within(client.subscribe(topic, { qos: 1 }).catch((error: unknown) => error as Error), timeoutMs);
    if (codes === undefined || codes instanceof Error) {
      const why = codes === undefined ? `no SUBACK within ${timeoutMs} ms` : codes.message;
      return stage('roundtrip', 'failed', elapsed(started), `SUBSCRIBE ${topic}: ${why}`, { topic }, {
        diagnosis: `The broker did not answer the SUBSCRIBE to ${topic} (${why}).`,
        fix: 'Look in the broker\'s log for this client; a broker that closes the connection on a SUBSCRIBE it refuses does so for an ACL or a malformed filter.',
      });
    }
    const code = codes[0] ?? 0x80;
    if (code >= 0x80) {
      const words = formatReason(code, { packet: 'suback', protocolVersion: version });
      return stage('roundtrip', 'failed', elapsed(started), `SUBACK ${words.split(':')[0] ?? ''}: subscribe refused`, { topic, subackCode: code }, {
        diagnosis: `The broker refused the SUBSCRIBE to ${topic}: SUBACK ${words} The ACL does not let ${username === undefined ? 'anonymous clients' : `user "${username}"`} read ${topic}.`,
        fix: aclFix(topic, username),
      });
    }
    const sentAt = performance.now();
    try {
      const acked = await within(client.publish(topic, payload, { qos: 1 }).then(() => true), timeoutMs);
      if (acked === undefined) {
        return stage('roundtrip', 'failed', elapsed(started), `PUBLISH ${topic}: no PUBACK within ${timeoutMs} ms`, { topic, grantedQos: code }, {
          diagnosis: `The broker took the SUBSCRIBE but sent no PUBACK for the QoS 1 PUBLISH within ${timeoutMs} ms: it is stalled or overloaded.`,
          fix: 'Look at the broker\'s load and log (moat top, moat capacity check); retry with a larger --timeout on a slow link.',
        });
      }
    } catch (error) {
      if (!(error instanceof MqttError) || error.reasonCode === undefined) throw error;
      const words = formatReason(error.reasonCode, { packet: 'puback', protocolVersion: version });
      const acl = error.reasonCode === 0x87;
      return stage('roundtrip', 'failed', elapsed(started), `PUBACK ${words.split(':')[0] ?? ''}: publish refused`, { topic, grantedQos: code, pubackCode: error.reasonCode }, {
        diagnosis: `The broker refused the PUBLISH to ${topic}: PUBACK ${words}${acl ? ` The ACL does not let ${username === undefined ? 'anonymous clients' : `user "${username}"`} write ${topic}.` : ''}`,
        fix: acl ? aclFix(topic, username) : describeReason(error.reasonCode, { packet: 'puback' }).remedy,
      });
    }
    await within(arrived, timeoutMs);
    if (arrivedAt === undefined) {
      return stage('roundtrip', 'failed', elapsed(started), `the message published on ${topic} never arrived (${timeoutMs} ms)`, { topic, grantedQos: code }, {
        diagnosis: `SUBSCRIBE and PUBLISH to ${topic} were both acknowledged, but the message never came back within ${timeoutMs} ms: the publish or the subscription was silently denied by the ACL (Mosquitto grants the SUBSCRIBE and drops what the ACL forbids without telling the client).`,
        fix: aclFix(topic, username),
      });
    }
    const latency = Math.round(arrivedAt - sentAt);
    return stage('roundtrip', 'ok', elapsed(started), `${topic}: SUBACK QoS ${code}, PUBACK, delivered in ${latency} ms`, { topic, grantedQos: code, latencyMs: latency });
  } finally {
    off();
    await within(client.unsubscribe(topic).catch(() => undefined), timeoutMs);
  }
}
