import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { AclFile, type AclAccess, type AclSubject } from '../../src/auth/acl-file.js';
import { ConfigError } from '../../src/config/errors.js';
import { brokerArgs, runMosquittoPub, startMosquitto, startMosquittoSub, type MosquittoSub, type RunningBroker } from '../kit/index.js';

// One file exercising every rule kind; most cases use it so the mosquitto check needs few brokers.
const MAIN_ACL = `
# anonymous clients: topic lines before the first user line
topic read public/#
topic write public/inbox

user alice
topic readwrite alice/#
topic read sensors/#
topic deny sensors/secret/#
topic read $SYS/broker/#
topic deny devices/+/private
topic shared/#

user ops team
topic readwrite ops/#

user bob
topic read #

pattern readwrite devices/%c/#
pattern deny devices/%c/locked
pattern read users/%u/#
pattern read news/#
`;

// A deny written before the grant it overrides, and a file with no matching rules at all.
const DENY_FIRST_ACL = `user carol
topic deny logs/private/#
topic read logs/#
`;

interface AclCase {
  readonly name: string;
  readonly acl: string;
  readonly subject: AclSubject;
  readonly access: AclAccess;
  readonly topic: string;
  readonly expected: boolean;
  /** Also run against Debian's mosquitto 2.0.11. */
  readonly verify?: boolean;
  /** For subscribe cases: the topic published to see whether the subscription delivers anything. */
  readonly probe?: string;
  /** What mosquitto does where moat is deliberately stricter (default: same as `expected`). */
  readonly mosquittoDelivers?: boolean;
}

const anon = (clientId: string): AclSubject => ({ username: undefined, clientId });
const user = (username: string, clientId = `${username.replace(/\W/g, '')}-c`): AclSubject => ({ username, clientId });

