/**
 * The kubernetes target against a real Kubernetes: the single node of test/cluster/cluster.sh
 * (kube-apiserver, kube-controller-manager, kube-scheduler and kubelet of one pinned release on
 * containerd and runc, TLS client certificates, RBAC, admission with PodSecurity). podbench runs
 * as a user bound only to manifests/rbac.yaml's run Role and node-reader.yaml's ClusterRole (and,
 * for kubectl apply only, rbac.yaml's podbench-apply), in a namespace that enforces the
 * restricted profile. Every scenario must end in one clear sentence,
 * and leave no Pod (not even a Terminating one), no ConfigMap and no running container behind
 * when podbench returns (deletion waits for the kubelet), and nothing may be pulled (no registry
 * can be reached).
 *
 * What one real node cannot show (the API server disappearing mid-run, a log stream closed by
 * the API while the container runs) is in kubernetes-fake.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, describe, it } from 'node:test';
import type { ResultsDocument } from '../agents/contract/schema.js';
import { CHANNEL_IDS } from '../agents/contract/channels.js';
import {
  interruptFirstCase,
  runCli,
  startCli,
  waitForStderr,
  waitIntoFirstCase,
  type CliResult,
} from './helpers/run-cli.js';
import { TERMINATION_GRACE_SECONDS } from '../bench/pod/pod-manifest.js';
import { startRateLimitedRegistry } from './helpers/rate-limited-registry.js';
import {
  PRIVILEGED_NAMESPACE,
  TEST_NAMESPACE,
  TEST_NODE,
  clusterCommand,
  ctr,
  kubeconfigOf,
  kubectl,
  leftovers,
  podbenchObjects,
  pullEvents,
  type ClusterUser,
} from './helpers/test-cluster.js';

const dirs: string[] = [];
const newDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'pbtest-k8s-'));
  dirs.push(dir);
  return dir;
};
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** The flags every run here shares: the cluster, one short latency case per channel unless overridden. */
async function clusterArgs(user: ClusterUser = 'tester'): Promise<string[]> {
  return [
    '--target',
    'kubernetes',
    '--kubeconfig',
    await kubeconfigOf(user),
    '--modes',
    'latency',
    '--sizes',
    '64',
    '--duration',
    '200ms',
    '--warmup',
    '0ms',
  ];
}

async function run(args: string[], user: ClusterUser = 'tester'): Promise<CliResult & { outDir: string }> {
  const outDir = newDir();
  const r = await runCli(['run', ...(await clusterArgs(user)), '--out-dir', join(outDir, 'out'), ...args]);
  return { ...r, outDir: join(outDir, 'out') };
}

/** The pids of the agents running on this host (the node), by their command line. */
function agentPids(): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .flatMap((pid) => {
      try {
        return /--role (initiator|responder)/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' '))
          ? [Number(pid)]
          : [];
      } catch {
        return []; // ended while we looked
      }
    });
}

const results = (outDir: string) => JSON.parse(readFileSync(join(outDir, 'results.json'), 'utf8')) as ResultsDocument;
/** podbench's error line and its hint, without the progress around them. */
const errorLines = (stderr: string) =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('podbench:') || l.startsWith('  hint:'))
    .join('\n');
/** The pod a run created, from its progress line. */
const podOf = (stderr: string) => /pod (podbench-\w+) created/.exec(stderr)?.[1];

/** Nothing of podbench in the cluster, and no image pulled: checked before and after each test. */
async function assertClean(when: string): Promise<void> {
  assert.deepEqual(await leftovers(), [], `${when}: no Pod (not even Terminating), no ConfigMap, no running container`);
  assert.deepEqual(await pullEvents(), [], `${when}: nothing was pulled`);
}

