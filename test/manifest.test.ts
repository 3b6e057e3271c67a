/**
 * `podbench manifest`: a Pod that is valid against the Kubernetes schema (kubernetes-models'
 * JSON schemas) and passes the restricted Pod Security profile, shaped by the pod flags.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1ConfigMap, V1Pod } from '@kubernetes/client-node';
import { loadAllYaml } from '@kubernetes/client-node';
import { ConfigMap, Pod, ServiceAccount } from 'kubernetes-models/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { ClusterRole, Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REQUIRED_PERMISSIONS } from '../bench/commands/doctor-command.js';
import { spawnSync } from 'node:child_process';
import { CONFIGMAP_MAX_BYTES, configMapDataBytes } from '../bench/pod/agent-delivery.js';
import { agentRuntimeFiles } from '../bench/pod/agent-runtime.js';
import { CLI, runCli } from './helpers/run-cli.js';
import { restrictedViolations } from './helpers/pod-security.js';

interface Printed {
  pod: V1Pod;
  configMap?: V1ConfigMap;
  yamlBytes: number;
}

/** Runs `podbench manifest`, validates every document against the Kubernetes schemas. */
async function printed(args: string[]): Promise<Printed> {
  const r = await runCli(['manifest', ...args]);
  assert.equal(r.code, 0, r.stderr);
  // loadAllYaml gives client-node model classes; compare as plain JSON like the API server would.
  const docs = JSON.parse(
    args.includes('json') ? JSON.stringify(JSON.parse(r.stdout).items) : JSON.stringify(loadAllYaml(r.stdout)),
  ) as { kind: string }[];
  const pod = docs.find((d) => d.kind === 'Pod') as V1Pod;
  const configMap = docs.find((d) => d.kind === 'ConfigMap') as V1ConfigMap | undefined;
  new Pod(pod as ConstructorParameters<typeof Pod>[0]).validate();
  if (configMap) new ConfigMap(configMap as ConstructorParameters<typeof ConfigMap>[0]).validate();
  return { pod, configMap, yamlBytes: r.stdout.length };
}

const manifest = async (args: string[]) => (await printed(args)).pod;

