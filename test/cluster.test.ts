/**
 * The test cluster itself (test/cluster/cluster.sh): `up` on a running cluster changes nothing,
 * and `down` after a crash — every component and the orchestrator SIGKILLed while an agent pod
 * spins — leaves no process, mount, network interface, iptables chain, changed sysctl or state
 * file behind. The cluster is brought up again at the end for the tests after this one.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startCli, waitForStderr } from './helpers/run-cli.js';
import { CLUSTER_STATE, clusterCommand, kubeconfigOf, runningContainers } from './helpers/test-cluster.js';

const COMPONENTS = ['etcd', 'apiserver', 'controller-manager', 'scheduler', 'containerd', 'kubelet'];

/** Every process whose command line names the cluster's state folder: daemons, shims, nothing else. */
function clusterProcesses(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmdline.includes(`${CLUSTER_STATE}/`)) found.push(`${pid} ${cmdline.slice(0, 80)}`);
    } catch {
      // gone while listing
    }
  }
  return found;
}

/** Processes in the kubelet's cgroups (the pods' containers), on cgroup v1 or v2. */
function podProcesses(): string[] {
  const roots = [
    '/sys/fs/cgroup/kubepods',
    ...readdirSync('/sys/fs/cgroup').map((d) => `/sys/fs/cgroup/${d}/kubepods`),
  ];
  return roots
    .filter((r) => existsSync(r))
    .flatMap((r) =>
      execFileSync('find', [r, '-name', 'cgroup.procs', '-exec', 'cat', '{}', '+'], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean),
    );
}

const sysctl = (name: string) => execFileSync('sysctl', ['-n', name], { encoding: 'utf8' }).trim();

describe('the test cluster', { timeout: 10 * 60_000 }, () => {
  it('up on a running cluster says so and changes nothing', async () => {
    await clusterCommand(['up']);
    const pids = COMPONENTS.map((c) => readFileSync(join(CLUSTER_STATE, 'run', `${c}.pid`), 'utf8'));
    const again = await clusterCommand(['up']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /already up: node podbench-node Ready/);
    assert.deepEqual(
      COMPONENTS.map((c) => readFileSync(join(CLUSTER_STATE, 'run', `${c}.pid`), 'utf8')),
      pids,
      'no component restarted',
    );
  });

  it('down after a crash leaves nothing behind', async () => {
    await clusterCommand(['up']);
    const saved = readFileSync(join(CLUSTER_STATE, 'run', 'sysctl.orig'), 'utf8')
      .trim()
      .split('\n');
    const dir = mkdtempSync(join(tmpdir(), 'pbtest-crash-'));
    try {
      // An agent pod that spins (shm-spin) while everything dies at once.
      const cli = startCli([
        'run',
        '--target',
        'kubernetes',
        '--kubeconfig',
        await kubeconfigOf(),
        '--channels',
        'shm-spin',
        '--modes',
        'latency',
        '--sizes',
        '64',
        '--duration',
        '60s',
        '--out-dir',
        join(dir, 'out'),
      ]);
      await waitForStderr(cli, (s) => /pod podbench-\w+ created/.test(s), 120_000);
      const deadline = Date.now() + 120_000;
      while ((await runningContainers()).length < 3) {
        assert.ok(Date.now() < deadline, 'the sandbox and both agents did not start');
        await new Promise((r) => setTimeout(r, 500));
      }
      for (const c of COMPONENTS)
        process.kill(Number(readFileSync(join(CLUSTER_STATE, 'run', `${c}.pid`), 'utf8')), 'SIGKILL');
      cli.child.kill('SIGKILL');
      await cli.result;
      assert.ok(podProcesses().length > 0, 'the crash left the agents running (else this test shows nothing)');

      const down = await clusterCommand(['down']);
      assert.equal(down.code, 0, down.stderr);
      assert.deepEqual(clusterProcesses(), [], 'no daemon or shim');
      assert.deepEqual(podProcesses(), [], 'no container process');
      assert.equal(
        readFileSync('/proc/self/mounts', 'utf8').includes(`${CLUSTER_STATE}/`),
        false,
        'no mount under the state folder',
      );
      assert.equal(existsSync(CLUSTER_STATE), false, 'the state folder is gone');
      assert.equal(existsSync('/sys/class/net/pbcni0'), false, 'the bridge is gone');
      for (const tool of ['iptables', 'ip6tables']) {
        for (const table of ['filter', 'nat', 'mangle']) {
          assert.doesNotMatch(
            execFileSync(tool, ['-t', table, '-S'], { encoding: 'utf8' }),
            /KUBE-/,
            `no kubelet chain in ${tool} ${table}`,
          );
        }
      }
      for (const line of saved) {
        const [name, value] = line.split('=') as [string, string];
        assert.equal(sysctl(name), value, `${name} is back to what it was before up`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
      const up = await clusterCommand(['up']);
      assert.equal(up.code, 0, up.stderr);
    }
  });
});
