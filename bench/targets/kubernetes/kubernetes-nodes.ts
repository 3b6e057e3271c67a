/**
 * Where the pod may land, read from the cluster before anything is created: the nodes that
 * `--node`, `--node-selector` and the tolerations leave, and their CPU architecture — which the
 * ConfigMap delivery must match (it carries one architecture's native module), whatever the
 * machine podbench runs on.
 */
import type { V1Node, V1Toleration } from '@kubernetes/client-node';
import { UsageError } from '../../cli/errors.js';
import { tolerates } from './kube-errors.js';

/** A node's architecture in Kubernetes' terms (its well-known label, else what the kubelet reports). */
export function architectureOf(node: V1Node): string | undefined {
  return node.metadata?.labels?.['kubernetes.io/arch'] ?? node.status?.nodeInfo?.architecture;
}

/**
 * The nodes a pod with these placement settings may be scheduled on: the one `--node` names, or
 * those whose labels match the selector, not cordoned, whose NoSchedule and NoExecute taints it
 * tolerates.
 */
export function candidateNodes(
  nodes: readonly V1Node[],
  placement: { node?: string; nodeSelector: Readonly<Record<string, string>>; tolerations: readonly V1Toleration[] },
): V1Node[] {
  if (placement.node) return nodes.filter((n) => n.metadata?.name === placement.node);
  return nodes.filter(
    (n) =>
      !n.spec?.unschedulable &&
      Object.entries(placement.nodeSelector).every(([k, v]) => n.metadata?.labels?.[k] === v) &&
      (n.spec?.taints ?? []).every(
        (t) => t.effect === 'PreferNoSchedule' || placement.tolerations.some((tol) => tolerates(tol, t)),
      ),
  );
}

/**
 * The one architecture of `candidates`, undefined when none is known; with several, a usage
 * error that lists them and asks for --arch.
 */
export function singleArchitecture(candidates: readonly V1Node[]): string | undefined {
  const byArch = new Map<string, string[]>();
  for (const n of candidates) {
    const arch = architectureOf(n);
    if (arch) byArch.set(arch, [...(byArch.get(arch) ?? []), n.metadata?.name ?? '?']);
  }
  if (byArch.size > 1) {
    const listed = [...byArch].map(
      ([arch, names]) =>
        `${arch} (${names.slice(0, 3).join(', ')}${names.length > 3 ? ` and ${names.length - 3} more` : ''})`,
    );
    throw new UsageError(
      `the nodes this pod may be scheduled on have several architectures: ${listed.join(', ')}; ` +
        'pass --arch, or narrow them with --node-selector or --node',
    );
  }
  return [...byArch.keys()][0];
}
