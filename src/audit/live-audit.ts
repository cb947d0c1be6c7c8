// `moat audit URL`: probes a running broker (moat, Mosquitto or any other) from the outside, the
// way an attacker would: public broker? TLS and its certificate? anonymous login? a plain-text
// port next to the TLS one? can this identity read everyone's traffic, or $SYS?
import { randomBytes } from 'node:crypto';
import type { MqttClient } from '../client/index.js';
import { MqttError } from '../client/index.js';
import { formatReason } from '../codec/reason-codes.js';
import { isLoopbackHost } from '../config/index.js';
import { AuditError, finding, type Finding } from './findings.js';
import { closeQuietly, isAuthRefusal, probeConnect, within, type ConnectOutcome, type ProbeOptions } from './mqtt-probe.js';
import { publicBrokerName } from './public-brokers.js';
import { DEFAULT_PORTS, parseTarget, type Target } from './target.js';
import { belowTls12, inspectTls, tlsFindings } from './tls-probe.js';

export { parseTarget } from './target.js';

export interface LiveAuditOptions {
  readonly url: string;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  /** PEM contents of --cafile. */
  readonly ca?: string | undefined;
  /** Per connection and per request. */
  readonly timeoutMs: number;
  /** Where to look for plain-text MQTT next to an mqtts:// or wss:// target; default 1883. */
  readonly plainPort?: number | undefined;
  /** How long to wait for a probe message or a $SYS message; default 2000 ms. */
  readonly waitMs?: number;
}

/** Who the read checks run as: the -u user, or anonymous when the broker let that in. */
interface Identity {
  readonly client: MqttClient;
  readonly who: string;
  readonly anonymous: boolean;
  readonly options: ProbeOptions;
}

export async function auditBroker(options: LiveAuditOptions): Promise<Finding[]> {
  const target = parseTarget(options.url);
  // Before any connection: a public broker gets nothing from us, not even a CONNECT.
  const known = publicBrokerName(target.host);
  if (known !== undefined) {
    return [finding('public-broker', 'critical', `${known} is a public MQTT broker`,
      'Anyone on the internet can connect, subscribe to # and read every message, and publish to your topics. The audit sent nothing to it.',
      'moat broker -c /etc/moat/moat.conf (your own broker; check its config with: moat audit --config /etc/moat/moat.conf)')];
  }
  const findings: Finding[] = [finding('public-broker', 'ok', `${target.host} is not a known public broker`, '')];
  const credentials = options.username !== undefined;
  if (target.tls) {
    const facts = await inspectTls(target.host, target.port, { ca: options.ca, timeoutMs: options.timeoutMs });
    findings.push(...tlsFindings(target.url, target.host, facts, options.ca !== undefined));
    if (belowTls12(facts.protocol)) {
      // moat's client will not speak TLS < 1.2, so the MQTT checks cannot run; the TLS verdict stands.
      findings.push(finding('mqtt-checks', 'info', 'MQTT checks skipped', `moat's client refuses ${facts.protocol ?? 'this TLS version'}; fix TLS first, then audit again.`));
      return findings;
    }
  } else {
    findings.push(plainTransport(target, credentials));
  }

  const base: ProbeOptions = { timeoutMs: options.timeoutMs, ca: options.ca };
  const open: MqttClient[] = [];
  try {
    const anonymous = await probeConnect(target.url, base);
    if (anonymous.kind === 'failed') throw new AuditError(`cannot reach the broker at ${target.url}: ${anonymous.message}`);
    if (anonymous.kind === 'accepted') open.push(anonymous.client);
    findings.push(anonymousFinding(anonymous));

    let identity: Identity | undefined;
    if (credentials) {
      const user = options.username ?? '';
      const withUser: ProbeOptions = { ...base, username: options.username, password: options.password };
      const outcome = await probeConnect(target.url, withUser);
      if (outcome.kind === 'accepted') {
        open.push(outcome.client);
        identity = { client: outcome.client, who: `user "${user}"`, anonymous: false, options: withUser };
        findings.push(finding('credentials', 'ok', `User "${user}" logged in`, ''));
      } else {
        findings.push(finding('credentials', 'warning', `The broker did not let user "${user}" in`,
          outcome.kind === 'refused' ? `CONNACK ${outcome.words}` : outcome.message,
          `check the password; to set a new one: moat passwd /etc/moat/passwd ${user}`));
      }
    } else if (anonymous.kind === 'accepted') {
      identity = { client: anonymous.client, who: 'an anonymous client', anonymous: true, options: base };
    }

    if (target.tls) findings.push(await plainPortFinding(target, options));

    if (identity === undefined) {
      const why = credentials ? 'the given user could not log in' : 'anonymous clients are refused; pass -u USER -P PASSWORD to audit what a user can read';
      findings.push(finding('read-all', 'info', 'Subscribe checks skipped', why));
    } else {
      const waitMs = options.waitMs ?? 2000;
      findings.push(await readAllFinding(target, identity, options.timeoutMs, waitMs));
      findings.push(await sysFinding(identity, options.timeoutMs, waitMs));
    }
  } finally {
    await Promise.all(open.map((client) => closeQuietly(client)));
  }
  return findings;
}

