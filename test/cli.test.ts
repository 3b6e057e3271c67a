/**
 * The built CLI as a user meets it: bad flag values (one line naming the flag, exit 2, no stack),
 * --dry-run, -o json checked against the shipped JSON Schema, and `podbench channels`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { CHANNEL_IDS } from '../agents/contract/channels.js';
import { resultsJsonSchema, type Plan, type ResultsDocument } from '../agents/contract/schema.js';
import { CLI, runCli } from './helpers/run-cli.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHIPPED_SCHEMA = join(ROOT, 'agents', 'contract', 'results.schema.json');

describe('bad input', () => {
  const cases: [string[], RegExp][] = [
    [['run', '--sizes', '7x'], /--sizes.*"7x" is not allowed.*k, Ki, M or Mi/],
    [['run', '--sizes', '8'], /--sizes.*from 16/],
    [['run', '--channels', 'tcp,carrier-pigeon'], /--channels.*unknown channel "carrier-pigeon".*allowed: tcp, uds/],
    [['run', '--modes', 'fast'], /--modes.*allowed: latency, throughput/],
    [['run', '--duration', '5'], /--duration.*with a unit: ms, s or m/],
    [['run', '--warmup', '-1s'], /--warmup/],
    [['run', '--repeat', '0'], /--repeat.*1 to 100/],
    [['run', '--connect-timeout', '500ms'], /--connect-timeout.*from 1s to 60m/],
    [['run', '--pin', 'left'], /--pin.*none, same, split/],
    [['run', '--verify', 'some'], /--verify.*sample, full/],
    [['run', '--driver', 'deno'], /--driver.*libc, node/],
    [['run', '--target', 'mars'], /--target.*auto, local/],
    [['run', '-o', 'xml'], /--output.*table, json/],
    [['run', '--label', 'has space'], /--label/],
    [
      ['run', '--label', 'a\u202eb\nc\u001b[31m'],
      /--label <name>' argument 'a\\u\{202e\}b\\u\{a\}c\\u\{1b\}\[31m' is invalid\. use 1 to 64 letters \(of any script\)/,
    ],
    [['run', '--cpu', '0'], /--cpu.*above zero/],
    [['manifest', '--cpu', '0m'], /--cpu.*above zero/],
    [['run', '--node', ''], /--node.*use a node name/],
    [['manifest', '--node', 'UPPER_case!'], /--node.*use a node name/],
    [['run', '--memory', '0'], /^podbench: --memory 0 is less than an agent needs with 1 MiB messages: at least \d+Mi/],
    [
      ['manifest', '--memory', '1', '--sizes', '64'],
      /^podbench: --memory 1 is less than an agent needs with 64 B messages: at least \d+Mi/,
    ],
    [
      ['run', '--dry-run', '--memory', '48Mi', '--sizes', '1Mi'],
      /^podbench: --memory 48Mi is less than an agent needs with 1 MiB messages: at least 56Mi$/,
    ],
    [
      ['manifest', '--volume-size', '1k'],
      /^podbench: --volume-size 1k is less than the file channels keep in a volume with 1 MiB messages: at least 10Mi \(9 messages and 1 MiB\)$/,
    ],
    [
      ['run', '--volume-size', '4Mi', '--channels', 'tmpfs-file', '--sizes', '512Ki'],
      /^podbench: --volume-size 4Mi is less than .* with 512 KiB messages: at least 6Mi/,
    ],
    [['run', '--out-dir', ''], /--out-dir.*use a directory path/],
    [['run', '--dry-run', '--out-dir', ' '], /--out-dir.*use a directory path/],
    [
      ['run', '--out-dir', '/proc/podbench-results'],
      /^podbench: --out-dir \/proc\/podbench-results is under \/proc, a kernel filesystem where no directory can be made$/,
    ],
    [['run', '--out-dir', '/etc/hostname'], /^podbench: --out-dir \/etc\/hostname is a file, not a directory$/],
    [['run', '--rate', '1k'], /^podbench: --rate applies to rate mode only: add rate to --modes/],
    [['run', '--modes', 'latency', '--on-late', 'drop'], /^podbench: --on-late applies to rate mode only/],
    [['run', '--modes', 'rate', '--rate', '5x'], /--rate.*"5x" is not allowed.*k or M suffix.*or sweep/],
    [['run', '--modes', 'rate', '--arrival', 'bursty'], /--arrival.*uniform, poisson/],
    [['run', '--modes', 'rate', '--latency-limit', '1'], /--latency-limit.*with a unit/],
    [['run', '--connections', '0'], /--connections.*"0" is not allowed.*1 to 64/],
    [['run', '--sessions', '0'], /--sessions.*1 to 64/],
    [['run', '--in-flight', 'many'], /--in-flight.*1 to 64/],
    [['run', '--no-such-flag'], /unknown option '--no-such-flag'/],
    [['run', '--repeat', '100'], new RegExp(`the plan has ${CHANNEL_IDS.length * 2 * 5 * 100} cases .*at most 1000`)],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ];
  for (const [args, expected] of cases) {
    it(`podbench ${args.join(' ')}`, async () => {
      const r = await runCli(args);
      assert.equal(r.code, 2, r.stderr);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`);
      assert.match(lines[0]!, /^podbench: /);
      assert.match(lines[0]!, expected);
      assert.equal(r.stdout, '');
    });
  }

  it('takes a --memory and --volume-size that fit the plan', async () => {
    const fits = await runCli(['manifest', '--memory', '256Mi', '--volume-size', '10Mi']);
    assert.equal(fits.code, 0, fits.stderr);
    // No file channel in the plan: the volumes hold only sockets and the journal.
    const noFiles = await runCli(['run', '--dry-run', '--channels', 'shm,tcp', '--volume-size', '1Mi']);
    assert.equal(noFiles.code, 0, noFiles.stderr);
  });

  it('accepts a --label in any script', async () => {
    const r = await runCli(['run', '--label', 'café-日本語', '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
  });

  it('a deleted current directory with the default --out-dir: one line at once, not a hang', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pbtest-gone-'));
    // The shell leaves the directory podbench then starts in.
    const r = spawnSync(
      'sh',
      ['-c', `cd "$1" && rmdir "$1" && exec "$2" "$3" run --channels uds`, 'sh', dir, process.execPath, CLI],
      { encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(r.status, 2, r.stderr);
    assert.match(
      r.stderr,
      /^podbench: the current directory no longer exists, so the default --out-dir podbench-results\/\S+ cannot be made in it; cd to a directory that exists or pass an absolute --out-dir\n$/,
    );
  });

  it('refuses an --out-dir that already holds results', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pbtest-'));
    try {
      const first = await runCli([
        'run',
        '--channels',
        'uds',
        '--modes',
        'latency',
        '--sizes',
        '64',
        '--duration',
        '20ms',
        '--warmup',
        '0ms',
        '--out-dir',
        dir,
      ]);
      assert.equal(first.code, 0, first.stderr);
      const second = await runCli(['run', '--channels', 'uds', '--out-dir', dir]);
      assert.equal(second.code, 2);
      assert.match(second.stderr, /^podbench: --out-dir .* already holds a results\.json/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('--dry-run', () => {
  it('prints the plan as a table and runs nothing', async () => {
    const r = await runCli(['run', '--dry-run', '--channels', 'tcp,shm', '--sizes', '64,1Mi', '--repeat', '2']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^16 cases on target auto/);
    assert.match(r.stdout, /shm throughput 1 MiB #2/);
  });

  it('prints the plan as JSON with -o json, --quick presets applied, explicit flags winning', async () => {
    const r = await runCli(['run', '--dry-run', '--quick', '--duration', '300ms', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const plan = JSON.parse(r.stdout) as Plan;
    assert.equal(plan.settings.durationMs, 300);
    assert.equal(plan.settings.warmupMs, 50);
    assert.deepEqual([...new Set(plan.cases.map((c) => c.sizeBytes))], [64, 65536]);
    assert.equal(plan.cases.length, CHANNEL_IDS.length * 2 * 2);
  });
});

describe('results document', () => {
  it('the shipped results.schema.json is the schema the code validates with', () => {
    assert.equal(readFileSync(SHIPPED_SCHEMA, 'utf8'), resultsJsonSchema(), 'run `npm run schema` to regenerate it');
  });

  it('-o json prints a document valid against the shipped JSON Schema', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pbtest-'));
    try {
      const r = await runCli([
        'run',
        '--channels',
        'tcp,mq',
        '--modes',
        'latency,throughput',
        '--sizes',
        '64,16Ki',
        '--duration',
        '50ms',
        '--warmup',
        '0ms',
        '--out-dir',
        dir,
        '-o',
        'json',
      ]);
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout) as ResultsDocument;
      const ajv = new Ajv({ strict: false });
      addFormats.default(ajv);
      const validate = ajv.compile(JSON.parse(readFileSync(SHIPPED_SCHEMA, 'utf8')));
      assert.ok(validate(doc), JSON.stringify(validate.errors));
      assert.ok(doc.environment!.cpuCount >= 1);
      assert.ok(doc.harnessFloor!.clockReadNs > 0 && doc.harnessFloor!.ffiCallNs > 0);
      assert.deepEqual(
        doc.cases.map((c) => c.status),
        ['ok', 'ok', 'ok', 'ok', 'ok', 'skipped', 'ok', 'skipped'],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('podbench channels', () => {
  it('lists every channel with whether this host supports it', async () => {
    const r = await runCli(['channels', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const support = JSON.parse(r.stdout) as { id: string; supported: boolean; note: string }[];
    assert.deepEqual(
      support.map((s) => s.id),
      [...CHANNEL_IDS],
    );
    for (const s of support) assert.equal(s.supported, true, `${s.id}: ${s.note}`);
    // What one of --connections N is, from the registry; udp's datagrams may be lost: one only.
    const connections = Object.fromEntries(
      (support as unknown as { id: string; connections: string }[]).map((s) => [s.id, s.connections]),
    );
    assert.equal(connections.tcp, 'connections');
    assert.equal(connections.h2, 'streams');
    assert.equal(connections.mq, 'queue pairs');
    assert.equal(connections.shm, 'rings');
    assert.equal(connections.udp, 'one only');
  });
});

describe('--pin', () => {
  const placements = async (pin: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'pbtest-'));
    try {
      const r = await runCli([
        'run',
        '--channels',
        'uds',
        '--modes',
        'latency',
        '--sizes',
        '64',
        '--duration',
        '30ms',
        '--warmup',
        '0ms',
        '--pin',
        pin,
        '--out-dir',
        dir,
        '-o',
        'json',
      ]);
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as ResultsDocument).cases[0]!.placement!;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  it('same: both agents allowed on one and the same CPU, and found there', async () => {
    const p = await placements('same');
    assert.equal(p.initiator.allowedCpus.length, 1);
    assert.deepEqual(p.responder.allowedCpus, p.initiator.allowedCpus);
    assert.equal(p.initiator.cpuAtStart, p.initiator.allowedCpus[0]);
    assert.equal(p.responder.cpuAtEnd, p.initiator.allowedCpus[0]);
  });
  it('split: one CPU each', async () => {
    const p = await placements('split');
    assert.equal(p.initiator.allowedCpus.length, 1);
    assert.equal(p.responder.allowedCpus.length, 1);
    assert.notEqual(p.initiator.allowedCpus[0], p.responder.allowedCpus[0]);
  });
});