const CASES: readonly AclCase[] = [
  { name: 'anonymous section grants read', acl: MAIN_ACL, subject: anon('a1'), access: 'read', topic: 'public/news', expected: true, verify: true },
  { name: 'anonymous read-only rule refuses write', acl: MAIN_ACL, subject: anon('a1'), access: 'write', topic: 'public/news', expected: false, verify: true },
  { name: 'anonymous write rule grants write', acl: MAIN_ACL, subject: anon('a1'), access: 'write', topic: 'public/inbox', expected: true, verify: true },
  { name: 'rules add up: public/# read plus public/inbox write', acl: MAIN_ACL, subject: anon('a1'), access: 'read', topic: 'public/inbox', expected: true },
  { name: 'no rule matches: denied', acl: MAIN_ACL, subject: anon('a1'), access: 'read', topic: 'private/x', expected: false, verify: true },
  { name: 'anonymous section does not apply to a user', acl: MAIN_ACL, subject: user('carol'), access: 'read', topic: 'public/news', expected: false, verify: true },
  { name: 'user read rule grants read', acl: MAIN_ACL, subject: user('alice'), access: 'read', topic: 'sensors/kitchen/temp', expected: true, verify: true },
  { name: 'user read rule refuses write', acl: MAIN_ACL, subject: user('alice'), access: 'write', topic: 'sensors/kitchen/temp', expected: false, verify: true },
  { name: 'user readwrite grants write', acl: MAIN_ACL, subject: user('alice'), access: 'write', topic: 'alice/notes', expected: true, verify: true },
  { name: 'rule without access word is readwrite', acl: MAIN_ACL, subject: user('alice'), access: 'write', topic: 'shared/x', expected: true, verify: true },
  { name: 'user deny (after the grant) overrides a broader grant', acl: MAIN_ACL, subject: user('alice'), access: 'read', topic: 'sensors/secret/key', expected: false, verify: true },
  { name: 'user deny (before the grant) overrides a broader grant', acl: DENY_FIRST_ACL, subject: user('carol'), access: 'read', topic: 'logs/private/1', expected: false, verify: true },
  { name: 'grant next to an unrelated deny', acl: DENY_FIRST_ACL, subject: user('carol'), access: 'read', topic: 'logs/public/1', expected: true, verify: true },
  { name: 'username with spaces', acl: MAIN_ACL, subject: user('ops team'), access: 'write', topic: 'ops/deploy', expected: true, verify: true },
  { name: 'a prefix of a spaced username is another user', acl: MAIN_ACL, subject: user('ops'), access: 'write', topic: 'ops/deploy', expected: false },
  { name: '%c pattern grants the own client id', acl: MAIN_ACL, subject: anon('dev1'), access: 'write', topic: 'devices/dev1/state', expected: true, verify: true },
  { name: '%c pattern refuses another client id', acl: MAIN_ACL, subject: anon('dev2'), access: 'write', topic: 'devices/dev1/state', expected: false, verify: true },
  { name: 'pattern deny overrides pattern grant', acl: MAIN_ACL, subject: anon('dev1'), access: 'read', topic: 'devices/dev1/locked', expected: false, verify: true },
  { name: 'user deny overrides a pattern grant', acl: MAIN_ACL, subject: user('alice', 'alice-dev'), access: 'read', topic: 'devices/alice-dev/private', expected: false, verify: true },
  { name: 'pattern deny does not override a user grant', acl: MAIN_ACL, subject: user('bob', 'bob-dev'), access: 'read', topic: 'devices/bob-dev/locked', expected: true, verify: true },
  { name: '%u pattern grants the own username', acl: MAIN_ACL, subject: user('alice'), access: 'read', topic: 'users/alice/inbox', expected: true, verify: true },
  { name: '%u pattern never applies to anonymous clients', acl: MAIN_ACL, subject: anon('alice'), access: 'read', topic: 'users/alice/inbox', expected: false, verify: true },
  { name: 'pattern without %c/%u applies to every client', acl: MAIN_ACL, subject: user('carol'), access: 'read', topic: 'news/today', expected: true, verify: true },
  { name: 'client id with + loses all patterns', acl: MAIN_ACL, subject: user('alice', 'a+b'), access: 'read', topic: 'users/alice/inbox', expected: false, verify: true },
  { name: 'client id with + keeps its user rules', acl: MAIN_ACL, subject: user('alice', 'a+b'), access: 'read', topic: 'sensors/hall/temp', expected: true, verify: true },
  {
    name: 'client id with / loses all patterns (moat stricter than 2.0.11)',
    acl: MAIN_ACL,
    subject: anon('dev1/sub'),
    access: 'read',
    topic: 'devices/dev1/sub/state',
    expected: false,
    verify: true,
    mosquittoDelivers: true,
  },
  { name: '# does not grant $SYS', acl: MAIN_ACL, subject: user('bob'), access: 'read', topic: '$SYS/broker/version', expected: false, verify: true },
  { name: 'explicit $SYS rule grants $SYS', acl: MAIN_ACL, subject: user('alice'), access: 'read', topic: '$SYS/broker/version', expected: true, verify: true },
  { name: 'subscribe inside a read subtree', acl: MAIN_ACL, subject: user('alice'), access: 'subscribe', topic: 'sensors/+/temp', expected: true, verify: true, probe: 'sensors/kitchen/temp' },
  { name: 'subscribe # with a narrower read rule', acl: MAIN_ACL, subject: user('alice'), access: 'subscribe', topic: '#', expected: true, verify: true, probe: 'sensors/hall/temp' },
  {
    name: 'subscribe wholly inside a deny is refused (mosquitto: granted, delivers nothing)',
    acl: MAIN_ACL,
    subject: user('alice'),
    access: 'subscribe',
    topic: 'sensors/secret/+',
    expected: false,
    verify: true,
    probe: 'sensors/secret/key',
  },
  {
    name: 'subscribe with no readable topic is refused (mosquitto: granted, delivers nothing)',
    acl: MAIN_ACL,
    subject: anon('a1'),
    access: 'subscribe',
    topic: 'private/#',
    expected: false,
    verify: true,
    probe: 'private/x',
  },
  { name: 'subscribe $SYS/# is not granted by #', acl: MAIN_ACL, subject: user('bob'), access: 'subscribe', topic: '$SYS/#', expected: false, verify: true, probe: '$SYS/broker/version' },
  { name: 'subscribe through a %c pattern', acl: MAIN_ACL, subject: anon('dev1'), access: 'subscribe', topic: 'devices/dev1/#', expected: true, verify: true, probe: 'devices/dev1/state' },
  { name: 'subscribe a shared subscription', acl: MAIN_ACL, subject: user('alice'), access: 'subscribe', topic: '$share/g/sensors/#', expected: true },
  { name: 'subscribe overlapping a deny only in part', acl: MAIN_ACL, subject: user('alice'), access: 'subscribe', topic: 'sensors/+/key', expected: true },
  { name: 'unknown user with no patterns matching', acl: DENY_FIRST_ACL, subject: user('dave'), access: 'read', topic: 'logs/public/1', expected: false, verify: true },
];