const TLS_FIX = 'listener 8883\ncertfile /etc/moat/certs/server.crt\nkeyfile /etc/moat/certs/server.key\n(then connect with mqtts://HOST:8883)';

function plainTransport(target: Target, credentials: boolean): Finding {
  if (isLoopbackHost(target.host) || target.host === 'localhost') {
    return finding('tls', 'info', `${target.scheme}:// without TLS, on this machine`, 'Fine for clients on this machine; clients elsewhere need mqtts:// or wss://.');
  }
  return credentials
    ? finding('tls', 'critical', `Passwords sent to ${target.urlHost}:${target.port} travel in plain text`, `${target.scheme}:// has no TLS: anyone on the network path reads every username, password and message.`, TLS_FIX)
    : finding('tls', 'warning', `Messages to ${target.urlHost}:${target.port} travel in plain text`, `${target.scheme}:// has no TLS: anyone on the network path reads and alters every message.`, TLS_FIX);
}

function anonymousFinding(outcome: ConnectOutcome): Finding {
  if (outcome.kind === 'accepted') {
    return finding('anonymous-access', 'critical', 'The broker accepts clients without a username or password',
      'An anonymous CONNECT was accepted: anyone who can reach the port can read and publish whatever the ACL allows anonymous clients.',
      'allow_anonymous false\npassword_file /etc/moat/passwd');
  }
  if (outcome.kind === 'refused' && isAuthRefusal(outcome)) {
    return finding('anonymous-access', 'ok', 'Anonymous clients are refused', `CONNACK ${outcome.words}`);
  }
  return finding('anonymous-access', 'info', 'The anonymous connection was refused for another reason', outcome.kind === 'refused' ? `CONNACK ${outcome.words}` : '');
}

async function plainPortFinding(target: Target, options: LiveAuditOptions): Promise<Finding> {
  const port = options.plainPort ?? DEFAULT_PORTS.mqtt;
  const url = `mqtt://${target.urlHost}:${port}`;
  const outcome = await probeConnect(url, { timeoutMs: Math.min(options.timeoutMs, 3000) });
  if (outcome.kind === 'failed') {
    return finding('plaintext-port', 'ok', `No plain-text MQTT on port ${port}`, outcome.errno === undefined ? outcome.message : `${url}: ${outcome.errno}`);
  }
  const fix = `remove the plain "listener ${port}" block from the config, or bind it to loopback: listener ${port} 127.0.0.1`;
  if (outcome.kind === 'accepted') {
    await closeQuietly(outcome.client);
    return finding('plaintext-port', 'critical', `Port ${port} accepts anonymous MQTT in plain text next to TLS`, `${url} accepted a CONNECT without credentials and without TLS.`, fix);
  }
  return finding('plaintext-port', 'warning', `Port ${port} speaks MQTT in plain text next to TLS`,
    `${url} answered CONNECT (refused: ${outcome.words}); clients that use it send their passwords in the clear.`, fix);
}

/** Resolves with "topic = payload" of the first message `client` receives whose topic passes `test`, or undefined after `ms`. */
function receives(client: MqttClient, test: (topic: string) => boolean, ms: number): { promise: Promise<string | undefined>; stop: () => void } {
  let stop = (): void => undefined;
  const promise = new Promise<string | undefined>((resolve) => {
    const timer = setTimeout(() => finish(undefined), ms);
    const off = client.onMessage((message) => {
      if (test(message.topic)) finish(`${message.topic} = "${message.payload.toString('utf8').slice(0, 60)}"`);
    });
    function finish(value: string | undefined): void {
      clearTimeout(timer);
      off();
      resolve(value);
    }
    stop = () => finish(undefined);
  });
  return { promise, stop };
}

