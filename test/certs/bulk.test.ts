// Bulk issuance for manufacturing: `moat certs --clients 50 --client-prefix sensor-` writes one
// P-256 certificate and key per device into <dir>/clients (never beside ca.key) with a manifest
// whose fingerprints are the files'; all 50 log in to a require_certificate +
// use_identity_as_username listener as their own CN, which `pattern write devices/%u/#` proves: each
// one's publish on its own topic arrives, on a neighbour's it is refused. A later batch
// (--clients-from FILE) reuses the CA, keeps the server certificate and adds to the manifest.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { idsFromFile, MAX_DEVICES, mergeManifest, numberedIds, type ManifestRow } from '../../src/certs/devices.js';
import { CertsError, generateCerts } from '../../src/certs/generate.js';
import { connect, type MqttClient } from '../../src/client/index.js';
import { moatCommand, startMoat, type RunningMoat } from '../kit/moat.js';
import { spawnTracked, type TrackedProcess } from '../kit/process.js';
import { until } from '../kit/wait.js';

let root: string;

before(() => {
  root = mkdtempSync(join(tmpdir(), 'moat-certs-bulk-'));
});

after(() => {
  rmSync(root, { recursive: true, force: true });
});

async function moatCerts(args: string[]): Promise<TrackedProcess> {
  const { command, args: argv } = moatCommand(['certs', ...args]);
  const run = await spawnTracked(command, argv, { name: 'moat certs' });
  await run.exited;
  return run;
}

function manifest(path: string): Array<Record<string, string>> {
  const [header, ...rows] = readFileSync(path, 'utf8').trimEnd().split('\n');
  const columns = (header ?? '').split(',');
  return rows.map((row) => Object.fromEntries(row.split(',').map((value, i) => [columns[i] ?? '', value])));
}

describe('device ids', () => {
  test('--clients N: numbered from 1, zero-padded to 4 digits or to N’s width; 1 and 100,000 are the edges', () => {
    assert.deepEqual(numberedIds(1, 'sensor-'), ['sensor-0001']);
    assert.deepEqual(numberedIds(3, ''), ['0001', '0002', '0003']);
    const most = numberedIds(MAX_DEVICES, 'd');
    assert.equal(most.length, 100_000);
    assert.deepEqual([most[0], most[9999], most[99_999]], ['d000001', 'd010000', 'd100000']);
    for (const bad of [0, -1, 1.5, MAX_DEVICES + 1, Number.NaN]) assert.throws(() => numberedIds(bad, 'x'), (e: unknown) => e instanceof CertsError && /--clients must be a whole number from 1 to 100000/.test(e.message));
    assert.throws(() => numberedIds(2, 'bad/prefix-'), (e: unknown) => e instanceof CertsError && /--client-prefix "bad\/prefix-" makes device ids like "bad\/prefix-0002"/.test(e.message));
    assert.throws(() => numberedIds(2, '-x'), CertsError, 'an id must start with a letter or digit');
    // An id is at most 64 characters: a 60-character prefix and 4 digits is the longest.
    assert.equal(numberedIds(2, 'x'.repeat(60))[1], `${'x'.repeat(60)}0002`);
    assert.throws(() => numberedIds(2, 'x'.repeat(61)), CertsError);
  });

  test('--clients-from: blank lines and # comments skipped, ids trimmed; a bad or repeated id names file:line', async () => {
    const file = join(root, 'ids.txt');
    writeFileSync(file, '# batch 7\n\nboiler-a1\n  pump.b2@site3  \r\n# done\n');
    assert.deepEqual(await idsFromFile(file), ['boiler-a1', 'pump.b2@site3']);
    writeFileSync(file, 'ok-1\n\nnot ok\n');
    await assert.rejects(idsFromFile(file), (e: unknown) => e instanceof CertsError && e.message.startsWith(`${file}:3: device id "not ok" must be`));
    writeFileSync(file, 'a\nb\n# c\nB\n');
    await assert.rejects(idsFromFile(file), (e: unknown) => e instanceof CertsError && e.message === `${file}:4: device id "B" is already on line 2; each device needs its own id.`);
    writeFileSync(file, 'server\n');
    await assert.rejects(idsFromFile(file), (e: unknown) => e instanceof CertsError && /:1: device id "server" is taken by the server files/.test(e.message));
    writeFileSync(file, '# nothing\n\n');
    await assert.rejects(idsFromFile(file), (e: unknown) => e instanceof CertsError && /lists no device ids/.test(e.message));
    await assert.rejects(idsFromFile(join(root, 'missing.txt')), (e: unknown) => e instanceof CertsError && /cannot read --clients-from .*ENOENT/.test(e.message));
  });

  test('the manifest of a later batch keeps earlier rows, replaces reissued ones in place, appends new ones', () => {
    const row = (id: string, serial: string): ManifestRow => ({ id, cert: `${id}.crt`, key: `${id}.key`, sha256: 'AA', serial, notAfter: '2030-01-01T00:00:00.000Z' });
    assert.deepEqual(mergeManifest([row('a', '1'), row('b', '1')], [row('b', '2'), row('c', '2')]), [row('a', '1'), row('b', '2'), row('c', '2')]);
  });
});

