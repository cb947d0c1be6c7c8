// Worker-thread entry: runs one role and reports ready / result / error to the main thread.
import { parentPort, workerData } from 'node:worker_threads';
import { MoatError } from '../codec/errors.js';
import type { RoleInit, RoleName, WorkerMessage } from './pool.js';
import type { RoleContext } from './roles/context.js';
import { runConnections } from './roles/connections.js';
import { runFlood } from './roles/flood.js';
import { runLatency } from './roles/latency.js';
import { runPublish } from './roles/publish.js';
import { runRetained } from './roles/retained.js';
import { runSubscribe } from './roles/subscribe.js';
import { runTls } from './roles/tls.js';

const ROLES: Record<RoleName, (params: never, ctx: RoleContext) => Promise<unknown>> = {
  publish: runPublish,
  subscribe: runSubscribe,
  latency: runLatency,
  flood: runFlood,
  connections: runConnections,
  tls: runTls,
  retained: runRetained,
};

const init = workerData as RoleInit;
const port = parentPort;
if (port === null) throw new MoatError('MOAT_ERR_NOT_IN_WORKER', 'bench worker must run in a worker thread');
const post = (m: WorkerMessage): void => port.postMessage(m);

let stopped = false;
let onStop: () => void = () => undefined;
const stopPromise = new Promise<void>((resolve) => {
  onStop = resolve;
});
let onGo: () => void = () => undefined;
const goPromise = new Promise<void>((resolve) => {
  onGo = resolve;
});
port.on('message', (m: { type: string }) => {
  if (m.type === 'go') onGo();
  if (m.type === 'stop') {
    stopped = true;
    onGo();
    onStop();
  }
});

const ctx: RoleContext = {
  counters: new Float64Array(init.counters),
  base: init.base,
  async ready() {
    post({ type: 'ready' });
    await goPromise;
  },
  stopped: stopPromise,
  isStopped: () => stopped,
};

try {
  const value = await ROLES[init.role](init.params as never, ctx);
  post({ type: 'result', value });
} catch (error) {
  post({ type: 'error', message: error instanceof Error ? error.message : String(error) });
}
// The main thread terminates this worker once it has the result (sockets a role kept open
// must not keep the thread alive, and exiting here could drop the message just posted).
