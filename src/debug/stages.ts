// What every step of `moat debug` reports: one line of the checklist (status, time, summary), the
// facts it saw, and for a failure the diagnosis and the fix. The exit code names the failing step.

export type StageId = 'dns' | 'tcp' | 'tls' | 'connect' | 'roundtrip' | 'payload';
/** skipped: not run (an earlier step failed, or it does not apply); warning: ran, nothing broken, something to look at. */
export type StageStatus = 'ok' | 'failed' | 'warning' | 'skipped';

export interface StageResult {
  readonly stage: StageId;
  readonly title: string;
  readonly status: StageStatus;
  /** Time the step took; 0 for a skipped one. */
  readonly ms: number;
  /** The checklist line's text. */
  readonly summary: string;
  /** What the step saw (addresses, protocol, cipher, reason code, counts...), for --json. */
  readonly details: Readonly<Record<string, unknown>>;
  readonly diagnosis?: string;
  readonly fix?: string;
}

export const STAGE_TITLES: Readonly<Record<StageId, string>> = {
  dns: 'DNS resolution',
  tcp: 'TCP connect',
  tls: 'TLS handshake',
  connect: 'MQTT CONNECT',
  roundtrip: 'Subscribe + publish round trip',
  payload: 'Payload check',
};

export const STAGE_ORDER: readonly StageId[] = ['dns', 'tcp', 'tls', 'connect', 'roundtrip', 'payload'];

/**
 * Exit codes: 0 healthy, 2 usage error, then one per failing step. 10 and up so they never meet
 * moat audit's 0-3, mosquitto_pub/sub's CONNACK codes (moat pub/sub: 0-5, 1 otherwise) or capacity's 0-3.
 */
export const DEBUG_EXIT = { healthy: 0, usage: 2, dns: 10, tcp: 11, tls: 12, connect: 13, roundtrip: 14, payload: 15 } as const;

export function elapsed(since: number): number {
  return Math.round(performance.now() - since);
}

export function stage(id: StageId, status: StageStatus, ms: number, summary: string, details: Record<string, unknown> = {}, problem?: { diagnosis: string; fix: string }): StageResult {
  return Object.freeze({ stage: id, title: STAGE_TITLES[id], status, ms, summary, details, ...(problem ?? {}) });
}

export function skipped(id: StageId, why: string): StageResult {
  return stage(id, 'skipped', 0, why);
}
