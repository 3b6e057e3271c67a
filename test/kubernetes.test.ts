/**
 * The kubernetes target: the real @kubernetes/client-node code against a local server speaking
 * the Kubernetes API (test/helpers/fake-kube-api.ts) that runs each accepted pod for real through
 * podman. Success end to end, and every failure must end in one clear sentence with nothing left
 * behind: forbidden, missing namespace, unschedulable, image pull, a crashing agent, Ctrl-C, the
 * API going away.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ResultsDocument } from '../agents/contract/schema.js';
import { podman } from '../bench/podman.js';
import { runCli, startCli, waitForStderr, type CliRun } from './helpers/cli.js';
import { FakeCluster, type FakeClusterOptions } from './helpers/fake-kube-api.js';

let nodeImage = '';
let outDir = '';

before(async () => {
  // A plain Node image stands in for node:24-slim (no registry here): the agent must arrive in the ConfigMap.
  const r = await runCli(['image', 'build', '--from-host', '--node-only']);
  assert.equal(r.code, 0, r.stderr);
  nodeImage = r.stdout.trim();
});

async function podmanPods(): Promise<string[]> {
  return (await podman(['pod', 'ps', '--format', '{{.Name}}'])).split('\n').filter((n) => n.startsWith('podbench-'));
}

/** Runs podbench against a fresh fake cluster; returns the CLI result and the cluster. */
async function runAgainst(options: FakeClusterOptions, args: string[]) {
  const cluster = new FakeCluster(options);
  await cluster.start();
  outDir = mkdtempSync(join(tmpdir(), 'pbtest-'));
  try {
    const r = await runCli([
      'run', '--target', 'kubernetes', '--kubeconfig', cluster.writeKubeconfig(), '--node-image', nodeImage,
      '--modes', 'latency', '--sizes', '64', '--duration', '200ms', '--warmup', '0ms', '--out-dir', outDir, ...args,
    ]);
    return { r, cluster };
  } finally {
    await cluster.stop();
    rmSync(outDir, { recursive: true, force: true });
  }
}