describe('moat certs --clients 50 --client-prefix sensor-', () => {
  let dir: string;
  let clientsDir: string;
  let moat: RunningMoat;
  let run: TrackedProcess;
  const ids = Array.from({ length: 50 }, (_, i) => `sensor-${String(i + 1).padStart(4, '0')}`);

  before(async () => {
    dir = join(root, 'fleet');
    clientsDir = join(dir, 'clients');
    run = await moatCerts(['--dir', dir, '--clients', '50', '--client-prefix', 'sensor-', '--client', 'monitor']);
    assert.equal(run.exitResult?.code, 0, run.formatLogs());
    const acl = join(dir, 'acl');
    // Each device may write only under its own user name; the monitor reads them all.
    writeFileSync(acl, 'user monitor\ntopic read devices/#\npattern write devices/%u/#\n');
    moat = await startMoat({
      config: `listener 0 127.0.0.1\ncafile ${join(dir, 'ca.crt')}\ncertfile ${join(dir, 'server.crt')}\nkeyfile ${join(dir, 'server.key')}\nrequire_certificate true\nuse_identity_as_username true\nacl_file ${acl}\n`,
    });
  });

  after(async () => {
    await moat?.stop();
  });

  test('the report is short: one line for the batch, one example command, not fifty', () => {
    const out = run.stdout.join('\n');
    assert.match(out, new RegExp(`# Created 50 device certificates \\(ECDSA P-256\\) in ${clientsDir}: sensor-0001 … sensor-0050, each ID\\.crt and ID\\.key with CN=ID\\.`));
    assert.ok(out.includes(`# Manifest (id, cert, key, sha256, serial, not_after): ${join(clientsDir, 'manifest.csv')}`));
    assert.equal(run.stdout.filter((l) => l.startsWith('# mosquitto_pub ')).length, 2, 'monitor and the first device');
    assert.ok(run.stdout.length < 30, out);
  });

  test('files: one P-256 certificate (CN=id, clientAuth, signed by the CA) and 0600 key per device; no CA key among them', () => {
    const ca = new X509Certificate(readFileSync(join(dir, 'ca.crt')));
    const names = readdirSync(clientsDir).sort();
    assert.deepEqual(names, [...ids.flatMap((id) => [`${id}.crt`, `${id}.key`]), 'manifest.csv'].sort());
    assert.ok(!names.some((n) => n.startsWith('ca.')), 'ca.key stays in --dir');
    for (const id of ids) {
      const cert = new X509Certificate(readFileSync(join(clientsDir, `${id}.crt`)));
      assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1', id);
      assert.equal(cert.subject, `CN=${id}`);
      assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.2']);
      assert.equal(cert.verify(ca.publicKey), true, id);
      assert.equal(cert.checkIssued(ca), true, id);
      assert.equal(statSync(join(clientsDir, `${id}.key`)).mode & 0o777, 0o600, id);
    }
  });

  test('the manifest lists every device with its files, SHA-256 fingerprint, serial and notAfter', () => {
    const rows = manifest(join(clientsDir, 'manifest.csv'));
    assert.deepEqual(rows.map((r) => r['id']), ids);
    for (const row of rows) {
      const cert = new X509Certificate(readFileSync(join(clientsDir, row['cert'] ?? '')));
      assert.equal(row['cert'], `${row['id']}.crt`);
      assert.equal(row['key'], `${row['id']}.key`);
      assert.equal(row['sha256'], cert.fingerprint256);
      assert.equal(row['serial'], cert.serialNumber);
      assert.equal(new Date(row['not_after'] ?? '').getTime(), new Date(cert.validTo).getTime());
    }
    assert.equal(new Set(rows.map((r) => r['serial'])).size, 50, 'serials are unique');
  });

  test('all 50 devices connect with their own certificate and are their CN: devices/<id>/# is theirs, a neighbour’s is refused', { timeout: 60_000 }, async () => {
    const ca = readFileSync(join(dir, 'ca.crt'));
    const url = `mqtts://localhost:${moat.port}`;
    const tls = (name: string, where: string): { ca: Buffer; cert: Buffer; key: Buffer } => ({ ca, cert: readFileSync(join(where, `${name}.crt`)), key: readFileSync(join(where, `${name}.key`)) });
    const monitor = await connect(url, { clientId: 'monitor', tls: tls('monitor', dir), reconnect: false });
    const seen: string[] = [];
    monitor.onMessage((m) => seen.push(`${m.topic} ${m.payload.toString()}`));
    assert.deepEqual(await monitor.subscribe('devices/#', { qos: 1 }), [1]);
    const devices: MqttClient[] = [];
    try {
      for (const [i, id] of ids.entries()) {
        const device = await connect(url, { clientId: `bulk-${id}`, tls: tls(id, clientsDir), reconnect: false });
        devices.push(device);
        await device.publish(`devices/${id}/hello`, id, { qos: 1 });
        const neighbour = ids[(i + 1) % ids.length] ?? '';
        await assert.rejects(device.publish(`devices/${neighbour}/hello`, `${id} as ${neighbour}`, { qos: 1 }), (e: unknown) => (e as { reasonCode?: number }).reasonCode === 0x87);
      }
      await until(() => seen.length >= 50, 10_000, 'the 50 device messages');
      assert.deepEqual(seen.sort(), ids.map((id) => `devices/${id}/hello ${id}`).sort());
      const usernames = moat.logs
        .filter((l) => l.includes('"client_connected"'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((r) => String(r['clientId']).startsWith('bulk-'))
        .map((r) => `${String(r['clientId'])}=${String(r['username'])}`);
      assert.deepEqual(usernames.sort(), ids.map((id) => `bulk-${id}=${id}`).sort());
    } finally {
      await Promise.all([monitor, ...devices].map((c) => c.end()));
    }
  });

  test('a second batch from a file reuses the CA, keeps the server certificate and adds to the manifest', async () => {
    const caBefore = readFileSync(join(dir, 'ca.crt'), 'utf8');
    const serverBefore = readFileSync(join(dir, 'server.crt'), 'utf8');
    const list = join(root, 'batch-2.txt');
    writeFileSync(list, '# batch 2\nvalve-17\n\npump-03\n');
    const second = await moatCerts(['--dir', dir, '--clients-from', list]);
    assert.equal(second.exitResult?.code, 0, second.formatLogs());
    assert.match(second.stdout[0] ?? '', /^# Reused the CA .*ECDSA P-256/);
    assert.match(second.stdout[1] ?? '', /^# Kept the server certificate /);
    assert.equal(readFileSync(join(dir, 'ca.crt'), 'utf8'), caBefore);
    assert.equal(readFileSync(join(dir, 'server.crt'), 'utf8'), serverBefore);
    assert.deepEqual(manifest(join(clientsDir, 'manifest.csv')).map((r) => r['id']), [...ids, 'valve-17', 'pump-03']);
    const valve = new X509Certificate(readFileSync(join(clientsDir, 'valve-17.crt')));
    assert.equal(valve.verify(new X509Certificate(caBefore).publicKey), true);

    // The same ids again would overwrite devices already shipped: refused, nothing written.
    const again = await moatCerts(['--dir', dir, '--clients-from', list]);
    assert.equal(again.exitResult?.code, 2);
    assert.match(again.stderr.join('\n'), /^moat certs: .*valve-17\.crt already exists; choose other device ids or another --clients-dir/);
    // A bad line names file:line.
    writeFileSync(list, 'ok-1\nsensor 9\n');
    const bad = await moatCerts(['--dir', dir, '--clients-from', list]);
    assert.equal(bad.exitResult?.code, 2);
    assert.deepEqual(bad.stderr.length, 1);
    assert.match(bad.stderr[0] ?? '', new RegExp(`^moat certs: ${list}:2: device id "sensor 9" must be`));
  });
});

test('--clients-dir puts the devices elsewhere; --key-type rsa devices are RSA-2048; flags that need --clients are refused', async () => {
  const dir = join(root, 'elsewhere');
  const devices = join(root, 'line-3');
  const result = await generateCerts({ dir, devices: ['m-1', 'm-2'], devicesDir: devices, keyType: 'rsa' });
  assert.equal(result.devices?.dir, devices);
  assert.deepEqual(readdirSync(devices).sort(), ['m-1.crt', 'm-1.key', 'm-2.crt', 'm-2.key', 'manifest.csv']);
  assert.equal(new X509Certificate(readFileSync(join(devices, 'm-1.crt'))).publicKey.asymmetricKeyDetails?.modulusLength, 2048);
  for (const [args, message] of [
    [['--client-prefix', 'x-'], /--client-prefix names the devices of --clients N/],
    [['--clients-dir', devices], /--clients-dir is where --clients or --clients-from write/],
    [['--clients', '2', '--clients-from', 'f'], /--clients N or --clients-from FILE, not both/],
    [['--clients', '0'], /--clients must be a whole number from 1 to 100000/],
    [['--clients', 'ten'], /--clients must be a whole number from 1 to 100000, not "ten"/],
    [['--key-type', 'dsa'], /--key-type must be ec \(or p256, the default\) or rsa, not "dsa"/],
  ] as const) {
    const out = await moatCerts(['--dir', join(root, 'refused'), ...args]);
    assert.equal(out.exitResult?.code, 2, args.join(' '));
    assert.match(out.stderr.join('\n'), message);
  }
  assert.throws(() => readdirSync(join(root, 'refused')), /ENOENT/, 'nothing written');
});
