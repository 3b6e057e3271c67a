/**
 * `podbench manifest`: a Pod that is valid against the Kubernetes schema (kubernetes-models'
 * JSON schemas) and passes the restricted Pod Security profile, shaped by the pod flags.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { loadYaml } from '@kubernetes/client-node';
import { Pod } from 'kubernetes-models/v1';
import { runCli } from './helpers/cli.js';
import { restrictedViolations } from './helpers/pod-security.js';

async function manifest(args: string[]): Promise<V1Pod> {
  const r = await runCli(['manifest', ...args]);
  assert.equal(r.code, 0, r.stderr);
  // loadYaml gives client-node model classes; compare as plain JSON like the API server would.
  return JSON.parse(args.includes('json') ? r.stdout : JSON.stringify(loadYaml(r.stdout))) as V1Pod;
}

describe('podbench manifest', () => {
  it('prints a valid, restricted-compliant Pod with requests = limits and the node', async () => {
    const pod = await manifest(['--cpu', '1', '--memory', '256Mi', '--node', 'node-a', '-o', 'json']);
    new Pod(pod as ConstructorParameters<typeof Pod>[0]).validate();
    assert.deepEqual(restrictedViolations(pod), []);
    assert.equal(pod.spec!.nodeName, 'node-a');
    assert.equal(pod.spec!.restartPolicy, 'Never');
    assert.ok(pod.spec!.activeDeadlineSeconds! > 0);
    assert.equal(pod.metadata!.labels!['app.kubernetes.io/name'], 'podbench');
    assert.deepEqual(pod.spec!.containers.map((c) => c.name).sort(), ['initiator', 'responder']);
    for (const c of pod.spec!.containers) {
      assert.deepEqual(c.resources, { requests: { cpu: '1', memory: '256Mi' }, limits: { cpu: '1', memory: '256Mi' } });
      assert.equal(c.securityContext!.readOnlyRootFilesystem, true);
      assert.deepEqual(c.volumeMounts!.map((m) => m.mountPath).sort(), ['/podbench/disk', '/podbench/tmpfs']);
    }
    const volumes = Object.fromEntries(pod.spec!.volumes!.map((v) => [v.name, v.emptyDir]));
    assert.equal(Object.values(volumes).filter((e) => e?.medium === 'Memory').length, 1);
  });

  it('YAML by default, with placement, runtime class and volume size', async () => {
    const pod = await manifest(['--node-selector', 'kubernetes.io/arch=amd64', '--toleration', 'dedicated=bench:NoSchedule', '--runtime-class', 'gvisor', '--volume-size', '128Mi', '--image', 'registry.example/podbench:1']);
    new Pod(pod as ConstructorParameters<typeof Pod>[0]).validate();
    assert.deepEqual(restrictedViolations(pod), []);
    assert.deepEqual(pod.spec!.nodeSelector, { 'kubernetes.io/arch': 'amd64' });
    assert.deepEqual(pod.spec!.tolerations, [{ key: 'dedicated', operator: 'Equal', value: 'bench', effect: 'NoSchedule' }]);
    assert.equal(pod.spec!.runtimeClassName, 'gvisor');
    assert.ok(pod.spec!.volumes!.every((v) => v.emptyDir?.sizeLimit === '128Mi'));
    assert.ok(pod.spec!.containers.every((c) => c.image === 'registry.example/podbench:1'));
  });

  it('IPC sysctls are set, and the checker sees that restricted clusters refuse them', async () => {
    const pod = await manifest(['--sysctl', 'fs.mqueue.msgsize_max=1048576', '-o', 'json']);
    assert.deepEqual(pod.spec!.securityContext!.sysctls, [{ name: 'fs.mqueue.msgsize_max', value: '1048576' }]);
    assert.deepEqual(restrictedViolations(pod), ['unsafe sysctl fs.mqueue.msgsize_max']);
  });

  it('refuses bad pod flags with one line naming the flag', async () => {
    for (const [flag, value] of [['--cpu', 'lots'], ['--memory', '1 GB'], ['--toleration', 'x:Sometimes'], ['--sysctl', 'net.core.somaxconn=4096'], ['--node-selector', 'novalue']]) {
      const r = await runCli(['manifest', flag!, value!]);
      assert.equal(r.code, 2);
      assert.equal(r.stderr.trim().split('\n').length, 1);
      assert.match(r.stderr, new RegExp(flag!));
    }
  });
});
