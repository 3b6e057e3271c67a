/**
 * A real pod: `podbench run --target podman` plays the generated manifest with podman, and the
 * two containers must share localhost, the IPC namespace and the volumes for every case to pass.
 * Afterwards no pod, container or volume of the run is left, on success and on Ctrl-C.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { ResultsDocument } from '../agents/contract/schema.js';
import { podman } from '../bench/targets/podman/podman-cli.js';
import { interruptFirstCase, runCli, startCli, waitForStderr } from './helpers/run-cli.js';
import { NOTHING_LEFT, newLeftovers, snapshotLeftovers } from './helpers/leftovers.js';

/** What podman holds of podbench: pods, containers and the runs' volumes. */
async function podmanLeftovers(): Promise<string[]> {
  const pods = (await podman(['pod', 'ps', '--format', '{{.Name}}']))
    .split('\n')
    .filter((n) => n.startsWith('podbench-'));
  const containers = (await podman(['ps', '--all', '--format', '{{.Names}}']))
    .split('\n')
    .filter((n) => n.startsWith('podbench-'));
  const volumes = (await podman(['volume', 'ls', '--format', '{{.Name}}']))
    .split('\n')
    .filter((n) => /^(disk|tmpfs|app|agent)-|^podbench-/.test(n));
  return [...pods, ...containers, ...volumes];
}

