// The Authenticator's password checks (issue 9): an unknown user name costs no hash and answers
// like a wrong password, after about as long; logins beyond the bounds are refused at once with
// Server busy, counted and logged without flooding; concurrent logins with the same password cost
// one hash; a hashing worker that dies refuses its login with 0x80 and the next one works.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AccessControl } from '../../src/auth/access-control.js';
import { Authenticator, DEFAULT_LOGIN_LIMITS, type LoginAttempt, type LoginLimits, type LoginResult } from '../../src/auth/authenticator.js';
import { formatPasswordHash, hashPassword, PasswordFile } from '../../src/auth/password-file.js';
import { recordEvents } from '../kit/event-records.js';

const FAILING_WORKER = new URL('./fixtures/failing-hash-worker.js', import.meta.url);

async function control(users: Record<string, string>, iterations: number): Promise<AccessControl> {
  const lines = await Promise.all(Object.entries(users).map(async ([user, password]) => `${user}:${formatPasswordHash(await hashPassword(password, { iterations }))}`));
  return AccessControl.of(PasswordFile.parse(`${lines.join('\n')}\n`, 'passwd'), undefined);
}

function attempt(username: string | undefined, password: string | undefined, address: string): LoginAttempt {
  return { clientId: `c-${address}`, username, password: password === undefined ? undefined : Buffer.from(password), address };
}

async function timed(result: LoginResult | Promise<LoginResult>): Promise<{ result: LoginResult; ms: number }> {
  const started = performance.now();
  const settled = await result;
  return { result: settled, ms: performance.now() - started };
}

function refusal(result: LoginResult): { code: number; reason: string } {
  assert.equal(result.accepted, false, 'expected a refusal');
  return result.accepted ? { code: 0, reason: '' } : { code: result.reasonCode, reason: result.reason };
}

test('an unknown user name costs no hash and is answered like a wrong password, after about as long', async (t) => {
  const rules = { allowAnonymous: false, control: await control({ alice: 'secret' }, 20_000) };
  const auth = new Authenticator({ failureLimit: 0, banMs: 60_000, report: recordEvents().auth });
  try {
    const wrong = await timed(auth.login(rules, attempt('alice', 'guess', '10.0.0.1')));
    assert.equal(auth.stats.checks, 1);
    const unknowns = [];
    for (let i = 0; i < 5; i++) unknowns.push(await timed(auth.login(rules, attempt(`mallory${i}`, 'guess', `10.0.1.${i}`))));
    const noPassword = await timed(auth.login(rules, attempt('alice', undefined, '10.0.0.2')));
    assert.equal(auth.stats.checks, 1, 'no hash for an unknown name nor for a missing password');
    assert.equal(auth.stats.unhashedRefusals, 6);
    for (const { result } of [...unknowns, noPassword]) assert.deepEqual(refusal(result), refusal(wrong.result));
    const shortest = Math.min(...unknowns.map((u) => u.ms), noPassword.ms);
    t.diagnostic(`wrong password ${wrong.ms.toFixed(1)} ms; unknown names ${unknowns.map((u) => u.ms.toFixed(1)).join(', ')} ms; no password ${noPassword.ms.toFixed(1)} ms`);
    // The delay is drawn from the measured check (±5 %); the lower bound is what a timer guarantees.
    assert.ok(shortest >= wrong.ms * 0.5, `an unhashed refusal came after ${shortest.toFixed(1)} ms, a real check took ${wrong.ms.toFixed(1)} ms`);
  } finally {
    auth.close();
  }
});

test('before any check was measured, an unknown name is delayed by the estimate for the file\'s strength', async () => {
  const rules = { allowAnonymous: false, control: await control({ alice: 'secret' }, 210_000) };
  const auth = new Authenticator({ failureLimit: 0, banMs: 60_000, report: recordEvents().auth });
  try {
    const unknown = await timed(auth.login(rules, attempt('mallory', 'guess', '10.0.0.1')));
    assert.equal(refusal(unknown.result).code, 0x86);
    // 210,000 PBKDF2-SHA512 iterations take well over 50 ms on any machine this runs on.
    assert.ok(unknown.ms >= 50, `refused after ${unknown.ms.toFixed(1)} ms`);
    assert.equal(auth.stats.checks, 0, 'the measurement started in the background is not a login check');
  } finally {
    auth.close();
  }
});

