// A thread of the hashing pool (hash-pool.ts): computes one password hash per message. The
// synchronous crypto calls are right here — this thread does nothing else — and they keep the work
// off both the event loop and libuv's shared thread pool, where DNS lookups and file reads wait.
import { createHash, pbkdf2Sync } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { MoatError } from '../codec/errors.js';
import type { HashRequest, HashResponse } from './hash-pool.js';

const port = parentPort;
if (port === null) throw new MoatError('MOAT_ERR_NOT_IN_WORKER', 'hash-worker.js runs inside moat\'s hashing pool (a worker thread), not as a program of its own');

port.on('message', (request: HashRequest) => {
  let response: HashResponse;
  try {
    const digest =
      request.kind === 'sha512'
        ? createHash('sha512').update(request.password).update(request.salt).digest()
        : pbkdf2Sync(request.password, request.salt, request.iterations, request.length, 'sha512');
    response = { id: request.id, digest };
  } catch (error) {
    response = { id: request.id, error: error instanceof Error ? error.message : String(error) };
  }
  port.postMessage(response);
});