describe('podbench manifest', () => {
  it('prints a valid, restricted-compliant Pod with requests = limits and the node', async () => {
    const pod = await manifest(['--cpu', '1', '--memory', '256Mi', '--node', 'node-a', '-o', 'json']);
    assert.deepEqual(restrictedViolations(pod), []);
    assert.equal(pod.spec!.nodeName, 'node-a');
    assert.equal(pod.spec!.restartPolicy, 'Never');
    assert.ok(pod.spec!.activeDeadlineSeconds! > 0);
    assert.equal(pod.metadata!.labels!['app.kubernetes.io/name'], 'podbench');
    assert.deepEqual(pod.spec!.containers.map((c) => c.name).sort(), ['initiator', 'responder']);
    for (const c of pod.spec!.containers) {
      assert.deepEqual(c.resources, { requests: { cpu: '1', memory: '256Mi' }, limits: { cpu: '1', memory: '256Mi' } });
      assert.equal(c.securityContext!.readOnlyRootFilesystem, true);
      assert.deepEqual(c.volumeMounts!.map((m) => m.mountPath).sort(), [
        '/podbench/app',
        '/podbench/delivery',
        '/podbench/disk',
        '/podbench/tmpfs',
      ]);
    }
    assert.equal(pod.spec!.volumes!.filter((v) => v.emptyDir?.medium === 'Memory').length, 1);
  });

  it('YAML by default, with placement, runtime class and volume size', async () => {
    const pod = await manifest([
      '--node-selector',
      'kubernetes.io/arch=amd64',
      '--toleration',
      'dedicated=bench:NoSchedule',
      '--runtime-class',
      'gvisor',
      '--volume-size',
      '128Mi',
      '--image',
      'registry.example/podbench:1',
    ]);
    assert.deepEqual(restrictedViolations(pod), []);
    assert.deepEqual(pod.spec!.nodeSelector, { 'kubernetes.io/arch': 'amd64' });
    assert.deepEqual(pod.spec!.tolerations, [
      { key: 'dedicated', operator: 'Equal', value: 'bench', effect: 'NoSchedule' },
    ]);
    assert.equal(pod.spec!.runtimeClassName, 'gvisor');
    assert.ok(pod.spec!.volumes!.every((v) => v.emptyDir?.sizeLimit === '128Mi'));
    assert.ok(pod.spec!.containers.every((c) => c.image === 'registry.example/podbench:1'));
  });

  it('without --image, delivers the agent to a stock Node image in a ConfigMap under 1 MiB', async () => {
    const { pod, configMap, yamlBytes } = await printed(['--node-image', 'node:22-slim']);
    assert.ok(configMap, 'a ConfigMap comes with the Pod');
    assert.ok(yamlBytes < 1024 * 1024, `${yamlBytes} bytes`);
    assert.ok(configMap.data!['bootstrap.cjs']!.includes('podbench bootstrap'));
    assert.deepEqual(
      Object.keys(configMap.data!).sort(),
      ['bootstrap.cjs', 'files.json'],
      'only the bootstrap as text',
    );
    const files = JSON.parse(configMap.data!['files.json']!) as { key: string; path: string; gzip: boolean }[];
    assert.ok(files.some((f) => f.path === 'agent.mjs') && files.some((f) => f.path.endsWith('.node')));
    for (const f of files) {
      assert.equal(f.gzip, true, `${f.path} is gzipped`);
      assert.equal(
        Buffer.from(configMap.binaryData![f.key]!, 'base64').readUInt16BE(0),
        0x1f8b,
        `${f.path}: gzip magic`,
      );
    }
    assert.ok(
      pod.spec!.containers.every(
        (c) => c.image === 'node:22-slim' && c.command![1] === '/podbench/delivery/bootstrap.cjs',
      ),
    );
    assert.equal(pod.spec!.nodeSelector!['kubernetes.io/arch'], 'amd64');
    const cmVolume = pod.spec!.volumes!.find((v) => v.configMap);
    assert.equal(cmVolume!.configMap!.name, configMap.metadata!.name);
    assert.deepEqual(restrictedViolations(pod), []);
  });

  it(
    'the agent ConfigMap, measured as the API server measures it (decoded data), ' +
      'stays 10 % under its 1 MiB for amd64 and arm64',
    async () => {
      for (const arch of ['amd64', 'arm64']) {
        const { configMap } = await printed(['--arch', arch, '-o', 'json']);
        const bytes = configMapDataBytes(configMap!);
        const encoded = [...Object.values(configMap!.data!), ...Object.values(configMap!.binaryData!)].reduce(
          (n, v) => n + v.length,
          0,
        );
        assert.ok(bytes < encoded, 'binaryData counts decoded, not as base64');
        assert.ok(
          bytes < 0.9 * CONFIGMAP_MAX_BYTES,
          `${arch}: ${bytes} bytes of data is within 10 % of the API server's ${CONFIGMAP_MAX_BYTES}`,
        );
      }
    },
  );

  it(
    '--arch picks the native module delivered and the node selector (x86-64 or aarch64 ELF), ' +
      'with no network and a read-only home',
    async () => {
      // As inside the in-cluster Job: no npm on PATH to fetch with, HOME read-only. The build
      // placed both architectures' modules in the bundle.
      const offline = spawnSync(process.execPath, [CLI, 'manifest', '--arch', 'arm64', '-o', 'json'], {
        encoding: 'utf8',
        env: { PATH: '/nonexistent', HOME: '/proc' },
      });
      assert.equal(offline.status, 0, offline.stderr);
      assert.equal(offline.stderr, '');
      assert.throws(
        () => agentRuntimeFiles('riscv64'),
        (err: Error) =>
          /^this podbench build has no koffi native module for riscv64 \(it has: x64, arm64\)$/.test(err.message),
      );
      for (const [arch, machine] of [
        ['amd64', 62],
        ['arm64', 183],
      ] as const) {
        const { pod, configMap } = await printed(['--arch', arch, '-o', 'json']);
        const files = JSON.parse(configMap!.data!['files.json']!) as { key: string; path: string }[];
        const nativeKey = files.find((f) => f.path.endsWith('.node'))!.key;
        const native = gunzipSync(Buffer.from(configMap!.binaryData![nativeKey]!, 'base64'));
        assert.equal(native.subarray(1, 4).toString(), 'ELF');
        assert.equal(native.readUInt16LE(18), machine, `${arch}: e_machine`);
        assert.equal(pod.spec!.nodeSelector!['kubernetes.io/arch'], arch);
      }
    },
  );

  it('with --image, no ConfigMap and the agent from the image', async () => {
    const { pod, configMap } = await printed(['--image', 'registry.example/podbench:1', '-o', 'json']);
    assert.equal(configMap, undefined);
    assert.ok(pod.spec!.containers.every((c) => c.command![1] === '/opt/podbench/agent.mjs'));
  });

  it('IPC sysctls are set, and the checker sees that restricted clusters refuse them', async () => {
    const pod = await manifest(['--sysctl', 'fs.mqueue.msgsize_max=1048576', '-o', 'json']);
    assert.deepEqual(pod.spec!.securityContext!.sysctls, [{ name: 'fs.mqueue.msgsize_max', value: '1048576' }]);
    assert.deepEqual(restrictedViolations(pod), ['unsafe sysctl fs.mqueue.msgsize_max']);
  });

  it('--run-as-user: another id, or none (platform) with runAsNonRoot kept; still restricted', async () => {
    const ids = (pod: V1Pod) =>
      [pod.spec!.securityContext, ...pod.spec!.containers.map((c) => c.securityContext)].map((sc) => [
        sc!.runAsNonRoot,
        sc!.runAsUser,
        sc!.runAsGroup,
      ]);
    assert.deepEqual(ids(await manifest(['-o', 'json'])), [
      [true, 1000, 1000],
      [true, 1000, 1000],
      [true, 1000, 1000],
    ]);
    assert.deepEqual(
      ids(await manifest(['--run-as-user', '1000680000', '-o', 'json'])),
      Array(3).fill([true, 1000680000, 1000680000]),
    );
    const platform = await manifest(['--run-as-user', 'platform', '-o', 'json']);
    assert.deepEqual(ids(platform), Array(3).fill([true, undefined, undefined]));
    assert.deepEqual(restrictedViolations(platform), []);
  });

  it('refuses bad pod flags with one line naming the flag', async () => {
    for (const [flag, value] of [
      ['--run-as-user', '0'],
      ['--run-as-user', 'nobody'],
      ['--cpu', 'lots'],
      ['--memory', '1 GB'],
      ['--toleration', 'x:Sometimes'],
      ['--sysctl', 'net.core.somaxconn=4096'],
      ['--node-selector', 'novalue'],
    ]) {
      const r = await runCli(['manifest', flag!, value!]);
      assert.equal(r.code, 2);
      assert.equal(r.stderr.trim().split('\n').length, 1);
      assert.match(r.stderr, new RegExp(flag!));
    }
  });
});