const ACL_FIX = 'acl_file /etc/moat/acl\n(in /etc/moat/acl, each user only under its own subtree:) pattern readwrite clients/%u/#';

async function readAllFinding(target: Target, identity: Identity, timeoutMs: number, waitMs: number): Promise<Finding> {
  const { client, who } = identity;
  const codes = await within(client.subscribe('#', { qos: 1 }).catch(() => undefined), timeoutMs);
  const code = codes?.[0];
  if (code === undefined) return finding('read-all', 'warning', 'No answer to SUBSCRIBE #', `The broker sent no SUBACK within ${timeoutMs} ms.`);
  if (code >= 0x80) {
    return finding('read-all', 'ok', `${capital(who)} may not subscribe to #`, `SUBACK ${formatReason(code, { packet: 'suback', protocolVersion: client.protocolVersion })}`);
  }
  // Publish from a second connection of the same identity: a broker that delivers it to the #
  // subscriber delivers everyone else's messages too.
  const topic = `moat-audit/${randomBytes(8).toString('hex')}`;
  const seen = receives(client, (t) => t === topic, waitMs + timeoutMs);
  let publishProblem: string | undefined;
  const publisher = await probeConnect(target.url, identity.options);
  if (publisher.kind !== 'accepted') {
    publishProblem = publisher.kind === 'refused' ? `a second connection was refused: ${publisher.words}` : publisher.message;
  } else {
    try {
      const done = await within(publisher.client.publish(topic, 'moat audit probe', { qos: 1 }).then(() => true), timeoutMs);
      if (done === undefined) publishProblem = `no PUBACK within ${timeoutMs} ms`;
    } catch (error) {
      publishProblem = error instanceof MqttError && error.reasonCode !== undefined
        ? formatReason(error.reasonCode, { packet: 'puback', protocolVersion: publisher.client.protocolVersion })
        : error instanceof Error ? error.message : String(error);
    } finally {
      await closeQuietly(publisher.client);
    }
  }
  if (publishProblem !== undefined) {
    seen.stop();
    return finding('read-all', 'warning', `${capital(who)} could subscribe to # (granted QoS ${code})`,
      `Whether # delivers other clients' messages is unknown: the probe message on ${topic} could not be published (${publishProblem}).`, ACL_FIX);
  }
  const received = await within(seen.promise, waitMs);
  seen.stop();
  if (received !== undefined) {
    return finding('read-all', 'critical', `${capital(who)} can read everyone's traffic`,
      `Subscribed to # (granted QoS ${code}) and received the probe message another connection published on ${topic}.`,
      identity.anonymous ? `allow_anonymous false\n${ACL_FIX}` : ACL_FIX);
  }
  return finding('read-all', 'ok', `# was granted (QoS ${code}) but other clients' messages are not delivered`,
    `The probe message published on ${topic} did not arrive within ${waitMs} ms: the ACL limits what ${who} reads.`);
}

async function sysFinding(identity: Identity, timeoutMs: number, waitMs: number): Promise<Finding> {
  const { client, who } = identity;
  const seen = receives(client, (t) => t.startsWith('$SYS/'), waitMs + timeoutMs);
  const codes = await within(client.subscribe('$SYS/#', { qos: 0 }).catch(() => undefined), timeoutMs);
  const code = codes?.[0];
  if (code === undefined || code >= 0x80) {
    seen.stop();
    return code === undefined
      ? finding('sys-topics', 'warning', 'No answer to SUBSCRIBE $SYS/#', `The broker sent no SUBACK within ${timeoutMs} ms.`)
      : finding('sys-topics', 'ok', `${capital(who)} may not read $SYS`, `SUBACK ${formatReason(code, { packet: 'suback', protocolVersion: client.protocolVersion })}`);
  }
  const received = await within(seen.promise, waitMs);
  seen.stop();
  if (received === undefined) return finding('sys-topics', 'ok', `$SYS/# was granted (QoS ${code}) but nothing arrived within ${waitMs} ms`, '');
  return finding('sys-topics', identity.anonymous ? 'warning' : 'info', `${capital(who)} can read $SYS`,
    `Received ${received}: $SYS reveals the broker's version, client counts and traffic.`,
    'acl_file /etc/moat/acl\n(in /etc/moat/acl, $SYS only for a monitoring user:) user monitor\ntopic read $SYS/#');
}

function capital(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