describe('kubernetes target against a local API server', () => {
  after(async () => assert.deepEqual(await podmanPods(), [], 'no pod left in podman'));

  it('runs the pod, streams results from the log, deletes pod and ConfigMap', async () => {
    const cluster = new FakeCluster();
    await cluster.start();
    const dir = mkdtempSync(join(tmpdir(), 'pbtest-'));
    try {
      const r = await runCli([
        'run', '--target', 'kubernetes', '--kubeconfig', cluster.writeKubeconfig(), '--node-image', nodeImage,
        '--channels', 'uds,shm,mq,sysv-mq', '--modes', 'latency', '--sizes', '64', '--duration', '200ms', '--warmup', '0ms',
        '--cpu', '1', '--memory', '256Mi', '--out-dir', dir, '-o', 'json',
      ]);
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as ResultsDocument;
      assert.equal(doc.run.target, 'kubernetes');
      assert.match(doc.environment!.hostname, /^podbench-/, 'the agents ran in the pod');
      assert.deepEqual(doc.cases.map((c) => `${c.channel}:${c.status}`), ['uds:ok', 'shm:ok', 'mq:ok', 'sysv-mq:ok']);
      assert.match(r.stderr, /namespace bench/, 'the context\'s namespace is used');
      assert.equal(cluster.pods.size, 0, 'pod deleted');
      assert.equal(cluster.configMaps.size, 0, 'ConfigMap deleted');
      const calls = cluster.requests.filter((q) => !q.startsWith('GET'));
      assert.deepEqual(calls.map((c) => c.replace(/podbench-\w+/g, 'X')), [
        'POST /api/v1/namespaces/bench/configmaps',
        'POST /api/v1/namespaces/bench/pods',
        'DELETE /api/v1/namespaces/bench/pods/X',
        'DELETE /api/v1/namespaces/bench/configmaps/X-agent',
      ]);
    } finally {
      await cluster.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a log stream that closes early is followed again without losing or repeating a case', async () => {
    const { r, cluster } = await runAgainst({ cutLogAfterLines: 5 }, ['--channels', 'uds,shm,mq,tcp', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /the initiator's log stream closed while it runs; following it again \(1\)/);
    const doc = JSON.parse(r.stdout) as ResultsDocument;
    assert.deepEqual(doc.cases.map((c) => `${c.index}:${c.channel}:${c.status}`), ['0:uds:ok', '1:shm:ok', '2:mq:ok', '3:tcp:ok']);
    assert.equal(cluster.pods.size, 0);
  });

  const failures: [string, FakeClusterOptions, string[], RegExp][] = [
    ['RBAC forbidden', { forbid: ['create pods'] }, [], /^podbench: forbidden: pods is forbidden: User "tester" cannot create resource "pods".*\n  hint: apply manifests\/rbac\.yaml/],
    ['namespace missing', {}, ['-n', 'nope'], /^podbench: namespace nope does not exist/],
    ['unschedulable', {}, ['--node', 'node-z', '--start-timeout', '3s'], /^podbench: the pod cannot be scheduled: 0\/1 nodes are available/],
    ['image pull failure', {}, ['--image', 'registry.invalid/podbench:1'], /^podbench: the \w+ container's image registry\.invalid\/podbench:1 cannot be pulled \(ErrImagePull\)/],
    ['agent crash', {}, ['--image', 'IMAGE-WITHOUT-AGENT'], /^podbench: the \w+ container exited with 1: .*Cannot find module '\/opt\/podbench\/agent\.mjs'/],
  ];
  for (const [name, options, args, expected] of failures) {
    it(`${name}: one clear sentence, exit 1, nothing left`, async () => {
      const { r, cluster } = await runAgainst(options, ['--channels', 'uds', ...args.map((a) => (a === 'IMAGE-WITHOUT-AGENT' ? nodeImage : a))]);
      assert.equal(r.code, 1, r.stderr);
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('podbench:') || l.startsWith('  hint:'));
      assert.match(lines.join('\n'), expected);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(cluster.pods.size, 0, 'pod deleted');
      assert.equal(cluster.configMaps.size, 0, 'ConfigMap deleted');
    });
  }

  it('deadline exceeded: the run stops with the reason, cases so far kept', async () => {
    const { r, cluster } = await runAgainst({ deadlineSeconds: 4 }, ['--channels', 'uds,shm,mq,tcp,sysv-mq', '--duration', '1s']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /podbench: run incomplete \(the pod ran past its activeDeadlineSeconds/);
    assert.equal(cluster.pods.size, 0);
    assert.equal(cluster.configMaps.size, 0);
  });

  it('a missing or broken kubeconfig, or an unknown context: one line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pbtest-'));
    try {
      const broken = join(dir, 'broken');
      writeFileSync(broken, 'clusters: [this is not: yaml: at all');
      const cases: [string[], RegExp, number][] = [
        [['--kubeconfig', join(dir, 'missing')], /^podbench: the kubeconfig .*missing cannot be read/, 1],
        [['--kubeconfig', broken], /^podbench: the kubeconfig .*broken cannot be read/, 1],
      ];
      const cluster = new FakeCluster();
      await cluster.start();
      cases.push([['--kubeconfig', cluster.writeKubeconfig(), '--context', 'elsewhere'], /^podbench: --context elsewhere is not in the kubeconfig; it has: fake/, 2]);
      for (const [args, expected, code] of cases) {
        const r = await runCli(['run', '--target', 'kubernetes', '--channels', 'uds', '--out-dir', join(dir, 'out'), ...args]);
        assert.equal(r.code, code, r.stderr);
        assert.match(r.stderr.split('\n').find((l) => l.startsWith('podbench:')) ?? '', expected);
        assert.doesNotMatch(r.stderr, /\n\s+at /);
      }
      await cluster.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  /** Starts a 4-case run, lets the first case finish, then does `interrupt`; returns what came of it. */
  async function interruptedRun(interrupt: (run: CliRun, cluster: FakeCluster) => Promise<void>) {
    const cluster = new FakeCluster();
    await cluster.start();
    const dir = mkdtempSync(join(tmpdir(), 'pbtest-'));
    try {
      const run = startCli([
        'run', '--target', 'kubernetes', '--kubeconfig', cluster.writeKubeconfig(), '--node-image', nodeImage,
        '--channels', 'uds,shm,mq,tcp', '--modes', 'latency', '--sizes', '64', '--duration', '1s', '--warmup', '0ms', '--out-dir', dir,
      ]);
      await waitForStderr(run, (s) => /\[1\/4\] .* ok /.test(s), 60_000);
      await interrupt(run, cluster);
      const r = await run.result;
      const doc = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as ResultsDocument;
      return { r, doc, podsLeft: cluster.pods.size, configMapsLeft: cluster.configMaps.size };
    } finally {
      await cluster.stop(); // also removes a pod an unreachable API could not delete
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('Ctrl-C mid-run deletes the pod and the ConfigMap', async () => {
    const { r, podsLeft, configMapsLeft } = await interruptedRun(async (run) => void run.child.kill('SIGINT'));
    assert.equal(r.code, 130, r.stderr);
    assert.equal(podsLeft, 0);
    assert.equal(configMapsLeft, 0);
  });

  it('the API going away mid-run ends the run with what was measured and says why', async () => {
    const { r, doc } = await interruptedRun((_run, cluster) => cluster.goAway());
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /podbench: run incomplete \(.*unreachable.*\)/);
    assert.ok(doc.cases.length >= 1 && doc.cases.length < 4);
    assert.equal(doc.run.complete, false);
  });
});

describe('podbench doctor', () => {
  it('reports the API, namespace level, every permission and the nodes; exits 1 on a denied permission', async () => {
    const cluster = new FakeCluster({ forbid: ['create configmaps', 'list events'] });
    await cluster.start();
    try {
      const r = await runCli(['doctor', '--kubeconfig', cluster.writeKubeconfig(), '-o', 'json']);
      assert.equal(r.code, 1, r.stderr);
      const checks = JSON.parse(r.stdout) as { area: string; status: string; detail: string }[];
      const byArea = Object.fromEntries(checks.map((c) => [c.area, c]));
      assert.equal(byArea.API!.status, 'ok');
      assert.match(byArea.API!.detail, /v1\.31\.0-fake/);
      assert.match(byArea.namespace!.detail, /bench exists; Pod Security enforce: restricted/);
      assert.equal(byArea.permissions!.status, 'fail');
      assert.match(byArea.permissions!.detail, /denied in bench: create configmaps, list events/);
      assert.match(byArea['node node-a']!.detail, /amd64, 2 CPUs, kernel 6\.18\.0/);
      assert.match(r.stderr, /^podbench: 1 check\(s\) failed: permissions/m);
    } finally {
      await cluster.stop();
    }
  });

  it('passes with every permission granted', async () => {
    const cluster = new FakeCluster();
    await cluster.start();
    try {
      const r = await runCli(['doctor', '--kubeconfig', cluster.writeKubeconfig()]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /ok\s+permissions\s+all 10 allowed in bench/);
    } finally {
      await cluster.stop();
    }
  });
});