describe('manifests/', () => {
  const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const docs = (file: string): unknown =>
    JSON.parse(JSON.stringify(loadAllYaml(readFileSync(join(ROOT, 'manifests', file), 'utf8'))));

  it('rbac.yaml is valid and grants exactly what a run needs; the optional grants stand apart', () => {
    type Rules = { rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] };
    const [sa, role, binding, apply] = docs('rbac.yaml') as [object, Rules, { subjects: { kind: string }[] }, Rules];
    new ServiceAccount(sa as ConstructorParameters<typeof ServiceAccount>[0]).validate();
    new Role(role as ConstructorParameters<typeof Role>[0]).validate();
    new RoleBinding(binding as ConstructorParameters<typeof RoleBinding>[0]).validate();
    new Role(apply as ConstructorParameters<typeof Role>[0]).validate();
    const grants = Object.fromEntries(role.rules.map((r) => [r.resources.join(','), [...r.verbs].sort().join(',')]));
    // Exactly the verbs the code uses, which doctor checks: no more, no less.
    const used: Record<string, string[]> = {};
    for (const p of REQUIRED_PERMISSIONS)
      (used[p.subresource ? `${p.resource}/${p.subresource}` : p.resource] ??= []).push(p.verb);
    assert.deepEqual(grants, Object.fromEntries(Object.entries(used).map(([r, verbs]) => [r, verbs.sort().join(',')])));
    assert.deepEqual(grants, {
      pods: 'create,delete,get,list',
      'pods/log': 'get',
      configmaps: 'create,delete,list',
      events: 'list',
    });
    assert.deepEqual(
      binding.subjects.map((s) => s.kind),
      ['ServiceAccount'],
      'only the run Role is bound',
    );
    assert.deepEqual(
      apply.rules,
      [{ apiGroups: [''], resources: ['pods', 'configmaps'], verbs: ['patch'] }],
      'podbench-apply only patches',
    );
    const [nodeReader] = docs('node-reader.yaml') as [Rules];
    new ClusterRole(nodeReader as ConstructorParameters<typeof ClusterRole>[0]).validate();
    assert.deepEqual(
      nodeReader.rules,
      [{ apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list'] }],
      'the optional ClusterRole only reads nodes',
    );
  });

  it('podbench-job.yaml is a valid Job under the podbench ServiceAccount', () => {
    const [job] = docs('podbench-job.yaml') as [{ spec: { template: { spec: { serviceAccountName: string } } } }];
    new Job(job as ConstructorParameters<typeof Job>[0]).validate();
    assert.equal(job.spec.template.spec.serviceAccountName, 'podbench');
  });
});

describe("the agents' young generation", () => {
  const env = (pod: V1Pod) =>
    pod.spec!.containers.map((c) => c.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '(Node default)');
  it('is 1 MiB when every case is driven by blocking calls (the timed loop allocates nothing)', async () => {
    const pod = await manifest(['--channels', 'tcp,shm', '--quick']);
    assert.deepEqual(env(pod), ['--max-semi-space-size=1', '--max-semi-space-size=1']);
  });
  it("is Node's default with a protocol channel or --driver node, whose libraries allocate per message", async () => {
    assert.deepEqual(env(await manifest(['--channels', 'shm,grpc', '--quick'])), ['(Node default)', '(Node default)']);
    assert.deepEqual(env(await manifest(['--channels', 'tcp', '--driver', 'node', '--quick'])), [
      '(Node default)',
      '(Node default)',
    ]);
  });
});
