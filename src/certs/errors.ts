// The error `moat certs` reports to its user: one sentence, no stack trace.
import { MoatError } from '../codec/errors.js';

/** Why `moat certs` could not do its job; `message` is one sentence for the user. */
export class CertsError extends MoatError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('MOAT_ERR_CERTS', message, options);
    this.name = 'CertsError';
  }
}
