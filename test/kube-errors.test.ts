/**
 * The --node check's rules on shapes one node cannot produce on demand here: a node the
 * controller-manager marked NotReady when its kubelet stopped posting status (the shape below is
 * the node lifecycle controller's), and the toleration matching Kubernetes applies. Missing,
 * cordoned and tainted nodes are shown on the real cluster (kubernetes.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Node } from '@kubernetes/client-node';
import { nodeProblem, tolerates } from '../bench/targets/kubernetes/kube-errors.js';
import { candidateNodes, singleArchitecture } from '../bench/targets/kubernetes/kubernetes-nodes.js';

const node = (spec: V1Node['spec'], ready: { status: string; reason?: string; message?: string }): V1Node => ({
  metadata: { name: 'n1' },
  spec,
  status: { conditions: [{ type: 'Ready', ...ready }] },
});

describe('--node check', () => {
  it("a fit node passes; a NotReady one is named with the controller-manager's reason", () => {
    assert.equal(nodeProblem(node({}, { status: 'True' }), []), undefined);
    assert.equal(
      nodeProblem(
        node({}, { status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.' }),
        [],
      ),
      '--node n1: the node is not Ready (NodeStatusUnknown: Kubelet stopped posting node status.)',
    );
  });

  it('taints: NoSchedule and NoExecute need a toleration, PreferNoSchedule does not', () => {
    const tainted = node(
      {
        taints: [
          { key: 'pool', value: 'gpu', effect: 'NoSchedule' },
          { key: 'soft', effect: 'PreferNoSchedule' },
        ],
      },
      { status: 'True' },
    );
    assert.equal(
      nodeProblem(tainted, []),
      "--node n1: the pod does not tolerate the node's taint pool=gpu:NoSchedule " +
        '(add --toleration pool=gpu:NoSchedule if it should run there)',
    );
    assert.equal(
      nodeProblem(tainted, [{ key: 'pool', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }]),
      undefined,
    );
  });

  it('toleration matching follows Kubernetes: key, operator, value, effect', () => {
    const taint = { key: 'k', value: 'v', effect: 'NoExecute' };
    assert.ok(tolerates({ key: 'k', operator: 'Equal', value: 'v' }, taint), 'no effect matches every effect');
    assert.ok(tolerates({ key: 'k', operator: 'Exists', effect: 'NoExecute' }, taint));
    assert.ok(tolerates({ operator: 'Exists' }, taint), 'an empty key with Exists tolerates everything');
    assert.ok(!tolerates({ key: 'k', operator: 'Equal', value: 'w' }, taint));
    assert.ok(!tolerates({ key: 'k', operator: 'Exists', effect: 'NoSchedule' }, taint));
    assert.ok(!tolerates({ key: 'other', operator: 'Exists' }, taint));
  });
});

describe('the architecture the ConfigMap delivery carries, from the nodes the pod may land on', () => {
  const n = (
    name: string,
    arch: string,
    extra: { labels?: Record<string, string>; spec?: V1Node['spec'] } = {},
  ): V1Node => ({
    metadata: { name, labels: { 'kubernetes.io/arch': arch, ...extra.labels } },
    spec: extra.spec ?? {},
  });
  const nodes = [
    n('amd-1', 'amd64', { labels: { pool: 'x86' } }),
    n('amd-2', 'amd64', { labels: { pool: 'x86' } }),
    n('arm-1', 'arm64', { labels: { pool: 'graviton' } }),
    n('arm-tainted', 'arm64', { spec: { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] } }),
    n('arm-cordoned', 'arm64', { spec: { unschedulable: true } }),
  ];
  const placement = (p: Partial<Parameters<typeof candidateNodes>[1]> = {}) => ({
    nodeSelector: {},
    tolerations: [],
    ...p,
  });

  it('one architecture among the candidates is taken', () => {
    assert.equal(singleArchitecture(candidateNodes(nodes, placement({ nodeSelector: { pool: 'graviton' } }))), 'arm64');
    assert.equal(singleArchitecture(candidateNodes(nodes, placement({ nodeSelector: { pool: 'x86' } }))), 'amd64');
    assert.equal(
      singleArchitecture(candidateNodes(nodes, placement({ node: 'arm-tainted' }))),
      'arm64',
      '--node: that node, whatever its taints (checked apart)',
    );
    assert.equal(
      singleArchitecture(candidateNodes(nodes, placement({ nodeSelector: { pool: 'none' } }))),
      undefined,
      'no candidate: the scheduler will say why',
    );
  });

  it('cordoned nodes and untolerated taints are left out; several architectures ask for --arch', () => {
    assert.deepEqual(
      candidateNodes(nodes, placement()).map((x) => x.metadata!.name),
      ['amd-1', 'amd-2', 'arm-1'],
    );
    assert.throws(
      () => singleArchitecture(candidateNodes(nodes, placement())),
      (err: Error) =>
        err.message ===
        'the nodes this pod may be scheduled on have several architectures: amd64 (amd-1, amd-2), arm64 (arm-1); ' +
          'pass --arch, or narrow them with --node-selector or --node',
    );
    const tolerated = candidateNodes(
      nodes,
      placement({
        nodeSelector: { 'kubernetes.io/arch': 'arm64' },
        tolerations: [{ key: 'dedicated', operator: 'Exists' }],
      }),
    );
    assert.deepEqual(
      tolerated.map((x) => x.metadata!.name),
      ['arm-1', 'arm-tainted'],
    );
  });
});
