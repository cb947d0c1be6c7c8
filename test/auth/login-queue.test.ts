// The login scheduler (issue 9): one check per user name at a time, a bound per source address, a
// bounded global queue (by count and by expected backlog), addresses with fewer failures served
// first, and a clean arrival displacing a dirty waiter when the queue is full.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LoginQueue, type Admission, type LoginQueueLimits, type LoginTicket } from '../../src/auth/login-queue.js';

const LIMITS: LoginQueueLimits = { concurrency: 2, queueLimit: 8, maxWaitMs: 60_000, addressLimit: 2 };

/** A check the test finishes by hand; `started` says whether the queue began it. */
function gate(): { started: boolean; work: () => Promise<string>; finish: (value?: string) => void; fail: (error: Error) => void } {
  let resolve: (value: string) => void = () => {};
  let reject: (error: Error) => void = () => {};
  const promise = new Promise<string>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const g = {
    started: false,
    work: () => {
      g.started = true;
      return promise;
    },
    finish: (value = 'done') => resolve(value),
    fail: (error: Error) => reject(error),
  };
  return g;
}

function ticket(admission: Admission): LoginTicket {
  assert.ok(admission.admitted, `refused: ${admission.admitted ? '' : admission.reason}`);
  return admission.ticket;
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('one check per user name at a time; another user name runs beside it', async () => {
  const queue = new LoginQueue(LIMITS, () => 0);
  const [a1, a2, b1] = [gate(), gate(), gate()];
  const first = ticket(queue.admit('10.0.0.1')).run('alice', 100, a1.work);
  const second = ticket(queue.admit('10.0.0.2')).run('alice', 100, a2.work);
  const other = ticket(queue.admit('10.0.0.3')).run('bob', 100, b1.work);
  assert.deepEqual([a1.started, a2.started, b1.started], [true, false, true]);
  assert.equal(queue.waiting, 1);
  a1.finish('a1');
  assert.deepEqual(await first, { ran: true, value: 'a1' });
  assert.equal(a2.started, true, 'the second alice check starts once the first is done');
  a2.finish();
  b1.finish();
  await Promise.all([second, other]);
  assert.equal(queue.running, 0);
});

test('at most addressLimit logins in progress per address, holds included; a finished one frees its place', async () => {
  const queue = new LoginQueue(LIMITS, () => 0);
  const check = gate();
  const running = ticket(queue.admit('10.0.0.1')).run('alice', 100, check.work);
  const held = ticket(queue.admit('10.0.0.1')).holdWhile(new Promise((resolve) => setTimeout(resolve, 20)));
  const third = queue.admit('10.0.0.1');
  assert.equal(third.admitted, false);
  assert.match(third.admitted ? '' : third.reason, /2 logins from this address are already in progress/);
  assert.equal(queue.admit('10.0.0.2').admitted, true, 'another address is not affected');
  await held;
  assert.equal(queue.inProgress('10.0.0.1'), 1);
  ticket(queue.admit('10.0.0.1')).release();
  check.finish();
  await running;
  assert.equal(queue.inProgress('10.0.0.1'), 0);
});

test('the global queue is bounded by count: the next admission is refused at once', async () => {
  const queue = new LoginQueue({ ...LIMITS, concurrency: 1, queueLimit: 2 }, () => 0);
  const gates = [gate(), gate(), gate()];
  const runs = gates.map((g, i) => ticket(queue.admit(`10.0.0.${i + 1}`)).run(`user${i}`, 10, g.work));
  assert.equal(queue.running, 1);
  assert.equal(queue.waiting, 2);
  const refused = queue.admit('10.0.0.9');
  assert.equal(refused.admitted, false);
  assert.match(refused.admitted ? '' : refused.reason, /the login queue is full \(2 waiting/);
  assert.equal(queue.stats.queueHighWater, 2);
  for (const g of gates) {
    g.finish();
    await turn();
  }
  await Promise.all(runs);
  assert.equal(queue.admit('10.0.0.9').admitted, true, 'a drained queue admits again');
});

test('the global queue is bounded by expected backlog: waiting checks worth maxWaitMs fill it', async () => {
  const queue = new LoginQueue({ ...LIMITS, concurrency: 1, maxWaitMs: 150 }, () => 0);
  const gates = [gate(), gate(), gate()];
  const runs = gates.map((g, i) => ticket(queue.admit(`10.0.0.${i + 1}`)).run(`user${i}`, 100, g.work));
  // One running, two waiting: 200 ms of checks ahead of the next login.
  assert.equal(queue.backlogMs, 200);
  assert.equal(queue.admit('10.0.0.9').admitted, false);
  gates[0]?.finish();
  await turn();
  assert.equal(queue.backlogMs, 100);
  assert.equal(queue.admit('10.0.0.9').admitted, true);
  for (const g of gates) g.finish();
  await Promise.all(runs);
});

test('waiting logins from addresses with fewer failures go first, oldest first among equals', async () => {
  const failures = new Map([['10.0.0.66', 3], ['10.0.0.67', 1]]);
  const queue = new LoginQueue({ ...LIMITS, concurrency: 1 }, (address) => failures.get(address) ?? 0);
  const order: string[] = [];
  const blocker = gate();
  const blocked = ticket(queue.admit('10.0.0.1')).run('blocker', 10, blocker.work);
  const runs = ['10.0.0.66', '10.0.0.67', '10.0.0.2', '10.0.0.3'].map((address, i) =>
    ticket(queue.admit(address)).run(`user${i}`, 10, async () => {
      order.push(address);
      return address;
    }),
  );
  blocker.finish();
  await Promise.all([blocked, ...runs]);
  assert.deepEqual(order, ['10.0.0.2', '10.0.0.3', '10.0.0.67', '10.0.0.66']);
});

test('failures are read when the next login is picked: an address that failed meanwhile waits behind clean ones', async () => {
  const failures = new Map<string, number>();
  const queue = new LoginQueue({ ...LIMITS, concurrency: 1 }, (address) => failures.get(address) ?? 0);
  const order: string[] = [];
  const blocker = gate();
  const blocked = ticket(queue.admit('10.0.0.1')).run('blocker', 10, blocker.work);
  const runs = ['10.0.0.5', '10.0.0.6'].map((address, i) =>
    ticket(queue.admit(address)).run(`user${i}`, 10, async () => {
      order.push(address);
      return address;
    }),
  );
  failures.set('10.0.0.5', 1);
  blocker.finish();
  await Promise.all([blocked, ...runs]);
  assert.deepEqual(order, ['10.0.0.6', '10.0.0.5']);
});

test('a full queue: a cleaner arrival displaces the newest waiter of the dirtiest address; one as dirty is refused', async () => {
  const failures = new Map([['10.0.0.66', 4], ['10.0.0.67', 4], ['10.0.0.68', 1], ['10.0.0.77', 4], ['10.0.0.78', 2]]);
  const queue = new LoginQueue({ ...LIMITS, concurrency: 1, queueLimit: 3 }, (address) => failures.get(address) ?? 0);
  const blocker = gate();
  const blocked = ticket(queue.admit('10.0.0.1')).run('blocker', 10, blocker.work);
  const [d66, d67, d68] = ['10.0.0.66', '10.0.0.67', '10.0.0.68'].map((address, i) => ticket(queue.admit(address)).run(`user${i}`, 10, async () => address));
  const clean = ticket(queue.admit('10.0.0.99')).run('carol', 10, async () => 'carol');
  assert.deepEqual(await d67, { ran: false, reason: 'a login from an address with fewer failed logins took its place in the full queue' });
  assert.equal(queue.stats.displaced, 1);
  assert.equal(queue.inProgress('10.0.0.67'), 0, 'the displaced login freed its address place');
  // Full again (.66, .68, carol): an arrival as dirty as the worst waiter is refused, a less dirty one displaces it.
  assert.equal(queue.admit('10.0.0.77').admitted, false);
  const less = queue.admit('10.0.0.78');
  assert.equal(less.admitted, true);
  assert.equal((await d66)?.ran, false);
  ticket(less).release();
  blocker.finish();
  await blocked;
  assert.deepEqual(await clean, { ran: true, value: 'carol' });
  assert.deepEqual(await d68, { ran: true, value: '10.0.0.68' });
  assert.equal(queue.stats.displaced, 2);
});

test('a client that goes away while waiting is dropped unhashed and frees its places', async () => {
  const queue = new LoginQueue({ ...LIMITS, concurrency: 1 }, () => 0);
  const blocker = gate();
  let blockerGone: () => void = () => {};
  const blocked = ticket(queue.admit('10.0.0.1')).run('blocker', 10, blocker.work, (cancel) => (blockerGone = cancel));
  let gone: () => void = () => {};
  const waiting = gate();
  const run = ticket(queue.admit('10.0.0.2')).run('alice', 10, waiting.work, (cancel) => (gone = cancel));
  assert.equal(queue.waiting, 1);
  // Going away once the check runs changes nothing.
  blockerGone();
  assert.equal(queue.running, 1);
  gone();
  assert.deepEqual(await run, { ran: false, reason: 'the client went away' });
  assert.equal(queue.waiting, 0);
  assert.equal(queue.inProgress('10.0.0.2'), 0);
  blocker.finish();
  assert.deepEqual(await blocked, { ran: true, value: 'done' });
  assert.equal(waiting.started, false);
});

test('a check that throws rejects its run and frees its slot; a ticket is used once', async () => {
  const queue = new LoginQueue({ ...LIMITS, concurrency: 1 }, () => 0);
  const failing = gate();
  const t = ticket(queue.admit('10.0.0.1'));
  const run = t.run('alice', 10, failing.work);
  assert.throws(() => t.release(), /used once/);
  failing.fail(new Error('worker died'));
  await assert.rejects(run, /worker died/);
  assert.equal(queue.running, 0);
  assert.equal(queue.inProgress('10.0.0.1'), 0);
});

test('runIfIdle takes a slot only when nothing waits and another slot stays free for a login', async () => {
  assert.equal(new LoginQueue({ ...LIMITS, concurrency: 1 }, () => 0).runIfIdle(async () => {}), false, 'never the only slot');
  const queue = new LoginQueue({ ...LIMITS, concurrency: 2 }, () => 0);
  const measuring = gate();
  assert.equal(queue.runIfIdle(async () => void (await measuring.work())), true);
  assert.equal(queue.runIfIdle(async () => {}), false, 'the last free slot is kept for logins');
  const login = gate();
  const run = ticket(queue.admit('10.0.0.1')).run('alice', 10, login.work);
  assert.equal(login.started, true, 'a login takes the slot kept free');
  const next = gate();
  const waiting = ticket(queue.admit('10.0.0.2')).run('bob', 10, next.work);
  assert.equal(next.started, false);
  measuring.finish();
  await turn();
  assert.equal(next.started, true, 'the measurement\'s slot goes to the waiting login');
  login.finish();
  next.finish();
  await Promise.all([run, waiting]);
});

test('close() drops the waiting logins and refuses new ones', async () => {
  const queue = new LoginQueue({ ...LIMITS, concurrency: 1 }, () => 0);
  const blocker = gate();
  ticket(queue.admit('10.0.0.1')).run('blocker', 10, blocker.work).catch(() => {});
  const waiting = ticket(queue.admit('10.0.0.2')).run('alice', 10, gate().work);
  queue.close();
  assert.deepEqual(await waiting, { ran: false, reason: 'the broker is shutting down' });
  const after = queue.admit('10.0.0.4');
  assert.equal(after.admitted, false);
});
