// One place `moat broker` writes log lines to (log_dest stdout, stderr or file), holding at most
// LOG_BUFFER_BYTES not yet written. So a destination that does not keep up (a pipe nobody reads, a
// FIFO, a slow disk) never stalls the event loop and never grows memory: a line that does not fit
// is dropped and counted, and once the destination has caught up, the owner is told how many were
// lost (log.ts logs one line for it). A destination whose writes fail (EPIPE: the reader went away)
// is given up, and the owner told once.
//
// Why not pino.destination() (sonic-boom) for all three: on a blocking descriptor (a pipe is one
// until Node opens process.stdout/stderr on it) its asynchronous write parks a libuv thread in
// write(2) while the pipe is full, and Node's exit joins those threads, so even process.exit()
// never returns; its exit hook's flushSync() spins on a full pipe too. Node's own stdout/stderr
// streams write pipes and sockets without blocking, on the event loop; files and terminals they
// write synchronously, as Mosquitto does. The log file keeps sonic-boom, on a descriptor opened
// O_NONBLOCK: a regular file is unaffected, a FIFO answers EAGAIN (retried every 100 ms) instead
// of parking a thread.
import { constants, mkdir, open } from 'node:fs';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import sonicBoom from 'sonic-boom';
import { MoatError } from '../codec/errors.js';

/** Bytes a destination may hold unwritten before it drops lines: some 2,000 lines of a busy -v log. */
export const LOG_BUFFER_BYTES = 1024 * 1024;

// CommonJS: the constructor is the default export and its own `.SonicBoom`, which the types describe.
const Boom = sonicBoom.SonicBoom;
const openFile = promisify(open);
const mkdirs = promisify(mkdir);

export type LogTarget = 'stdout' | 'stderr' | { readonly file: string };

/** What a sink tells its owner, from its own events. */
export interface LogSinkEvents {
  /** It has written everything it held, after dropping `count` lines since the last call. */
  caughtUp(sink: LogSink, count: number): void;
  /** A write failed; nothing more is written to it. */
  failed(sink: LogSink, error: Error): void;
}

export class LogSink {
  /** "stdout", "stderr" or the file's path. */
  readonly name: string;
  /** Lines dropped since the process started. */
  droppedTotal = 0;
  readonly #events: LogSinkEvents;
  /** Hands a line to the destination; false when it did not fit and was dropped. */
  #offer: (line: string) => boolean = () => false;
  /** Lines handed over and not yet written. */
  #pending = 0;
  #unreported = 0;
  #failed = false;
  #idleWaiters: Array<() => void> = [];

  private constructor(name: string, events: LogSinkEvents) {
    this.name = name;
    this.#events = events;
  }

  /** Opens `target`; a log file that cannot be opened (or its directory made) is refused here, before the broker starts. */
  static async open(target: LogTarget, events: LogSinkEvents, bufferBytes = LOG_BUFFER_BYTES): Promise<LogSink> {
    if (typeof target === 'string') return LogSink.#stdio(target, events, bufferBytes);
    return LogSink.#file(target.file, events, bufferBytes);
  }

  static #stdio(name: 'stdout' | 'stderr', events: LogSinkEvents, bufferBytes: number): LogSink {
    const sink = new LogSink(name, events);
    const stream = name === 'stdout' ? process.stdout : process.stderr;
    const written = (error?: Error | null): void => {
      if (error === undefined || error === null) sink.#written(1);
    };
    stream.on('error', (error: Error) => sink.#fail(error));
    // writableLength counts characters of queued strings: bytes for the ASCII JSON pino writes.
    sink.#offer = (line) => stream.writableLength + line.length <= bufferBytes && (stream.write(line, written), true);
    return sink;
  }

  static async #file(path: string, events: LogSinkEvents, bufferBytes: number): Promise<LogSink> {
    let fd: number;
    try {
      await mkdirs(dirname(path), { recursive: true });
      fd = await openFile(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NONBLOCK);
    } catch (error) {
      const hint = (error as NodeJS.ErrnoException).code === 'ENXIO' ? ' (a FIFO needs its reader running first)' : '';
      throw new MoatError(
        'MOAT_ERR_LOG_FILE',
        `cannot open the log file ${path} (log_dest file): ${(error as Error).message}${hint}; fix the path or its permissions, or remove the log_dest file line`,
        { cause: error },
      );
    }
    const sink = new LogSink(path, events);
    const boom = new Boom({ fd, sync: false, maxLength: bufferBytes });
    let dropped = false;
    boom.on('drop', () => (dropped = true)); // emitted inside write() when the line does not fit
    boom.on('drain', () => sink.#written(sink.#pending)); // emitted once everything is written
    boom.on('error', (error: Error) => sink.#fail(error));
    sink.#offer = (line) => {
      dropped = false;
      boom.write(line);
      return !dropped;
    };
    return sink;
  }

  /** pino's stream interface: one serialized line. Never blocks; drops the line when the buffer is full. */
  write(line: string): void {
    if (this.#failed) return;
    if (this.#offer(line)) {
      this.#pending++;
      return;
    }
    this.#unreported++;
    this.droppedTotal++;
  }

  /** Resolves once everything handed over is written (at once when nothing is pending), or the sink failed. */
  idle(): Promise<void> {
    if (this.#pending === 0 || this.#failed) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #written(lines: number): void {
    this.#pending -= lines;
    if (this.#pending > 0) return;
    if (this.#unreported > 0) {
      const count = this.#unreported;
      this.#unreported = 0;
      this.#events.caughtUp(this, count); // writes the report line: pending again
    }
    if (this.#pending === 0) this.#wakeIdle();
  }

  #fail(error: Error): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#events.failed(this, error);
    this.#wakeIdle();
  }

  #wakeIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const wake of waiters) wake();
  }
}
