import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import type { Readable } from 'node:stream';

/** How a child process ended: exit code, or the signal that ended it. */
export interface ExitResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export type StreamName = 'stdout' | 'stderr';

/** A child process whose output is captured line by line and which is killed if the test process exits. */
export interface TrackedProcess {
  readonly name: string;
  readonly pid: number;
  /** stdout and stderr lines, interleaved in arrival order. */
  readonly logs: string[];
  readonly stdout: string[];
  readonly stderr: string[];
  /**
   * Resolves when the process has exited and its output is drained; never rejects. Awaiting it keeps
   * the test process alive (the child itself is unref'd, so a forgotten one never holds a test file open).
   */
  readonly exited: PromiseLike<ExitResult>;
  /** undefined while the process runs. */
  readonly exitResult: ExitResult | undefined;
  /** Calls listener once the process has exited (does not keep the test process alive). */
  onExit(listener: (result: ExitResult) => void): void;
  /** Calls listener for every later line; returns an unsubscribe function. */
  onLine(listener: (line: string, stream: StreamName) => void): () => void;
  /**
   * Resolves with the first line (already captured or later) for which match is true; rejects on timeout
   * or when the process exits first, with an error that includes the captured output.
   */
  waitForLine(match: (line: string, stream: StreamName) => boolean, timeoutMs: number, what: string): Promise<string>;
  /** Sends signal (default SIGTERM) by PID, then SIGKILL after graceMs (default 3000); resolves on exit. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<ExitResult>;
  /** SIGKILL by PID; resolves on exit. */
  kill(): Promise<ExitResult>;
  /** The captured output as one string, for error messages. */
  formatLogs(maxLines?: number): string;
}

const live = new Map<number, ChildProcess>();
let cleanupInstalled = false;

function killAllLive(): void {
  for (const pid of live.keys()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

/**
 * Processes started by the kit are unref'd (a forgotten broker does not keep a test file alive) and
 * SIGKILLed by PID when the test process exits or is interrupted, so a failing test cannot leak them.
 */
function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', killAllLive);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killAllLive();
      process.removeListener(signal, onSignal);
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

function splitLines(stream: Readable | null, onLine: (line: string) => void): Promise<void> {
  return new Promise((resolve) => {
    if (stream === null) {
      resolve();
      return;
    }
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      partial += chunk;
      let nl = partial.indexOf('\n');
      while (nl !== -1) {
        onLine(partial.slice(0, nl).replace(/\r$/, ''));
        partial = partial.slice(nl + 1);
        nl = partial.indexOf('\n');
      }
    });
    const finish = (): void => {
      if (partial !== '') onLine(partial);
      partial = '';
      resolve();
    };
    stream.once('end', finish);
    stream.once('close', finish);
    stream.once('error', finish);
  });
}

function unrefStream(stream: Readable | null): void {
  const handle = stream as (Readable & { unref?: () => void }) | null;
  handle?.unref?.();
}

export interface SpawnTrackedOptions {
  /** Shown in error messages, e.g. "moat" or "mosquitto_sub". */
  readonly name?: string;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Written to the process's stdin, which is then closed; without it stdin is /dev/null. */
  readonly input?: string | Buffer;
}

