#!/usr/bin/env node
// Makes sure the Debian packages the tests drive are installed (run by `npm test` via "pretest").
// Fast no-op when everything is present; otherwise one `apt-get update` and one
// `apt-get install -y --no-install-recommends <missing>`. Exits non-zero with a clear message on failure.
//
// To add a dependency, add one row to REQUIREMENTS: the Debian package and how to tell it is there.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

/**
 * @typedef {{ package: string, why: string, check: { file: string } | { command: string[] } }} Requirement
 * `file`: an executable path that must exist. `command`: argv that must exit 0.
 * @type {Requirement[]}
 */
const REQUIREMENTS = [
  { package: 'mosquitto', why: 'reference broker for interop tests and benchmarks', check: { file: '/usr/sbin/mosquitto' } },
  { package: 'mosquitto-clients', why: 'mosquitto_pub', check: { file: '/usr/bin/mosquitto_pub' } },
  { package: 'mosquitto-clients', why: 'mosquitto_sub', check: { file: '/usr/bin/mosquitto_sub' } },
  {
    package: 'python3-paho-mqtt',
    why: 'paho interop test (Debian python, not the pyenv one on PATH)',
    check: { command: ['/usr/bin/python3', '-c', 'import paho.mqtt.client'] },
  },
  { package: 'redis-server', why: 'Redis store, bus and cluster tests', check: { file: '/usr/bin/redis-server' } },
  { package: 'chromium', why: 'dashboard end-to-end tests (driven by playwright-core)', check: { file: '/usr/bin/chromium' } },
];

/** @param {Requirement['check']} check */
function isPresent(check) {
  if ('file' in check) {
    try {
      accessSync(check.file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  }
  const [cmd, ...args] = check.command;
  if (cmd === undefined) return false;
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 30_000 });
  return r.status === 0;
}

function describe(check) {
  return 'file' in check ? check.file : check.command.join(' ');
}

function hasCommand(name) {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/** Runs argv (through sudo when needed), echoing it; returns true on exit 0. */
function run(argv, prefix) {
  const full = [...prefix, ...argv];
  console.log(`install-test-deps: $ ${full.join(' ')}`);
  const [cmd, ...args] = full;
  const r = spawnSync(/** @type {string} */ (cmd), args, {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (r.error) console.error(`install-test-deps: could not run ${cmd}: ${r.error.message}`);
  return r.status === 0;
}

function main() {
  const missing = REQUIREMENTS.filter((req) => !isPresent(req.check));
  if (missing.length === 0) return 0;

  for (const req of missing) {
    console.log(`install-test-deps: missing ${describe(req.check)} (${req.why}) -> Debian package ${req.package}`);
  }
  const packages = [...new Set(missing.map((req) => req.package))];

  if (process.platform !== 'linux' || !hasCommand('apt-get')) {
    console.error(
      `install-test-deps: cannot install automatically (no apt-get). Install these packages yourself: ${packages.join(' ')}`,
    );
    return 1;
  }
  /** @type {string[]} */
  let prefix = [];
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) {
    if (!hasCommand('sudo')) {
      console.error(
        `install-test-deps: not root and no sudo. Run as root: apt-get update && apt-get install -y --no-install-recommends ${packages.join(' ')}`,
      );
      return 1;
    }
    prefix = ['sudo', '-n', 'env', 'DEBIAN_FRONTEND=noninteractive'];
  }

  if (!run(['apt-get', 'update'], prefix)) {
    console.error('install-test-deps: `apt-get update` failed; see the output above.');
    return 1;
  }
  if (!run(['apt-get', 'install', '-y', '--no-install-recommends', ...packages], prefix)) {
    console.error(`install-test-deps: installing ${packages.join(' ')} failed; see the output above.`);
    return 1;
  }

  const stillMissing = REQUIREMENTS.filter((req) => !isPresent(req.check));
  if (stillMissing.length > 0) {
    for (const req of stillMissing) {
      console.error(`install-test-deps: still missing after install: ${describe(req.check)} (package ${req.package})`);
    }
    return 1;
  }
  console.log(`install-test-deps: installed ${packages.join(' ')}`);
  return 0;
}

process.exitCode = main();