test('logins beyond the per-address bound are refused at once with Server busy, counted, and logged once per 10 s', async () => {
  const { auth: report, events } = recordEvents();
  const rules = { allowAnonymous: false, control: await control({ alice: 'secret', bob: 'pw' }, 20_000) };
  const auth = new Authenticator({ failureLimit: 5, banMs: 60_000, report });
  try {
    const first = auth.login(rules, attempt('alice', 'secret', '10.0.0.1'));
    const second = auth.login(rules, attempt('nobody', 'x', '10.0.0.1'));
    assert.ok(first instanceof Promise && second instanceof Promise);
    const third = auth.login(rules, attempt('bob', 'pw', '10.0.0.1'));
    const fourth = auth.login(rules, attempt('nobody', 'x', '10.0.0.1'));
    for (const busy of [third, fourth]) {
      assert.ok(!(busy instanceof Promise), 'a busy refusal is immediate');
      assert.deepEqual(refusal(busy), { code: 0x89, reason: 'the broker is busy checking other logins; try again shortly' });
    }
    assert.equal(auth.stats.busyRefusals, 2);
    assert.equal(events('auth_busy').length, 1, 'the second busy refusal within 10 s is counted, not logged');
    assert.equal((await first).accepted, true);
    await second;
    assert.equal((await auth.login(rules, attempt('bob', 'pw', '10.0.0.1'))).accepted, true, 'a busy refusal is not a failure, and the places are free again');
  } finally {
    auth.close();
  }
});

test('the global bound: with the queue full, the next login from any address is refused at once', async () => {
  const rules = { allowAnonymous: false, control: await control({ a: '1', b: '2', c: '3' }, 100_000) };
  const limits: LoginLimits = { ...DEFAULT_LOGIN_LIMITS, authHashWorkers: 1, authQueueLimit: 1 };
  const auth = new Authenticator({ failureLimit: 0, banMs: 60_000, report: recordEvents().auth, limits });
  try {
    const running = auth.login(rules, attempt('a', '1', '10.0.0.1'));
    const waiting = auth.login(rules, attempt('b', '2', '10.0.0.2'));
    const refused = auth.login(rules, attempt('c', '3', '10.0.0.3'));
    assert.equal(refusal(await refused).code, 0x89);
    assert.equal((await running).accepted, true);
    assert.equal((await waiting).accepted, true);
    assert.equal(auth.stats.queueHighWater, 1);
  } finally {
    auth.close();
  }
});

test('a flood of unknown names meets the same bounds as one of known names, in a queue of its own: the real logins keep theirs', async () => {
  const rules = { allowAnonymous: false, control: await control({ a: '1', b: '2' }, 20_000) };
  const auth = new Authenticator({ failureLimit: 0, banMs: 60_000, report: recordEvents().auth, limits: { ...DEFAULT_LOGIN_LIMITS, authHashWorkers: 1, authQueueLimit: 1 } });
  try {
    const unknown = [1, 2, 3].map((i) => auth.login(rules, attempt(`ghost${i}`, 'x', `10.0.0.${i}`)));
    // As with known names: one delay running, one waiting, the third refused at once.
    assert.ok(!(unknown[2] instanceof Promise));
    assert.equal(refusal(await unknown[2]!).code, 0x89);
    // The unknown names took no place from real checks.
    const known = [auth.login(rules, attempt('a', '1', '10.0.1.1')), auth.login(rules, attempt('b', '2', '10.0.1.2'))];
    assert.ok(known.every((login) => login instanceof Promise));
    assert.deepEqual((await Promise.all(known)).map((r) => r.accepted), [true, true]);
    assert.deepEqual((await Promise.all(unknown.slice(0, 2))).map((r) => refusal(r).code), [0x86, 0x86]);
    assert.equal(auth.stats.unhashedQueueHighWater, 1);
    assert.equal(auth.stats.unhashedRefusals, 2);
  } finally {
    auth.close();
  }
});

