// Why startServer did not start: the config's security rules refused it, or a listener could not bind.
import { MoatError } from '../codec/errors.js';
import type { ListenerConfig } from '../config/types.js';

/**
 * resolveSecurity refused the config: `refusals` holds one sentence per listener that may not start,
 * each naming the listener, its file:line and the fix. `message` is those sentences, one a line,
 * each after "refusing to start: ".
 */
export class StartRefusedError extends MoatError {
  readonly refusals: readonly string[];

  constructor(refusals: readonly string[]) {
    super('MOAT_ERR_START_REFUSED', refusals.map((refusal) => `refusing to start: ${refusal}`).join('\n'));
    this.name = 'StartRefusedError';
    this.refusals = refusals;
  }
}

/** A listener could not be opened (port taken, no such interface, ...); `cause` is the error from the bind. */
export class ListenError extends MoatError {
  readonly listener: ListenerConfig;

  constructor(listener: ListenerConfig, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super('MOAT_ERR_LISTEN', `${listenFailure(listener)}: ${why}`, { cause });
    this.name = 'ListenError';
    this.listener = listener;
  }
}

/** "cannot listen on HOST:PORT (file:line)", the text of the listen_failed log line. */
export function listenFailure(listener: ListenerConfig): string {
  const at = listener.socketPath ?? `${listener.host ?? '*'}:${listener.port}`;
  return `cannot listen on ${at} (${listener.source.file}:${listener.source.line})`;
}