describe('podman target', () => {
  before(async () => {
    // The first run builds the agent image; do it here so the timed tests below do not include it.
    const r = await runCli(['image', 'build', '--from-host']);
    assert.equal(r.code, 0, r.stderr);
  });

  it('runs every IPC channel between the two containers of one real pod', async () => {
    const before_ = snapshotLeftovers();
    const outDir = mkdtempSync(join(tmpdir(), 'pbtest-'));
    try {
      const r = await runCli([
        'run',
        '--target',
        'podman',
        '--channels',
        [
          'tcp,uds,udp,uds-dgram,fifo,tmpfs-file,shm,shm-sem,mmap,tmpfs-mmap,tail,tmpfs-tail',
          'http1,http1-uds,h2,h2-uds,grpc,grpc-uds,mq,sysv-mq',
        ].join(','),
        '--modes',
        'latency',
        '--sizes',
        '64',
        '--duration',
        '300ms',
        '--warmup',
        '20ms',
        '--verify',
        'full',
        '--out-dir',
        outDir,
        '-o',
        'json',
      ]);
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(readFileSync(join(outDir, 'results.json'), 'utf8')) as ResultsDocument;
      assert.equal(doc.run.target, 'podman');
      assert.match(doc.environment!.hostname, /^podbench-/, 'the agents ran inside the pod');
      assert.equal(doc.environment!.dirs.disk!.path, '/podbench/disk');
      for (const c of doc.cases) {
        assert.equal(c.status, 'ok', `${c.channel}: ${c.reason}`);
        assert.equal(c.errors, 0);
        assert.ok(c.messages > 10);
      }
      for (const c of doc.cases.filter((x) => /^(http1|h2|grpc)/.test(x.channel))) {
        // The protocol's headers and framing, counted from the responder's socket in the pod.
        const request = Number(c.details?.['responder.wireBytesInPerMessage']);
        assert.ok(request > c.sizeBytes, `${c.channel}: ${request} bytes a request on the wire`);
      }
      const udp = doc.cases.find((c) => c.channel === 'udp')!;
      assert.equal(udp.loss?.sent, udp.messages + udp.loss!.lost, 'udp counts its losses in the pod too');
      // podman backs emptyDir {medium: Memory} with disk; the case must say so.
      for (const channel of ['tmpfs-file', 'tmpfs-mmap', 'tmpfs-tail']) {
        const tmpfsCase = doc.cases.find((c) => c.channel === channel)!;
        assert.equal(typeof tmpfsCase.details?.fsType, 'string', channel);
        if (tmpfsCase.details?.fsType !== 'tmpfs')
          assert.match(String(tmpfsCase.details?.warning), /not tmpfs/, channel);
      }
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
    assert.deepEqual(await podmanLeftovers(), []);
    assert.deepEqual(newLeftovers(before_, snapshotLeftovers()), NOTHING_LEFT);
  });

  it('delivers the agent in a ConfigMap to a plain Node image, as on a cluster', async () => {
    const node = await runCli(['image', 'build', '--from-host', '--node-only']);
    assert.equal(node.code, 0, node.stderr);
    const outDir = mkdtempSync(join(tmpdir(), 'pbtest-'));
    try {
      const r = await runCli([
        'run',
        '--target',
        'podman',
        '--node-image',
        node.stdout.trim(),
        '--channels',
        'uds,shm,mq',
        '--modes',
        'latency',
        '--sizes',
        '64',
        '--duration',
        '200ms',
        '--warmup',
        '0ms',
        '--out-dir',
        outDir,
        '-o',
        'json',
      ]);
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout) as ResultsDocument;
      assert.deepEqual(
        doc.cases.map((c) => c.status),
        ['ok', 'ok', 'ok'],
      );
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
    assert.deepEqual(await podmanLeftovers(), []);
  });

  /** Starts a podman run and SIGKILLs podbench once the first case is done: its pod stays. */
  async function killedPodmanRun(): Promise<void> {
    const outDir = mkdtempSync(join(tmpdir(), 'pbtest-'));
    const run = startCli([
      'run',
      '--target',
      'podman',
      '--channels',
      'tcp,uds,shm,mq',
      '--modes',
      'latency',
      '--sizes',
      '64',
      '--duration',
      '2s',
      '--warmup',
      '0ms',
      '--out-dir',
      join(outDir, 'out'),
    ]);
    await waitForStderr(run, (s) => s.includes('[1/4]') && s.includes(' ok '), 60_000);
    run.child.kill('SIGKILL');
    assert.equal((await run.result).signal, 'SIGKILL');
    rmSync(outDir, { recursive: true, force: true });
    assert.notDeepEqual(await podmanLeftovers(), [], 'the killed run left its pod');
  }
  const runDirs = () => readdirSync(tmpdir()).filter((n) => n.startsWith('podbench-podman-'));

  it(
    'kill -9 of podbench: doctor lists what it left, clean --target podman lists it (--dry-run), ' +
      'then removes pod, containers, volumes and directory',
    async () => {
      await killedPodmanRun();
      const doctor = await runCli(['doctor', '-o', 'json']);
      const leftovers = (JSON.parse(doctor.stdout) as { area: string; status: string; detail: string }[]).find(
        (c) => c.area === 'podman leftovers',
      );
      assert.equal(leftovers?.status, 'warn', doctor.stdout);
      assert.match(leftovers!.detail, /podbench clean --target podman/);
      const dry = await runCli(['clean', '--target', 'podman', '--dry-run']);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(
        dry.stdout,
        /^run \w+ \(podbench pid \d+ is gone\): pod podbench-\w+, \d volume\(s\), directory \S+podbench-podman-\w+$/m,
      );
      assert.match(dry.stdout, /would remove 1 podman run \(pods, containers, volumes, directories\) \(--dry-run\)/);
      assert.notDeepEqual(await podmanLeftovers(), [], '--dry-run removes nothing');
      const r = await runCli(['clean', '--target', 'podman']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /removed 1 podman run/);
      assert.deepEqual(await podmanLeftovers(), []);
      assert.deepEqual(runDirs(), []);
    },
  );

  it('kill -9 of podbench: the next podman run removes what it left and says so', async () => {
    await killedPodmanRun();
    const outDir = mkdtempSync(join(tmpdir(), 'pbtest-'));
    try {
      const r = await runCli([
        'run',
        '--target',
        'podman',
        '--channels',
        'uds',
        '--modes',
        'latency',
        '--sizes',
        '64',
        '--duration',
        '100ms',
        '--warmup',
        '0ms',
        '--out-dir',
        join(outDir, 'out'),
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stderr,
        /removed what 1 earlier podman run\(s\) whose podbench was killed left: run \w+ \(podbench pid \d+ is gone\): pod podbench-\w+/,
      );
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
    assert.deepEqual(await podmanLeftovers(), []);
    assert.deepEqual(runDirs(), []);
  });

  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGHUP', 129],
  ] as const) {
    it(
      `${signal === 'SIGINT' ? 'Ctrl-C' : 'SIGHUP (a closed terminal)'} ` +
        'mid-run stops and removes the pod, keeping the finished cases',
      async () => {
        const outDir = mkdtempSync(join(tmpdir(), 'pbtest-'));
        try {
          const run = startCli([
            'run',
            '--target',
            'podman',
            '--channels',
            'tcp,uds,shm,mq',
            '--modes',
            'latency',
            '--sizes',
            '64',
            '--duration',
            '1s',
            '--warmup',
            '0ms',
            '--out-dir',
            outDir,
          ]);
          await waitForStderr(run, (s) => s.includes('[1/4]') && s.includes(' ok '), 60_000);
          run.child.kill(signal);
          const r = await run.result;
          assert.equal(r.code, code, r.stderr);
          const doc = JSON.parse(readFileSync(join(outDir, 'results.json'), 'utf8')) as ResultsDocument;
          assert.ok(doc.cases.length >= 1 && doc.cases.length <= 4);
          assert.equal(doc.cases[0]!.status, 'ok');
          assert.equal(doc.run.complete, false);
          assert.equal(doc.run.incompleteReason, `interrupted by ${signal}`);
        } finally {
          rmSync(outDir, { recursive: true, force: true });
        }
        assert.deepEqual(await podmanLeftovers(), []);
      },
    );
  }

  it(
    'Ctrl-C in the middle of a 60 s case: the agents end it at once, ' +
      'the pod is gone within seconds, the case is recorded as interrupted',
    async () => {
      const outDir = mkdtempSync(join(tmpdir(), 'pbtest-'));
      try {
        // Stopping and removing the pod takes podman a few seconds; the 60 s case does not wait for its end.
        await interruptFirstCase(
          ['--target', 'podman', '--channels', 'shm', '--modes', 'latency', '--sizes', '64', '--warmup', '0ms'],
          outDir,
          2000,
          15_000,
        );
      } finally {
        rmSync(outDir, { recursive: true, force: true });
      }
      assert.deepEqual(await podmanLeftovers(), []);
    },
  );
});