test('concurrent logins with the same right password cost one hash: the waiting ones find it remembered', async () => {
  const rules = { allowAnonymous: false, control: await control({ alice: 'secret' }, 20_000) };
  const auth = new Authenticator({ failureLimit: 5, banMs: 60_000, report: recordEvents().auth });
  try {
    const results = await Promise.all(Array.from({ length: 4 }, (_, i) => auth.login(rules, attempt('alice', 'secret', `10.0.0.${i + 1}`))));
    assert.ok(results.every((r) => r.accepted));
    assert.equal(auth.stats.checks, 1);
    assert.equal(auth.stats.remembered, 3);
  } finally {
    auth.close();
  }
});

test('a hashing worker that dies: that login is refused with 0x80 and logged, not counted as a failure; the next works', async () => {
  const { auth: report, events } = recordEvents();
  const rules = { allowAnonymous: false, control: await control({ alice: 'secret' }, 1000) };
  const auth = new Authenticator({ failureLimit: 1, banMs: 60_000, report, hashWorkerUrl: FAILING_WORKER });
  try {
    // The fixture worker exits when asked to hash the password "exit".
    const died = await auth.login(rules, attempt('alice', 'exit', '10.0.0.1'));
    assert.deepEqual(refusal(died), { code: 0x80, reason: 'internal error while checking the password; try again' });
    assert.equal(auth.stats.errors, 1);
    assert.equal(events('auth_error').length, 1);
    assert.equal(events('hash_worker_failed').length, 1);
    // failureLimit 1: had the error counted as a failure, this address would be banned now.
    assert.equal((await auth.login(rules, attempt('alice', 'secret', '10.0.0.1'))).accepted, true);
  } finally {
    auth.close();
  }
});

test('close() answers the logins still waiting, at once', async () => {
  const rules = { allowAnonymous: false, control: await control({ a: '1', b: '2', c: '3' }, 210_000) };
  const auth = new Authenticator({ failureLimit: 0, banMs: 60_000, report: recordEvents().auth });
  const pending = [auth.login(rules, attempt('a', '1', '10.0.0.1')), auth.login(rules, attempt('b', '2', '10.0.0.2')), auth.login(rules, attempt('c', '3', '10.0.0.3')), auth.login(rules, attempt('zed', '4', '10.0.0.4'))];
  await new Promise((resolve) => setTimeout(resolve, 20));
  const started = performance.now();
  auth.close();
  const results = await Promise.all(pending);
  assert.ok(performance.now() - started < 100, 'close() left logins hanging');
  assert.ok(results.every((r) => !r.accepted));
  assert.equal(refusal(auth.login(rules, attempt('a', '1', '10.0.0.5')) as LoginResult).code, 0x88);
});

test('a client-chosen user name and client id reach the log clipped, also inside a ban key and a refusal reason', async () => {
  const rules = { allowAnonymous: false, control: await control({ alice: 'secret' }, 1000) };
  const { auth: report, events } = recordEvents();
  const auth = new Authenticator({ failureLimit: 2, banMs: 60_000, report });
  try {
    const username = 'm'.repeat(10_000);
    const long = { ...attempt(username, 'guess', '10.0.9.1'), clientId: 'c'.repeat(70_000) };
    // Two failures ban the user name; the third try, from an address with one failure, is refused for it.
    await auth.login(rules, long);
    await auth.login(rules, { ...long, address: '10.0.9.2' });
    await auth.login(rules, { ...long, address: '10.0.9.2' });
    const records = [...events('auth_failed'), ...events('auth_banned')];
    assert.ok(events('auth_banned').length > 0 && events('auth_failed').length >= 2, JSON.stringify(records).slice(0, 500));
    for (const record of records) {
      const size = JSON.stringify(record).length;
      assert.ok(size < 2048, `${String(record['event'])} record is ${size} characters`);
    }
    const failed = events('auth_failed')[0];
    assert.equal(failed?.['username'], `${'m'.repeat(200)}…(+9,800 chars, 10,000 total)`);
    assert.equal(failed?.['clientId'], `${'c'.repeat(200)}…(+69,800 chars, 70,000 total)`);
    assert.ok(events('auth_failed').some((r) => /^too many failed logins for user "m{167}…\(\+9,853 chars, 10,053 total\)$/.test(String(r['reason']))), JSON.stringify(events('auth_failed').map((r) => r['reason'])).slice(0, 800));
  } finally {
    auth.close();
  }
});