describe('kubernetes target on a real cluster', { timeout: 20 * 60_000 }, () => {
  before(() => assertClean('before'));
  afterEach(() => assertClean('after the test'));

  it('--quick with every channel: each ok or skipped with a reason; results.json names the node, kubelet and runtime', async () => {
    const r = await run(['--quick', '--modes', 'latency,throughput', '--sizes', '64,65536']);
    assert.equal(r.code, 0, r.stderr);
    const doc = results(r.outDir);
    assert.equal(doc.run.complete, true);
    for (const c of doc.cases) {
      assert.ok(
        c.status === 'ok' || (c.status === 'skipped' && c.reason),
        `${c.channel} ${c.mode} ${c.sizeBytes}: ${c.status} ${c.reason ?? ''}`,
      );
    }
    for (const channel of CHANNEL_IDS) {
      assert.ok(
        doc.cases.some((c) => c.channel === channel && c.status === 'ok'),
        `${channel} measured at least one case`,
      );
    }
    assert.equal(doc.node?.name, TEST_NODE);
    assert.match(doc.node?.kubeletVersion ?? '', /^v1\.34\.\d+$/);
    assert.match(doc.node?.containerRuntimeVersion ?? '', /^containerd:\/\/\d/);
    assert.match(doc.environment!.hostname, /^podbench-/, 'the agents ran in the pod');
    assert.match(r.stderr, new RegExp(`namespace ${TEST_NAMESPACE}`), "the context's namespace is used");
    assert.match(r.stdout, /cases: \d+ ok, \d+ skipped, 0 failed/);
  });

  it('rate mode over two connections in the pod: the agent delivered by ConfigMap starts its own threads', async () => {
    // A connection's thread runs the agent module itself, not the bootstrap that unpacked it (which
    // would unpack the agent again over the files the process has loaded).
    const r = await run([
      '--channels',
      'tcp,mq,http1',
      '--modes',
      'rate,latency',
      '--rate',
      '1k',
      '--connections',
      '1,2',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const doc = results(r.outDir);
    assert.equal(doc.cases.length, 12);
    for (const c of doc.cases) {
      assert.equal(c.status, 'ok', `${c.channel} ${c.mode} ×${c.connections ?? 1}: ${c.reason}`);
      if (c.connections) assert.equal(c.details?.['responder.threads'], 2);
      if (c.mode === 'rate') assert.ok(c.rate!.completed > 0 && c.rate!.sent + c.rate!.dropped === c.rate!.intended);
    }
  });

  it('-o json prints the results document on stdout', async () => {
    const r = await run(['--channels', 'uds,shm,mq,sysv-mq', '-o', 'json', '--cpu', '1', '--memory', '256Mi']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as ResultsDocument;
    assert.deepEqual(
      doc.cases.map((c) => `${c.channel}:${c.status}`),
      ['uds:ok', 'shm:ok', 'mq:ok', 'sysv-mq:ok'],
    );
    assert.equal(doc.node?.qosClass, 'Guaranteed', 'requests = limits');
    assert.equal(doc.environment!.cgroup.cpuLimitCores, 1, 'the CPU limit reached the container');
  });

  it('--image with the agent image (the air-gapped path): imported into the node, it runs every case', async () => {
    const built = await runCli(['image', 'build', '--from-host']);
    assert.equal(built.code, 0, built.stderr);
    const image = built.stdout.trim();
    const imported = await clusterCommand(['import', image]);
    assert.equal(imported.code, 0, imported.stderr);
    const r = await run(['--channels', 'tcp,shm', '--image', image]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      results(r.outDir).cases.map((c) => `${c.channel}:${c.status}`),
      ['tcp:ok', 'shm:ok'],
    );
    // --run-as-user platform: no id in the pod; the image's own non-root user runs, as the id the
    // platform assigns would (OpenShift's restricted-v2, which refuses 1000 outside its range).
    const platform = await run(['--channels', 'uds', '--image', image, '--run-as-user', 'platform']);
    assert.equal(platform.code, 0, platform.stderr);
  });

  it(
    '--run-as-user: any non-root id runs; ' +
      'platform on a cluster that assigns none, with a root image, is refused by the kubelet and explained',
    async () => {
      const other = await run(['--channels', 'uds,shm', '--run-as-user', '2000']);
      assert.equal(other.code, 0, other.stderr);
      // node:24-slim runs as root (as its stand-in here does); with no id set, runAsNonRoot stops it.
      const refused = await run(['--channels', 'uds', '--run-as-user', 'platform', '--start-timeout', '60s']);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(
        errorLines(refused.stderr),
        /^podbench: the \w+ container cannot be created \(CreateContainerConfigError\): container has runAsNonRoot and image will run as root.*; the cluster assigned no user id, so leave --run-as-user at its default/,
      );
    },
  );

  it('Ctrl-C mid-run: exit 130, the finished cases kept, pod and ConfigMap deleted', async () => {
    const outDir = join(newDir(), 'out');
    // Interrupted in the middle of shm-spin: when podbench returns, no agent may still spin on the
    // node (afterEach checks), which a forced deletion would not wait for.
    const cli = startCli([
      'run',
      ...(await clusterArgs()),
      '--channels',
      'uds,shm-spin,mq,tcp',
      '--duration',
      '3s',
      '--out-dir',
      outDir,
    ]);
    await waitForStderr(cli, (s) => /\[1\/4\] .* ok /.test(s), 120_000);
    await new Promise((r) => setTimeout(r, 1000));
    cli.child.kill('SIGINT');
    const r = await cli.result;
    assert.equal(r.code, 130, r.stderr);
    const doc = results(outDir);
    assert.equal(doc.run.complete, false);
    assert.ok(doc.cases.length >= 1 && doc.cases.length < 4, `${doc.cases.length} cases kept`);
  });

  it(
    'Ctrl-C in the middle of a 60 s case: the agents end it at once, ' +
      'the case is recorded as interrupted, the pod is deleted',
    async () => {
      // The deletion waits until the kubelet has stopped the containers (afterEach checks none runs);
      // the agents end the case on its SIGTERM, so that is seconds, not the 58 s left of the case.
      await interruptFirstCase([...(await clusterArgs()), '--channels', 'shm'], join(newDir(), 'out'), 2000, 30_000);
    },
  );

  it(
    'a second Ctrl-C while the first waits for a deletion (agents stopped): ' +
      'exits at once, says so once; the pod goes anyway',
    async () => {
      const outDir = join(newDir(), 'out');
      const cli = startCli([
        'run',
        ...(await clusterArgs()),
        '--channels',
        'shm',
        '--duration',
        '60s',
        '--out-dir',
        outDir,
      ]);
      await waitIntoFirstCase(cli, outDir, 1000, 120_000);
      // The agents run on this host: stopped, they cannot answer the kubelet's SIGTERM, so the
      // deletion the first Ctrl-C waits for takes the pod's whole grace period.
      const agents = agentPids();
      assert.equal(agents.length, 2, 'found both agents on the node');
      for (const pid of agents) process.kill(pid, 'SIGSTOP');
      cli.child.kill('SIGINT');
      await waitForStderr(cli, (s) => s.includes('SIGINT: stopping the case in progress'));
      cli.child.kill('SIGINT');
      const secondAt = Date.now();
      const r = await cli.result;
      assert.equal(r.code, 130, r.stderr);
      assert.ok(
        Date.now() - secondAt < TERMINATION_GRACE_SECONDS * 1000,
        `exited ${Date.now() - secondAt} ms after the second Ctrl-C`,
      );
      assert.equal(
        r.stderr.match(/SIGINT again: killing the agents and exiting without waiting for them/g)?.length,
        1,
        r.stderr,
      );
      assert.equal(r.stderr.match(/^podbench: run incomplete \(interrupted by SIGINT/gm)?.length, 1, r.stderr);
      assert.equal(results(outDir).cases[0]!.status, 'interrupted');
      // Not waited for by podbench, but on its way: the kubelet kills the stopped agents.
      const deadline = Date.now() + 60_000;
      while ((await leftovers()).length > 0 && Date.now() < deadline)
        await new Promise((done) => setTimeout(done, 500));
    },
  );

  it('the pod runs past its activeDeadlineSeconds: the run stops with the reason, cases so far kept', async () => {
    const outDir = join(newDir(), 'out');
    const cli = startCli([
      'run',
      ...(await clusterArgs()),
      '--channels',
      'uds,shm,mq,tcp,sysv-mq',
      '--duration',
      '2s',
      '--out-dir',
      outDir,
    ]);
    await waitForStderr(cli, (s) => /\[1\/5\] .* ok /.test(s), 120_000);
    // The derived deadline is minutes long (the pod-manifest tests check how it is derived); the
    // admin shortens it on the running pod, which the API allows, and the kubelet enforces it as
    // it would the original.
    const pod = `pod/${podOf(cli.stderr())}`;
    const started = (
      await kubectl(['get', pod, '-n', TEST_NAMESPACE, '-o', 'jsonpath={.status.startTime}'], { user: 'admin' })
    ).stdout;
    const deadline = Math.ceil((Date.now() - Date.parse(started)) / 1000) + 2;
    const patched = await kubectl(
      ['patch', pod, '-n', TEST_NAMESPACE, '-p', JSON.stringify({ spec: { activeDeadlineSeconds: deadline } })],
      { user: 'admin' },
    );
    assert.equal(patched.code, 0, patched.stderr);
    const r = await cli.result;
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /podbench: run incomplete \(the pod ran past its activeDeadlineSeconds/);
    assert.ok(results(outDir).cases.length >= 1);
  });

  it('an agent killed mid-run: the run stops, names the container and its exit, keeps what was measured', async () => {
    const outDir = join(newDir(), 'out');
    const cli = startCli([
      'run',
      ...(await clusterArgs()),
      '--channels',
      'uds,shm,mq,tcp',
      '--duration',
      '2s',
      '--out-dir',
      outDir,
    ]);
    await waitForStderr(cli, (s) => /\[1\/4\] .* ok /.test(s), 120_000);
    const id = (
      await kubectl(
        [
          'get',
          'pod',
          podOf(cli.stderr())!,
          '-n',
          TEST_NAMESPACE,
          '-o',
          'jsonpath={.status.containerStatuses[?(@.name=="responder")].containerID}',
        ],
        { user: 'admin' },
      )
    ).stdout;
    const killed = await ctr(['tasks', 'kill', '--signal', 'SIGKILL', id.replace('containerd://', '')]);
    assert.equal(killed.code, 0, killed.stderr);
    const r = await cli.result;
    assert.equal(r.code, 1, r.stderr);
    // The responder's death is the cause; the initiator's exit (its peer is gone) only follows.
    assert.match(
      errorLines(r.stderr),
      /^podbench: run incomplete \(the responder container exited with 137: killed by SIGKILL; the agents reported: the responder is gone/,
    );
    const doc = results(outDir);
    assert.ok(doc.cases.length >= 1 && doc.cases.length < 4, `${doc.cases.length} cases kept`);
  });

  it(
    'the kubelet restarted mid-run breaks the log stream: ' +
      'it is followed again from where it stopped, no case lost or doubled',
    async () => {
      const outDir = join(newDir(), 'out');
      const cli = startCli([
        'run',
        ...(await clusterArgs()),
        '--channels',
        'uds,shm,mq,tcp,sysv-mq',
        '--duration',
        '3s',
        '--out-dir',
        outDir,
      ]);
      await waitForStderr(cli, (s) => /\[1\/5\] .* ok /.test(s), 120_000);
      const restarted = await clusterCommand(['restart-kubelet']);
      assert.equal(restarted.code, 0, restarted.stderr);
      assert.match(restarted.stderr, /kubelet restarted \(pid \d+, was \d+\)/);
      const r = await cli.result;
      assert.equal(r.code, 0, r.stderr);
      // The kubelet's death ends the stream the API server proxies (or leaves it silent).
      assert.match(
        r.stderr,
        /the initiator's log stream (closed|stalled) while it runs; following it again from \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/,
      );
      const doc = results(outDir);
      assert.equal(doc.run.complete, true);
      assert.deepEqual(
        doc.cases.map((c) => `${c.index}:${c.channel}:${c.status}`),
        ['0:uds:ok', '1:shm:ok', '2:mq:ok', '3:tcp:ok', '4:sysv-mq:ok'],
      );
    },
  );

  describe('the architecture delivered comes from the nodes the pod may land on, not from this machine', () => {
    // A second Node object, arm64, tainted: registered by the admin as a kubelet would register
    // it (no kubelet runs behind it, so nothing may be scheduled there).
    const FAKE_NODE = 'podbench-fake-arm64';
    const admin = (args: string[], stdin?: string) => kubectl(args, { user: 'admin', ...(stdin && { stdin }) });
    before(async () => {
      const node = {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name: FAKE_NODE,
          labels: { 'kubernetes.io/arch': 'arm64', 'kubernetes.io/os': 'linux', 'kubernetes.io/hostname': FAKE_NODE },
        },
        spec: { taints: [{ key: 'podbench/fake', value: 'arm64', effect: 'NoSchedule' }] },
      };
      const r = await admin(['create', '-f', '-'], JSON.stringify(node));
      assert.equal(r.code, 0, r.stderr);
    });
    after(async () => {
      const r = await admin(['delete', 'node', FAKE_NODE]);
      assert.equal(r.code, 0, r.stderr);
    });

    it('the arm64 node is tainted: only amd64 nodes are candidates, and the amd64 agent runs', async () => {
      const r = await run(['--channels', 'uds']);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /the nodes are arm64/);
    });

    it('tolerating it, the nodes have two architectures: exit 2 listing them; --arch amd64 then runs', async () => {
      const tolerate = ['--toleration', 'podbench/fake=arm64:NoSchedule'];
      const both = await run(['--channels', 'uds', ...tolerate]);
      assert.equal(both.code, 2, both.stderr);
      assert.match(
        errorLines(both.stderr),
        new RegExp(
          '^podbench: the nodes this pod may be scheduled on have several architectures: ' +
            `(amd64 \\(${TEST_NODE}\\), arm64 \\(${FAKE_NODE}\\)|arm64 \\(${FAKE_NODE}\\), amd64 \\(${TEST_NODE}\\)); pass --arch`,
        ),
      );
      assert.doesNotMatch(both.stderr, /created in namespace/, 'nothing was created');
      const chosen = await run(['--channels', 'uds', ...tolerate, '--arch', 'amd64']);
      assert.equal(chosen.code, 0, chosen.stderr);
    });

    it('selecting the arm64 node: the agent is delivered for arm64, whatever this machine is', async () => {
      // Too much CPU for any node, so the pod stays unscheduled and is removed at once.
      const r = await run([
        '--channels',
        'uds',
        '--toleration',
        'podbench/fake=arm64:NoSchedule',
        '--node-selector',
        `kubernetes.io/hostname=${FAKE_NODE}`,
        '--cpu',
        '64',
        '--start-timeout',
        '3s',
      ]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /the nodes are arm64: the agent is delivered for arm64/);
      assert.match(errorLines(r.stderr), /^podbench: the pod cannot be scheduled/);
    });
  });

  it('with the Role alone (no node-reading ClusterRole): the run works and says why the node is not described', async () => {
    const binding = ['clusterrolebinding', 'podbench-tester-node-reader'];
    assert.equal((await kubectl(['delete', ...binding], { user: 'admin' })).code, 0);
    try {
      const r = await run(['--channels', 'uds']);
      assert.equal(r.code, 0, r.stderr);
      const node = results(r.outDir).node;
      assert.equal(node?.name, TEST_NODE, 'the name comes from the pod');
      assert.equal(node?.kubeletVersion, undefined);
      assert.match(node?.unreadable ?? '', /not allowed to get nodes \(bind the ClusterRole podbench-node-reader\)/);
      const doctor = await runCli(['doctor', '--kubeconfig', await kubeconfigOf('tester')]);
      assert.equal(doctor.code, 0, doctor.stderr);
      assert.match(doctor.stdout, /warn\s+nodes\s+not allowed to list nodes/);
    } finally {
      // As test/cluster/cluster.sh binds it.
      const restored = await kubectl(
        ['create', ...binding, '--clusterrole', 'podbench-node-reader', '--user', 'podbench-tester'],
        { user: 'admin' },
      );
      assert.equal(restored.code, 0, restored.stderr);
    }
  });

  describe('nothing left when the orchestrator dies: the ConfigMap is owned by the pod, clean and the next run sweep', () => {
    const admin = (args: string[]) => kubectl(args, { user: 'admin' });
    const phaseOf = async (pod: string) =>
      (await admin(['get', 'pod', pod, '-n', TEST_NAMESPACE, '-o', 'jsonpath={.status.phase}'])).stdout;
    async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!(await check())) {
        assert.ok(Date.now() < deadline, `timed out waiting until ${what}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    /** Starts a run, SIGKILLs podbench once `ready` holds, and returns the pod it left. */
    async function killedRun(args: string[], ready: RegExp): Promise<string> {
      const cli = startCli(['run', ...(await clusterArgs()), '--out-dir', join(newDir(), 'out'), ...args]);
      await waitForStderr(cli, (s) => ready.test(s), 120_000);
      cli.child.kill('SIGKILL');
      assert.equal((await cli.result).signal, 'SIGKILL');
      const pod = podOf(cli.stderr())!;
      assert.ok(pod, 'the run created a pod');
      return pod;
    }
    const clean = async (...args: string[]) =>
      runCli(['clean', '--target', 'kubernetes', '--kubeconfig', await kubeconfigOf('tester'), ...args]);

    it('--keep: clean lists the pod; kubectl delete pod, and the garbage collector deletes the ConfigMap with it', async () => {
      const r = await run(['--channels', 'uds', '--keep']);
      assert.equal(r.code, 0, r.stderr);
      const pod = podOf(r.stderr)!;
      // The run returns once the initiator's log ends; the pod is Succeeded once both agents exited.
      await waitFor(`${pod} finished`, async () => (await phaseOf(pod)) === 'Succeeded');
      const listed = await clean('--dry-run');
      assert.match(listed.stdout, new RegExp(`^pod/${pod}\tfinished \\(Succeeded\\), kept by --keep$`, 'm'));
      const owners = await admin([
        'get',
        'configmap',
        `${pod}-agent`,
        '-n',
        TEST_NAMESPACE,
        '-o',
        'jsonpath={.metadata.ownerReferences[*].kind}/{.metadata.ownerReferences[*].name}',
      ]);
      assert.equal(owners.stdout, `Pod/${pod}`);
      assert.equal((await admin(['delete', 'pod', pod, '-n', TEST_NAMESPACE, '--wait'])).code, 0);
      await waitFor('the ConfigMap is collected', async () => (await podbenchObjects()).length === 0, 60_000);
    });

    it(
      'SIGKILLed mid-run: the pod runs on; ' +
        'clean keeps it while it runs, lists it once finished (--dry-run), then removes it',
      async () => {
        const pod = await killedRun(['--channels', 'uds,tcp,shm', '--duration', '2s'], /\[1\/3\] .* ok /);
        assert.deepEqual(
          (await podbenchObjects()).sort(),
          [`configmap/${pod}-agent`, `pod/${pod}`],
          'the killed run left its pod and ConfigMap',
        );
        const early = await clean('--dry-run');
        assert.equal(early.code, 0, early.stderr);
        assert.match(
          early.stdout,
          /nothing of earlier runs to remove in namespace podbench-test \(runs within their deadline are kept/,
        );
        await waitFor(`${pod} finished`, async () => (await phaseOf(pod)) === 'Succeeded');
        const dry = await clean('--dry-run');
        assert.equal(dry.code, 0, dry.stderr);
        assert.match(dry.stdout, new RegExp(`^pod/${pod}\tfinished \\(Succeeded\\)$`, 'm'));
        assert.match(dry.stdout, new RegExp(`^configmap/${pod}-agent\tits pod is stale$`, 'm'));
        assert.match(dry.stdout, /would remove 1 pod and 1 ConfigMap from namespace podbench-test \(--dry-run\)/);
        assert.equal((await podbenchObjects()).length, 2, '--dry-run removes nothing');
        const r = await clean();
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /removed 1 pod and 1 ConfigMap from namespace podbench-test/);
        // afterEach: nothing left, no container running.
      },
    );

    it(
      'SIGKILLed mid-run: a minute after the pod finished, ' +
        'the next run removes it and says so in one line; a --keep pod it leaves',
      async () => {
        const kept = await run(['--channels', 'uds', '--keep']);
        assert.equal(kept.code, 0, kept.stderr);
        const keptPod = podOf(kept.stderr)!;
        const pod = await killedRun(['--channels', 'uds,tcp,shm', '--duration', '2s'], /\[1\/3\] .* ok /);
        await waitFor(`${pod} finished`, async () => (await phaseOf(pod)) === 'Succeeded');
        const finishedAt = Date.now();
        // Just finished, the pod may still be read by its run (the rest of its log, the exits).
        const soon = await run(['--channels', 'uds']);
        assert.equal(soon.code, 0, soon.stderr);
        assert.doesNotMatch(soon.stderr, /of earlier runs/);
        await new Promise((r) => setTimeout(r, Math.max(0, finishedAt + 61_000 - Date.now())));
        const r = await run(['--channels', 'uds']);
        assert.equal(r.code, 0, r.stderr);
        const lines = r.stderr.split('\n').filter((l) => /of earlier runs/.test(l));
        assert.equal(lines.length, 1, r.stderr);
        assert.match(
          lines[0]!,
          new RegExp(
            'removed 1 pod and 1 ConfigMap of earlier runs ' +
              `\\(finished, past their deadline, or never started\\) from namespace podbench-test: ${pod}$`,
          ),
        );
        assert.ok((await podbenchObjects()).includes(`pod/${keptPod}`), "the --keep pod is its user's");
        const cleaned = await clean();
        assert.match(cleaned.stdout, new RegExp(`^pod/${keptPod}\tfinished \\(Succeeded\\), kept by --keep$`, 'm'));
      },
    );

    it("SIGKILLed while the pod cannot be scheduled: once past its run's start timeout, clean removes the Pending pod", async () => {
      const pod = await killedRun(
        ['--channels', 'uds', '--node-selector', 'podbench/pool=none', '--start-timeout', '8s'],
        /cannot be scheduled/,
      );
      assert.equal(await phaseOf(pod), 'Pending');
      const early = await clean('--dry-run');
      assert.match(
        early.stdout,
        /nothing of earlier runs to remove/,
        "within its start timeout, it may still be some run's",
      );
      await new Promise((r) => setTimeout(r, 8000));
      const r = await clean();
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^pod/${pod}\tnever started, past its start timeout \\(Pending\\)$`, 'm'));
      assert.match(r.stdout, /removed 1 pod and 1 ConfigMap/);
    });

    it('clean --all takes a pod that still runs; clean as a user without the Role fails in one line', async () => {
      const pod = await killedRun(['--channels', 'uds,tcp,shm', '--duration', '3s'], /\[1\/3\] .* ok /);
      const r = await clean('--all');
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^pod/${pod}\twithin its deadline \\(Running\\), taken by --all$`, 'm'));
      assert.match(r.stdout, /removed 1 pod and 1 ConfigMap/);
      const outsider = await runCli([
        'clean',
        '--target',
        'kubernetes',
        '--kubeconfig',
        await kubeconfigOf('outsider'),
      ]);
      assert.equal(outsider.code, 1);
      assert.match(
        outsider.stderr,
        /^podbench: forbidden: .*User "podbench-outsider" cannot list resource "(pods|configmaps)"/m,
      );
    });
  });

  describe('--node: the node is checked before anything is created (the scheduler never sees such a pod)', () => {
    const admin = (args: string[]) => kubectl(args, { user: 'admin' });

    it('a node that exists and is fit: the pod runs there', async () => {
      const r = await run(['--channels', 'uds', '--node', TEST_NODE]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(results(r.outDir).node?.name, TEST_NODE);
    });

    it('a node that does not exist: exit 2, naming the nodes there are', async () => {
      const r = await run(['--channels', 'uds', '--node', 'no-such-node']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        errorLines(r.stderr),
        new RegExp(`^podbench: --node no-such-node: the cluster has no such node \\(it has: ${TEST_NODE}\\)`),
      );
      assert.doesNotMatch(r.stderr, /created in namespace/, 'nothing was created');
    });

    it('a cordoned node: one sentence, nothing created', async () => {
      assert.equal((await admin(['cordon', TEST_NODE])).code, 0);
      try {
        const r = await run(['--channels', 'uds', '--node', TEST_NODE]);
        assert.equal(r.code, 1, r.stderr);
        assert.match(
          errorLines(r.stderr),
          new RegExp(`^podbench: --node ${TEST_NODE}: the node is cordoned \\(kubectl uncordon ${TEST_NODE}`),
        );
        assert.doesNotMatch(r.stderr, /created in namespace/);
      } finally {
        assert.equal((await admin(['uncordon', TEST_NODE])).code, 0);
      }
    });

    it('a taint the pod does not tolerate: one sentence; with --toleration the pod runs', async () => {
      assert.equal((await admin(['taint', 'node', TEST_NODE, 'podbench/test=x:NoSchedule'])).code, 0);
      try {
        const refused = await run(['--channels', 'uds', '--node', TEST_NODE]);
        assert.equal(refused.code, 1, refused.stderr);
        assert.match(
          errorLines(refused.stderr),
          /^podbench: --node podbench-node: the pod does not tolerate the node's taint podbench\/test=x:NoSchedule \(add --toleration podbench\/test=x:NoSchedule/,
        );
        const tolerated = await run([
          '--channels',
          'uds',
          '--node',
          TEST_NODE,
          '--toleration',
          'podbench/test=x:NoSchedule',
        ]);
        assert.equal(tolerated.code, 0, tolerated.stderr);
      } finally {
        assert.equal((await admin(['taint', 'node', TEST_NODE, 'podbench/test-'])).code, 0);
      }
    });
  });

  describe('the unsafe IPC sysctls: a namespace at privileged, a kubelet that allows them', () => {
    it('without --sysctl, mq and sysv-mq at 64 KiB are skipped with what raising the limit needs', async () => {
      const r = await run(['--channels', 'mq,sysv-mq', '--sizes', '65536']);
      assert.equal(r.code, 0, r.stderr);
      const [mq, sysv] = results(r.outDir).cases;
      assert.equal(mq!.status, 'skipped');
      assert.match(
        mq!.reason!,
        /^fs\.mqueue\.msgsize_max is 8192 bytes, below the 65536-byte message \(in a pod, --sysctl fs\.mqueue\.msgsize_max=65536 raises it \(Kubernetes counts it unsafe: every node's kubelet must allow it \(--allowed-unsafe-sysctls\) and Pod Security baseline and restricted refuse it, so the namespace must enforce privileged\); on this host, sysctl -w fs\.mqueue\.msgsize_max=65536\)$/,
      );
      assert.match(
        sysv!.reason!,
        /^kernel\.msgmax is 8192 bytes.*in a pod, --sysctl kernel\.msgmax=65536 raises it \(Kubernetes counts it unsafe/,
      );
    });

    it('in a privileged namespace, with the kubelet allowing them, mq and sysv-mq run at 64 KiB', async () => {
      const sysctls = ['fs.mqueue.msgsize_max=65536', 'kernel.msgmax=65536', 'kernel.msgmnb=65536'].flatMap((s) => [
        '--sysctl',
        s,
      ]);
      const r = await run([
        '-n',
        PRIVILEGED_NAMESPACE,
        '--channels',
        'mq,sysv-mq',
        '--sizes',
        '65536',
        '--modes',
        'latency,throughput',
        ...sysctls,
      ]);
      assert.equal(r.code, 0, r.stderr);
      const doc = results(r.outDir);
      assert.deepEqual(
        doc.cases.map((c) => `${c.channel} ${c.mode}:${c.status}`),
        ['mq latency:ok', 'mq throughput:ok', 'sysv-mq latency:ok', 'sysv-mq throughput:ok'],
      );
      assert.equal(doc.environment!.limits['fs.mqueue.msgsize_max'], 65536, "the pod's IPC namespace got the sysctl");
    });

    it(
      'a sysctl the kubelet does not allow: ' +
        'the node rejects the pod (SysctlForbidden), and the run says what the kubelet needs',
      async () => {
        const r = await run(['-n', PRIVILEGED_NAMESPACE, '--channels', 'mq', '--sysctl', 'kernel.msgmni=64']);
        assert.equal(r.code, 1, r.stderr);
        assert.match(
          errorLines(r.stderr),
          /^podbench: the node rejected the pod \(SysctlForbidden\): .*kernel\.msgmni.*; every node's kubelet must allow the --sysctl names \(--allowed-unsafe-sysctls/,
        );
      },
    );

    it('under restricted, Pod Security admission refuses them, and the hint says what they need', async () => {
      const r = await run(['--channels', 'mq', '--sysctl', 'fs.mqueue.msgsize_max=65536']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        errorLines(r.stderr),
        /^podbench: refused by Pod Security admission: .*forbidden sysctls \(fs\.mqueue\.msgsize_max\)\n {2}hint: fs\.mqueue\.\* and kernel\.msg\* \(--sysctl\): Kubernetes counts them unsafe: every node's kubelet must allow them \(--allowed-unsafe-sysctls\) and Pod Security baseline and restricted refuse them, so the namespace must enforce privileged/,
      );
    });
  });

  it(
    'a pull that keeps failing (a registry at its rate limit): ' +
      'the kubelet retries and backs off; the run waits, then quotes its error',
    async () => {
      const registry = await startRateLimitedRegistry();
      try {
        const image = `${registry.host}/library/podbench-agent:1`;
        // Within the start timeout, each failed attempt is noted and waited out: a rate limit may lift.
        const timedOut = await run([
          '--channels',
          'uds',
          '--image',
          image,
          '--image-pull-policy',
          'Always',
          '--start-timeout',
          '8s',
        ]);
        assert.equal(timedOut.code, 1, timedOut.stderr);
        assert.match(
          timedOut.stderr,
          /pulling the \w+ container's image 127\.0\.0\.1:\d+\/library\/podbench-agent:1 failed \(1 of 3 attempts\), and the kubelet retries: Failed to pull image .*429 Too Many Requests/,
        );
        assert.match(
          errorLines(timedOut.stderr),
          /^podbench: the pod did not start within 8 s \(phase Pending\); pulling the \w+ container's image .* failed \(\d of 3 attempts\), and the kubelet retries: .*429 Too Many Requests/,
        );
        // With time, the kubelet's third failure is taken as final.
        const r = await run(['--channels', 'uds', '--image', image, '--image-pull-policy', 'Always']);
        assert.equal(r.code, 1, r.stderr);
        assert.match(
          errorLines(r.stderr),
          /^podbench: the \w+ container's image 127\.0\.0\.1:\d+\/library\/podbench-agent:1 cannot be pulled: the kubelet failed [3-9] times and backs off \(ImagePullBackOff\); its last error: Failed to pull image .*429 Too Many Requests/,
        );
        assert.ok(registry.requests() >= 4, `the kubelet asked the registry ${registry.requests()} times`);
      } finally {
        await registry.close();
      }
    },
  );

  it('a RuntimeClass whose handler the node lacks: the sandbox cannot be created, and the run says so', async () => {
    const runtimeClass = {
      apiVersion: 'node.k8s.io/v1',
      kind: 'RuntimeClass',
      metadata: { name: 'podbench-absent' },
      handler: 'absent',
    };
    const created = await kubectl(['create', '-f', '-'], { user: 'admin', stdin: JSON.stringify(runtimeClass) });
    assert.equal(created.code, 0, created.stderr);
    try {
      const r = await run(['--channels', 'uds', '--runtime-class', 'podbench-absent', '--start-timeout', '60s']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        errorLines(r.stderr),
        /^podbench: the node cannot create the pod sandbox: .*no runtime for "absent" is configured.* \(is --runtime-class installed on the node\?\)/,
      );
    } finally {
      assert.equal((await kubectl(['delete', 'runtimeclass', 'podbench-absent'], { user: 'admin' })).code, 0);
    }
  });

  const failures: [string, string[], ClusterUser, RegExp][] = [
    // Whether podbench sees the container exit before or after it first reads the pod running is
    // a race; either way the exit and its error line are named.
    [
      'an agent that cannot start (no agent in the image)',
      ['--image', 'docker.io/library/node:24-slim'],
      'tester',
      /^podbench: (run incomplete \()?the \w+ container exited with 1: .*Cannot find module '\/opt\/podbench\/agent\.mjs'/,
    ],
    [
      'an image not on the node, with pull policy Never',
      ['--image', 'localhost/podbench-absent:1', '--image-pull-policy', 'Never', '--start-timeout', '60s'],
      'tester',
      /^podbench: the \w+ container's image localhost\/podbench-absent:1 cannot be pulled \(ErrImageNeverPull\)/,
    ],
    [
      'unschedulable through --node-selector',
      ['--node-selector', 'podbench/pool=none', '--start-timeout', '5s'],
      'tester',
      /^podbench: the pod cannot be scheduled: 0\/1 nodes are available: 1 node\(s\) didn't match Pod's node affinity\/selector/,
    ],
    [
      'unschedulable through --cpu larger than the node',
      ['--cpu', '64', '--start-timeout', '5s'],
      'tester',
      /^podbench: the pod cannot be scheduled: 0\/1 nodes are available: 1 Insufficient cpu/,
    ],
    [
      'forbidden (a user without the Role)',
      [],
      'outsider',
      /^podbench: forbidden: .*User "podbench-outsider" cannot create resource "(configmaps|pods)".*\n {2}hint: apply manifests\/rbac\.yaml/,
    ],
    // RBAC answers before the namespace is looked up: a user without rights there learns only that.
    [
      'a namespace the user has no rights in',
      ['-n', 'no-such-namespace'],
      'tester',
      /^podbench: forbidden: .*User "podbench-tester" cannot create resource "pods" in API group "" in the namespace "no-such-namespace"/,
    ],
    [
      'a RuntimeClass the cluster does not have',
      ['--runtime-class', 'gvisor'],
      'tester',
      /^podbench: --runtime-class gvisor: the cluster has no such RuntimeClass \(pods "podbench-\w+" is forbidden: pod rejected: RuntimeClass "gvisor" not found\)\n {2}hint: kubectl get runtimeclass/,
    ],
    [
      'a missing namespace (as an admin)',
      ['-n', 'no-such-namespace'],
      'admin',
      /^podbench: namespace no-such-namespace does not exist\n {2}hint: create it, or pass -n with an existing namespace/,
    ],
  ];
  it("OOMKilled (the namespace's LimitRange gives each container 12Mi by default): one clear sentence, exit 1", async () => {
    // podbench refuses a --memory that small itself; a namespace default is how it happens anyway.
    const limitRange = {
      apiVersion: 'v1',
      kind: 'LimitRange',
      metadata: { name: 'podbench-test-tiny-memory', namespace: TEST_NAMESPACE },
      spec: { limits: [{ type: 'Container', default: { memory: '12Mi' }, defaultRequest: { memory: '12Mi' } }] },
    };
    const created = await kubectl(['create', '-f', '-'], { user: 'admin', stdin: JSON.stringify(limitRange) });
    assert.equal(created.code, 0, created.stderr);
    try {
      // Killed as Node starts or in the first case, depending on how far it gets in 12 MiB.
      const r = await run(['--channels', 'uds']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        errorLines(r.stderr),
        /^podbench: (run incomplete \()?the \w+ container (was OOMKilled|exited with 137: OOMKilled); raise --memory/,
      );
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    } finally {
      // Left in place, it would give every later pod in the namespace 12Mi.
      const deleted = await kubectl(['delete', 'limitrange', '-n', TEST_NAMESPACE, limitRange.metadata.name], {
        user: 'admin',
      });
      assert.equal(deleted.code, 0, deleted.stderr);
    }
  });

  for (const [name, args, user, expected] of failures) {
    it(`${name}: one clear sentence, exit 1`, async () => {
      const r = await run(['--channels', 'uds', ...args], user);
      assert.equal(r.code, 1, r.stderr);
      assert.match(errorLines(r.stderr), expected);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    });
  }
});

describe('kubeconfig problems', () => {
  it('a missing or broken kubeconfig, or an unknown context: one line', async () => {
    const dir = newDir();
    const broken = join(dir, 'broken');
    writeFileSync(broken, 'clusters: [this is not: yaml: at all');
    const cases: [string[], RegExp, number][] = [
      [['--kubeconfig', join(dir, 'missing')], /^podbench: the kubeconfig .*missing cannot be read/, 1],
      [['--kubeconfig', broken], /^podbench: the kubeconfig .*broken cannot be read/, 1],
      [
        ['--kubeconfig', await kubeconfigOf('tester'), '--context', 'elsewhere'],
        /^podbench: --context elsewhere is not in the kubeconfig; it has: podbench-test-tester/,
        2,
      ],
    ];
    for (const [args, expected, code] of cases) {
      const r = await runCli([
        'run',
        '--target',
        'kubernetes',
        '--channels',
        'uds',
        '--out-dir',
        join(dir, 'out'),
        ...args,
      ]);
      assert.equal(r.code, code, r.stderr);
      assert.match(r.stderr.split('\n').find((l) => l.startsWith('podbench:')) ?? '', expected);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
  });
});

describe('podbench doctor on a real cluster', { timeout: 5 * 60_000 }, () => {
  it('the test user: API, restricted namespace, every permission, the node', async () => {
    const r = await runCli(['doctor', '--kubeconfig', await kubeconfigOf('tester'), '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const byArea = Object.fromEntries(
      (JSON.parse(r.stdout) as { area: string; status: string; detail: string }[]).map((c) => [c.area, c]),
    );
    assert.match(byArea.API!.detail, /v1\.34\.\d+/);
    // Namespaces are cluster-scoped: the Role cannot read its own, and doctor says so without failing.
    assert.equal(byArea.namespace!.status, 'warn');
    assert.match(
      byArea.namespace!.detail,
      /forbidden: namespaces "podbench-test" is forbidden: User "podbench-tester" cannot get resource "namespaces"/,
    );
    assert.equal(byArea.permissions!.status, 'ok');
    assert.match(byArea.permissions!.detail, /all 9 allowed in podbench-test/);
    assert.match(byArea[`node ${TEST_NODE}`]!.detail, /amd64, \d+ CPUs, kernel .*containerd:\/\//);
  });

  it('the admin: the namespace enforces restricted', async () => {
    const r = await runCli(['doctor', '--kubeconfig', await kubeconfigOf('admin'), '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const byArea = Object.fromEntries(
      (JSON.parse(r.stdout) as { area: string; status: string; detail: string }[]).map((c) => [c.area, c]),
    );
    assert.match(byArea.namespace!.detail, new RegExp(`${TEST_NAMESPACE} exists; Pod Security enforce: restricted`));
  });

  it('a user without the Role: every permission denied, exit 1', async () => {
    const r = await runCli(['doctor', '--kubeconfig', await kubeconfigOf('outsider'), '-o', 'json']);
    assert.equal(r.code, 1, r.stderr);
    const byArea = Object.fromEntries(
      (JSON.parse(r.stdout) as { area: string; status: string; detail: string }[]).map((c) => [c.area, c]),
    );
    assert.equal(byArea.permissions!.status, 'fail');
    assert.match(byArea.permissions!.detail, /denied in podbench-test: create pods, get pods/);
    assert.match(r.stderr, /^podbench: \d check\(s\) failed: .*permissions/m);
  });
});

describe('podbench manifest applied with kubectl', { timeout: 10 * 60_000 }, () => {
  // kubectl apply patches: for these tests only, the tester also holds rbac.yaml's podbench-apply.
  const binding = ['rolebinding', 'podbench-tester-apply', '-n', TEST_NAMESPACE];
  before(async () => {
    const r = await kubectl(['create', ...binding, '--role', 'podbench-apply', '--user', 'podbench-tester'], {
      user: 'admin',
    });
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    const r = await kubectl(['delete', ...binding], { user: 'admin' });
    assert.equal(r.code, 0, r.stderr);
  });
  afterEach(() => assertClean('after the test'));

  /** Waits until the pod's phase is final; returns it. */
  async function finalPhase(pod: string): Promise<string> {
    const deadline = Date.now() + 180_000;
    for (;;) {
      const phase = (await kubectl(['get', pod, '-o', 'jsonpath={.status.phase}'])).stdout;
      if (phase === 'Succeeded' || phase === 'Failed') return phase;
      assert.ok(Date.now() < deadline, `${pod} still ${phase}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  for (const [how, apply] of [
    ['kubectl create -f -', ['create', '-f', '-']],
    ['kubectl apply --server-side', ['apply', '--server-side', '-f', '-']],
  ] as const) {
    it(`${how}: the pod runs every case to completion`, async () => {
      const manifest = await runCli([
        'manifest',
        '--channels',
        'tcp,uds,shm',
        '--modes',
        'latency',
        '--sizes',
        '64',
        '--duration',
        '200ms',
        '--warmup',
        '0ms',
      ]);
      assert.equal(manifest.code, 0, manifest.stderr);
      const created = await kubectl([...apply], { stdin: manifest.stdout });
      assert.equal(created.code, 0, created.stderr);
      const pod = created.stdout
        .split('\n')
        .find((l) => l.startsWith('pod/'))!
        .split(' ')[0]!;
      try {
        assert.equal(await finalPhase(pod), 'Succeeded');
        const log = (await kubectl(['logs', pod, '-c', 'initiator'])).stdout;
        const events = log
          .split('\n')
          .filter((l) => l.startsWith('@@podbench '))
          .map((l) => JSON.parse(l.slice('@@podbench '.length)) as { type: string; result?: { status: string } });
        assert.deepEqual(
          events.filter((e) => e.type === 'case').map((e) => e.result!.status),
          ['ok', 'ok', 'ok'],
        );
        assert.equal(events.at(-1)?.type, 'done');
      } finally {
        // As a user would clean up after kubectl: the pod, and the ConfigMap with it.
        const deleted = await kubectl(['delete', '--wait', '-f', '-'], { stdin: manifest.stdout });
        assert.equal(deleted.code, 0, deleted.stderr);
      }
    });
  }
});

describe('manifests/podbench-job.yaml: podbench itself in the cluster', { timeout: 15 * 60_000 }, () => {
  const admin = (args: string[], stdin?: string) => kubectl(args, { user: 'admin', ...(stdin && { stdin }) });
  afterEach(() => assertClean('after the test'));

  it("runs to completion with the ServiceAccount of rbac.yaml; the results document is read back from the Job's log", async () => {
    const built = await runCli(['image', 'build', '--from-host', '--with-cli', '--tag', 'localhost/podbench-job:test']);
    assert.equal(built.code, 0, built.stderr);
    const imported = await clusterCommand(['import', 'localhost/podbench-job:test']);
    assert.equal(imported.code, 0, imported.stderr);
    const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
    const job = readFileSync(join(ROOT, 'manifests', 'podbench-job.yaml'), 'utf8').replace(
      'REPLACE-WITH-YOUR-PODBENCH-IMAGE',
      'localhost/podbench-job:test',
    );
    const created = await admin(['create', '-n', TEST_NAMESPACE, '-f', '-'], job);
    assert.equal(created.code, 0, created.stderr);
    try {
      // As the manifest's comments say: wait, then read the document from the log.
      const waited = await admin([
        'wait',
        '-n',
        TEST_NAMESPACE,
        '--for=condition=complete',
        '--timeout=600s',
        'job/podbench',
      ]);
      const log = (await admin(['logs', '-n', TEST_NAMESPACE, 'job/podbench'])).stdout;
      assert.equal(waited.code, 0, `${waited.stderr}\n${log}`);
      const lines = log.split('\n');
      const document = lines.slice(lines.indexOf('{'), lines.indexOf('}') + 1).join('\n');
      const doc = JSON.parse(document) as ResultsDocument;
      assert.equal(doc.run.complete, true);
      assert.equal(doc.run.target, 'kubernetes');
      assert.ok(doc.cases.length >= CHANNEL_IDS.length);
      for (const c of doc.cases)
        assert.ok(
          c.status === 'ok' || (c.status === 'skipped' && c.reason),
          `${c.channel} ${c.mode} ${c.sizeBytes}: ${c.status} ${c.reason ?? ''}`,
        );
      assert.match(doc.environment!.hostname, /^podbench-/, 'the agents ran in their own pod');
      const file = join(newDir(), 'results.json');
      writeFileSync(file, document);
      const report = await runCli(['report', file, '--format', 'markdown']);
      assert.equal(report.code, 0, report.stderr);
    } finally {
      const deleted = await admin(['delete', '-n', TEST_NAMESPACE, 'job/podbench', '--cascade=foreground', '--wait']);
      assert.equal(deleted.code, 0, deleted.stderr);
    }
  });
});