describe('AclFile.check', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const acl = AclFile.parse(c.acl, 'test.acl');
      assert.equal(acl.check(c.subject, c.access, c.topic), c.expected);
    });
  }

  it('has at least 25 cases, at least 10 verified against mosquitto', () => {
    assert.ok(CASES.length >= 25);
    assert.ok(CASES.filter((c) => c.verify).length >= 10);
  });
});

describe('AclFile.parse', () => {
  it('reports every bad line with file:line and a fix', () => {
    const text = [
      'user alice', // 1
      'Topic read a/#', // 2: keyword case
      'topic maybe a/b', // 3: access word
      'topic read a/#/b', // 4: filter
      'user', // 5: no name
      'topic read', // 6: access word only
      'pattern read $share/g/x', // 7: shared
      'allow all', // 8: unknown keyword
      'topic read fine/#', // 9: ok
    ].join('\n');
    const err = (() => {
      try {
        AclFile.parse(text, 'bad.acl');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(
      err.issues.map((i) => i.line),
      [2, 3, 4, 5, 6, 7, 8],
    );
    for (const issue of err.issues) {
      assert.match(issue.message, new RegExp(`^bad\\.acl:${issue.line}: .+\\. Fix: .+`));
    }
    assert.match(err.issues[0]?.message ?? '', /lower case/);
    assert.match(err.issues[1]?.message ?? '', /invalid access "maybe"/);
    assert.match(err.issues[4]?.message ?? '', /no topic filter/);
    assert.match(err.message, /7 problems/);
  });

  it('accepts comments, blank lines, CRLF, extra spaces and filters with spaces', () => {
    const acl = AclFile.parse('# c\r\n\r\n   # indented\r\nuser   ann lee  \r\ntopic   read   my topic/#  \r\n', 'ok.acl');
    assert.equal(acl.check(user('ann lee'), 'read', 'my topic/x'), true);
    assert.equal(acl.check(user('ann lee'), 'write', 'my topic/x'), false);
  });

  it('describe() counts sections and keeps rules in file order with their lines', () => {
    const d = AclFile.parse(MAIN_ACL, 'main.acl').describe();
    assert.equal(d.users, 3);
    assert.equal(d.patterns, 4);
    assert.equal(d.anonymousRules, 2);
    assert.deepEqual(d.rules[0], { kind: 'topic', username: undefined, access: 'read', filter: 'public/#', source: { file: 'main.acl', line: 3 } });
    const deny = d.rules.find((r) => r.access === 'deny' && r.kind === 'pattern');
    assert.deepEqual(deny, { kind: 'pattern', username: undefined, access: 'deny', filter: 'devices/%c/locked', source: { file: 'main.acl', line: 21 } });
    assert.equal(d.rules.find((r) => r.filter === 'ops/#')?.username, 'ops team');
  });

  it('load() reports an unreadable file as a ConfigError naming the path', async () => {
    const missing = join(tmpdir(), 'moat-no-such-dir', 'acl');
    await assert.rejects(AclFile.load(missing), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.issues[0]?.kind, 'file');
      assert.equal(err.issues[0]?.line, 0);
      assert.match(err.message, new RegExp(`${missing}: cannot read the ACL file \\(ENOENT\\)\\. Fix: `));
      return true;
    });
  });

  it('load() reads and parses a file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'moat-acl-'));
    try {
      const file = join(dir, 'acl');
      await writeFile(file, DENY_FIRST_ACL);
      const acl = await AclFile.load(file);
      assert.equal(acl.file, file);
      assert.equal(acl.check(user('carol'), 'read', 'logs/x'), true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// Runs the verified cases against Debian's mosquitto 2.0.11 (acl_file, allow_anonymous true, no
// password file, so -u alone sets the username). A superuser section is appended to publish and
// observe; it does not change what other clients may do.
describe('AclFile matches mosquitto 2.0.11', { timeout: 60_000 }, () => {
  const ADMIN = 'moat-admin';
  const NEGATIVE_WAIT_MS = 400;
  const SYS_VERSION = '$SYS/broker/version';
  const SYS_VERSION_PAYLOAD = 'mosquitto version 2.0.11';
  const brokers = new Map<string, RunningBroker>();
  let dir = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'moat-acl-mosq-'));
    // Started as root, mosquitto reads acl_file after dropping to its own user.
    await chmod(dir, 0o755);
    const acls = [...new Set(CASES.filter((c) => c.verify).map((c) => c.acl))];
    for (const [i, acl] of acls.entries()) {
      const file = join(dir, `acl${i}`);
      await writeFile(file, `${acl}\nuser ${ADMIN}\ntopic readwrite #\n`, { mode: 0o644 });
      brokers.set(acl, await startMosquitto({ config: `acl_file ${file}` }));
    }
  });

  after(async () => {
    await Promise.all([...brokers.values()].map((b) => b.stop()));
    await rm(dir, { recursive: true, force: true });
  });

  const clientArgs = (subject: AclSubject): string[] => [
    '-i',
    subject.clientId,
    ...(subject.username === undefined ? [] : ['-u', subject.username]),
  ];

  // The wait starts once the publish was acknowledged (QoS 1), so a delivered message is already on its way.
  const delivered = async (sub: MosquittoSub, payload: string): Promise<boolean> => {
    const seen = (lines: readonly string[]): boolean => lines.some((l) => l.endsWith(` ${payload}`));
    try {
      await sub.waitForMessages(seen, NEGATIVE_WAIT_MS);
      return true;
    } catch {
      return false;
    }
  };

  /** Does a subscription by `subject` to `filter` receive a message published on `topic`? */
  async function receives(broker: RunningBroker, subject: AclSubject, filter: string, topic: string, payload: string): Promise<boolean> {
    const sub = await startMosquittoSub([...brokerArgs(broker), ...clientArgs(subject), '-t', filter, '-v', '-q', '1']);
    try {
      // Clients may not publish to $SYS; the broker's retained $SYS/broker/version is the probe there.
      if (topic === SYS_VERSION) return await delivered(sub, SYS_VERSION_PAYLOAD);
      await runMosquittoPub([...brokerArgs(broker), '-i', `${ADMIN}-pub`, '-u', ADMIN, '-t', topic, '-m', payload, '-q', '1']);
      return await delivered(sub, payload);
    } finally {
      await sub.stop();
    }
  }

  /** Does a publish by `subject` on `topic` reach a superuser subscriber? */
  async function publishes(broker: RunningBroker, subject: AclSubject, topic: string, payload: string): Promise<boolean> {
    const sub = await startMosquittoSub([...brokerArgs(broker), '-i', `${ADMIN}-sub`, '-u', ADMIN, '-t', topic, '-v', '-q', '1']);
    try {
      await runMosquittoPub([...brokerArgs(broker), ...clientArgs(subject), '-t', topic, '-m', payload, '-q', '1']);
      return await delivered(sub, payload);
    } finally {
      await sub.stop();
    }
  }

  for (const [i, c] of CASES.entries()) {
    if (!c.verify) continue;
    it(c.name, async () => {
      const broker = brokers.get(c.acl);
      assert.ok(broker);
      const payload = `case-${i}`;
      const observed =
        c.access === 'write'
          ? await publishes(broker, c.subject, c.topic, payload)
          : c.access === 'read'
            ? await receives(broker, c.subject, c.topic, c.topic, payload)
            : await receives(broker, c.subject, c.topic, c.probe ?? assert.fail('subscribe case without probe'), payload);
      assert.equal(observed, c.mosquittoDelivers ?? c.expected);
    });
  }
});