/** Spawns command (no shell), capturing output lines. Rejects if the process cannot be started. */
export async function spawnTracked(
  command: string,
  args: readonly string[],
  options: SpawnTrackedOptions = {},
): Promise<TrackedProcess> {
  installCleanup();
  const spawnOptions: SpawnOptions = { stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] };
  if (options.cwd !== undefined) spawnOptions.cwd = options.cwd;
  if (options.env !== undefined) spawnOptions.env = options.env;
  const child = spawn(command, [...args], spawnOptions);
  const name = options.name ?? command;

  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err) => reject(new Error(`could not start ${name} (${command}): ${err.message}`, { cause: err })));
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${name}: no pid`);
  if (options.input !== undefined) {
    child.stdin?.on('error', () => undefined); // a process that exits before reading it all
    child.stdin?.end(options.input);
  }
  live.set(pid, child);
  child.unref();
  unrefStream(child.stdout);
  unrefStream(child.stderr);

  const logs: string[] = [];
  const entries: Array<{ line: string; stream: StreamName }> = [];
  const stdout: string[] = [];
  const stderr: string[] = [];
  const listeners = new Set<(line: string, stream: StreamName) => void>();
  const push = (stream: StreamName) => (line: string) => {
    logs.push(line);
    entries.push({ line, stream });
    (stream === 'stdout' ? stdout : stderr).push(line);
    for (const listener of [...listeners]) listener(line, stream);
  };
  const drained = Promise.all([splitLines(child.stdout, push('stdout')), splitLines(child.stderr, push('stderr'))]);

  let exitResult: ExitResult | undefined;
  const exited = new Promise<ExitResult>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(pid);
      // Output can lag the exit a little; do not wait forever on a pipe held by a grandchild.
      let lagTimer: NodeJS.Timeout | undefined;
      const lag = new Promise<void>((r) => {
        lagTimer = setTimeout(r, 1000);
      });
      void Promise.race([drained, lag]).then(() => {
        clearTimeout(lagTimer);
        exitResult = { code, signal };
        resolve(exitResult);
      });
    });
  });

  // A thenable that holds the event loop open only while somebody waits for the exit.
  const exitedHoldingLoop: PromiseLike<ExitResult> = {
    then(onFulfilled, onRejected) {
      const keepAlive = exitResult === undefined ? setInterval(() => undefined, 60_000) : undefined;
      return exited.finally(() => clearInterval(keepAlive)).then(onFulfilled, onRejected);
    },
  };

  const formatLogs = (maxLines = 200): string => {
    const shown = logs.slice(-maxLines);
    const cut = logs.length > shown.length ? `  ... (${logs.length - shown.length} earlier lines)\n` : '';
    return `--- ${name} (pid ${pid}) output ---\n${cut}${shown.map((l) => `  ${l}`).join('\n')}\n--- end ---`;
  };

  const signalAndWait = async (signal: NodeJS.Signals, graceMs: number): Promise<ExitResult> => {
    if (exitResult !== undefined) return exitResult;
    try {
      process.kill(pid, signal);
    } catch {
      // exited between the check and the kill
    }
    let timer: NodeJS.Timeout | undefined;
    const escalate = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), graceMs);
    });
    const first = await Promise.race([exited, escalate]);
    clearTimeout(timer);
    if (first !== 'timeout') return first;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
    return await exitedHoldingLoop;
  };

  return {
    name,
    pid,
    logs,
    stdout,
    stderr,
    exited: exitedHoldingLoop,
    get exitResult() {
      return exitResult;
    },
    onExit(listener) {
      void exited.then(listener);
    },
    onLine(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    waitForLine(match, timeoutMs, what) {
      return new Promise<string>((resolve, reject) => {
        const already = entries.find((entry) => match(entry.line, entry.stream));
        if (already !== undefined) {
          resolve(already.line);
          return;
        }
        let settled = false;
        const finish = (err: Error | undefined, line?: string): void => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          unsubscribe();
          if (err) reject(err);
          else resolve(line ?? '');
        };
        const timer = setTimeout(
          () => finish(new Error(`${name}: timed out after ${timeoutMs} ms waiting for ${what}\n${formatLogs()}`)),
          timeoutMs,
        );
        const listener = (line: string, stream: StreamName): void => {
          if (match(line, stream)) finish(undefined, line);
        };
        listeners.add(listener);
        const unsubscribe = (): void => {
          listeners.delete(listener);
        };
        void exited.then((r) =>
          finish(
            new Error(
              `${name}: exited (code ${r.code}, signal ${r.signal}) before ${what}\n${formatLogs()}`,
            ),
          ),
        );
      });
    },
    stop(signal = 'SIGTERM', graceMs = 3000) {
      return signalAndWait(signal, graceMs);
    },
    kill() {
      return signalAndWait('SIGKILL', 5000);
    },
    formatLogs,
  };
}
