/**
 * What one real node cannot show, against a fake: a local server speaking the Kubernetes API
 * (test/helpers/fake-kube-api.ts) that runs each accepted pod for real through podman. Only these
 * scenarios are here, each because the real single-node cluster (kubernetes.test.ts) cannot
 * produce it on demand:
 * - the API server closing a followed log while the container still runs (client-node's notes
 *   say it happens, behind load balancers and on API server restarts; a real kubelet does not
 *   do it when asked), and a followed log that goes silent without ever ending (a connection
 *   reset that client-node's piped response never reports); a kubelet restart, which breaks the
 *   stream for real, is in kubernetes.test.ts;
 * - the API server disappearing mid-run (stopping the shared test cluster's API server would
 *   break every other test using it).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ResultsDocument } from '../agents/contract/schema.js';
import { podman } from '../bench/targets/podman/podman-cli.js';
import { runCli, startCli, waitForStderr, type CliResult } from './helpers/run-cli.js';
import { FakeCluster, type FakeClusterOptions } from './helpers/fake-kube-api.js';

let nodeImage = '';

before(async () => {
  // A plain Node image stands in for node:24-slim (no registry here): the agent must arrive in the ConfigMap.
  const r = await runCli(['image', 'build', '--from-host', '--node-only']);
  assert.equal(r.code, 0, r.stderr);
  nodeImage = r.stdout.trim();
});

async function podmanPods(): Promise<string[]> {
  return (await podman(['pod', 'ps', '--format', '{{.Name}}'])).split('\n').filter((n) => n.startsWith('podbench-'));
}

describe('kubernetes target against a fake API (what one node cannot show)', () => {
  after(async () => assert.deepEqual(await podmanPods(), [], 'no pod left in podman'));

  /** Runs four short cases against a fake cluster with `options`, checks that each was measured once, then runs `check`. */
  async function runOnFake(
    options: FakeClusterOptions,
    durationMs: number,
    check: (r: CliResult, cluster: FakeCluster) => void,
  ): Promise<void> {
    const cluster = new FakeCluster(options);
    await cluster.start();
    const dir = mkdtempSync(join(tmpdir(), 'pbtest-'));
    try {
      const r = await runCli([
        'run',
        '--target',
        'kubernetes',
        '--kubeconfig',
        cluster.writeKubeconfig(),
        '--node-image',
        nodeImage,
        '--channels',
        'uds,shm,mq,tcp',
        '--modes',
        'latency',
        '--sizes',
        '64',
        '--duration',
        `${durationMs}ms`,
        '--warmup',
        '0ms',
        '--out-dir',
        dir,
        '-o',
        'json',
      ]);
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout) as ResultsDocument;
      assert.deepEqual(
        doc.cases.map((c) => `${c.index}:${c.channel}:${c.status}`),
        ['0:uds:ok', '1:shm:ok', '2:mq:ok', '3:tcp:ok'],
        'no case lost or doubled',
      );
      check(r, cluster);
    } finally {
      await cluster.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('a log stream that closes early is followed again without losing or repeating a case', () =>
    // Cases long enough that the initiator still runs when the stream closes.
    runOnFake({ cutLogAfterLines: 5 }, 1500, (r, cluster) => {
      assert.match(
        r.stderr,
        /the initiator's log stream closed while it runs; following it again from \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(1\)/,
      );
      assert.equal(cluster.pods.size, 0);
      assert.equal(cluster.configMaps.size, 0);
    }));

  it('a log stream that goes silent without ending (a reset behind a proxy) is followed again from where it stopped', () =>
    runOnFake({ stallLogAfterLines: 5 }, 200, (_, cluster) => {
      const logRequests = cluster.requests.filter((q) => q.endsWith('/log'));
      assert.ok(logRequests.length >= 2, `the log was opened again (${logRequests.length} requests)`);
    }));

  it('the API going away mid-run ends the run with what was measured and says why', async () => {
    const cluster = new FakeCluster();
    await cluster.start();
    const dir = mkdtempSync(join(tmpdir(), 'pbtest-'));
    try {
      const run = startCli([
        'run',
        '--target',
        'kubernetes',
        '--kubeconfig',
        cluster.writeKubeconfig(),
        '--node-image',
        nodeImage,
        '--channels',
        'uds,shm,mq,tcp',
        '--modes',
        'latency',
        '--sizes',
        '64',
        '--duration',
        '1s',
        '--warmup',
        '0ms',
        '--out-dir',
        dir,
      ]);
      await waitForStderr(run, (s) => /\[1\/4\] .* ok /.test(s), 60_000);
      await cluster.goAway();
      const r = await run.result;
      const doc = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as ResultsDocument;
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /podbench: run incomplete \(.*unreachable.*\)/);
      assert.ok(doc.cases.length >= 1 && doc.cases.length < 4);
      assert.equal(doc.run.complete, false);
    } finally {
      await cluster.stop(); // also removes the pod the unreachable API could not delete
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
