import { spawnTracked, type ExitResult, type TrackedProcess } from './process.js';

export const MOSQUITTO_PUB = '/usr/bin/mosquitto_pub';
export const MOSQUITTO_SUB = '/usr/bin/mosquitto_sub';
/** coreutils' stdbuf: mosquitto_sub block-buffers stdout on a pipe; -oL makes every line arrive at once. */
const STDBUF = '/usr/bin/stdbuf';

/** `-h host -p port` for mosquitto_pub/mosquitto_sub. */
export function brokerArgs(broker: { readonly host: string; readonly port: number }): string[] {
  return ['-h', broker.host, '-p', String(broker.port)];
}

export interface ProcessOutput extends ExitResult {
  readonly stdout: string[];
  readonly stderr: string[];
  /** True when the kit stopped the process because timeoutMs passed. */
  readonly timedOut: boolean;
}

function describeRun(command: string, args: readonly string[], out: ProcessOutput): string {
  return [
    `$ ${command} ${args.map((a) => (/^[\w./:#+$=-]+$/.test(a) ? a : JSON.stringify(a))).join(' ')}`,
    `exit code ${out.code}, signal ${out.signal}${out.timedOut ? ', timed out' : ''}`,
    'stdout:',
    ...out.stdout.map((l) => `  ${l}`),
    'stderr:',
    ...out.stderr.map((l) => `  ${l}`),
  ].join('\n');
}

export interface RunOptions {
  /** Stop the process (SIGTERM, then SIGKILL) after this long; default 10 000 ms. */
  readonly timeoutMs?: number;
}

async function runToEnd(
  command: string,
  name: string,
  args: readonly string[],
  timeoutMs: number,
  until?: (lines: readonly string[]) => boolean,
): Promise<ProcessOutput> {
  const child = await spawnTracked(STDBUF, ['-oL', '-eL', command, ...args], { name });
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const stopped = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      timedOut = true;
      resolve();
    }, timeoutMs);
    if (until) {
      const check = (): void => {
        if (until(child.stdout)) resolve();
      };
      child.onLine((_line, stream) => {
        if (stream === 'stdout') check();
      });
      check();
    }
  });
  const result = await Promise.race([child.exited, stopped.then(() => undefined)]);
  clearTimeout(timer);
  const exit = result ?? (await child.stop('SIGTERM', 2000));
  return { ...exit, stdout: [...child.stdout], stderr: [...child.stderr], timedOut: result === undefined && timedOut };
}

export interface PubOptions extends RunOptions {
  /** Throw (with the output) unless mosquitto_pub exits 0; default true. */
  readonly check?: boolean;
}

/** Runs `mosquitto_pub args` to completion; by default throws if it does not exit 0. */
export async function runMosquittoPub(args: readonly string[], options: PubOptions = {}): Promise<ProcessOutput> {
  const out = await runToEnd(MOSQUITTO_PUB, 'mosquitto_pub', args, options.timeoutMs ?? 10_000);
  if ((options.check ?? true) && out.code !== 0) {
    throw new Error(`mosquitto_pub failed\n${describeRun(MOSQUITTO_PUB, args, out)}`);
  }
  return out;
}

export interface SubOptions extends RunOptions {
  /** Stop as soon as this returns true for the stdout lines so far. */
  readonly until?: (lines: readonly string[]) => boolean;
}

/**
 * Runs `mosquitto_sub args` and collects its stdout lines until `until` says so, the process exits
 * by itself (use -C n / -W secs), or timeoutMs passes (default 10 000 ms). Never throws for a
 * non-zero exit: assert on the returned output.
 */
export function runMosquittoSub(args: readonly string[], options: SubOptions = {}): Promise<ProcessOutput> {
  return runToEnd(MOSQUITTO_SUB, 'mosquitto_sub', args, options.timeoutMs ?? 10_000, options.until);
}

const DEBUG_LINE = /^(Client \S+ (sending|received) [A-Z]+|Subscribed \(mid: \d+\)|Unsubscribed \(mid: \d+\))/;

/** A mosquitto_sub that is connected and subscribed (it ran with -d and printed "received SUBACK"). */
export interface MosquittoSub {
  readonly pid: number;
  /** stdout lines that are messages (debug lines removed), in arrival order. */
  readonly messages: string[];
  /** The -d debug lines ("Client ... received PUBLISH (d0, q1, r0, m1, 't', ... (5 bytes))", ...). */
  readonly debug: string[];
  readonly process: TrackedProcess;
  /**
   * Resolves with the messages once `done(messages)` is true (or once there are `done` messages).
   * Rejects after timeoutMs, or if the process exits first, with what was received and the output.
   */
  waitForMessages(done: number | ((messages: readonly string[]) => boolean), timeoutMs?: number): Promise<string[]>;
  /** Resolves when the process exits (e.g. after -C n or -W secs). */
  readonly exited: PromiseLike<ExitResult>;
  stop(): Promise<ExitResult>;
  /** SIGKILL: the TCP connection is dropped without DISCONNECT, so the broker publishes the will. */
  kill(): Promise<ExitResult>;
}

export interface StartSubOptions {
  /** How long to wait for SUBACK; default 10 000 ms. */
  readonly readyTimeoutMs?: number;
}

/**
 * Starts `mosquitto_sub -d args` and resolves once the broker acknowledged the subscription, so a
 * publish made afterwards is guaranteed to be routed to it. Stop it with `stop()` (or `kill()`).
 */
export async function startMosquittoSub(args: readonly string[], options: StartSubOptions = {}): Promise<MosquittoSub> {
  const child = await spawnTracked(STDBUF, ['-oL', '-eL', MOSQUITTO_SUB, '-d', ...args], { name: 'mosquitto_sub' });
  const messages: string[] = [];
  const debug: string[] = [];
  const changed = new Set<() => void>();
  child.onLine((line, stream) => {
    if (stream !== 'stdout') return;
    if (DEBUG_LINE.test(line)) debug.push(line);
    else messages.push(line);
    for (const fn of [...changed]) fn();
  });
  try {
    await child.waitForLine(
      (line) => / received SUBACK$/.test(line),
      options.readyTimeoutMs ?? 10_000,
      'SUBACK (mosquitto_sub -d printing "received SUBACK")',
    );
  } catch (err) {
    await child.kill();
    throw err;
  }

  return {
    pid: child.pid,
    messages,
    debug,
    process: child,
    exited: child.exited,
    waitForMessages(done, timeoutMs = 10_000) {
      const isDone = typeof done === 'number' ? (m: readonly string[]) => m.length >= done : done;
      const what = typeof done === 'number' ? `${done} messages` : 'the expected messages';
      return new Promise<string[]>((resolve, reject) => {
        let settled = false;
        const finish = (err?: Error): void => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          changed.delete(check);
          if (err) reject(err);
          else resolve([...messages]);
        };
        const failure = (why: string): Error =>
          new Error(
            `mosquitto_sub: ${why} waiting for ${what}; got ${messages.length}:\n${messages.map((m) => `  ${m}`).join('\n')}\n${child.formatLogs()}`,
          );
        const check = (): void => {
          if (isDone(messages)) finish();
        };
        const timer = setTimeout(() => finish(failure(`timed out after ${timeoutMs} ms`)), timeoutMs);
        changed.add(check);
        check();
        child.onExit((r) => {
          check();
          finish(failure(`exited (code ${r.code}, signal ${r.signal})`));
        });
      });
    },
    stop() {
      return child.stop('SIGTERM', 2000);
    },
    kill() {
      return child.kill();
    },
  };
}
