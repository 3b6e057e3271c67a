/**
 * Parsers for the flags that shape the pod (`run` and `manifest`): Kubernetes quantities, node
 * selectors, tolerations and the namespaced IPC sysctls. Each throws commander's
 * InvalidArgumentError with what is allowed.
 */
import type { V1Toleration } from '@kubernetes/client-node';
import { InvalidArgumentError } from 'commander';
import { CHANNEL_SYSCTLS, channelInfo } from '../../agents/contract/channels.js';
import type { Plan } from '../../agents/contract/schema.js';
import type { PodOptions } from '../pod/pod-manifest.js';
import { formatSize } from '../../reports/format.js';

/** `--cpu 500m`, `--cpu 2`: more than zero (a zero limit is no limit, and no Guaranteed QoS). */
export function parseCpu(text: string): string {
  if (!/^(\d+(\.\d+)?|\d+m)$/.test(text) || parseFloat(text) === 0)
    throw new InvalidArgumentError('use a Kubernetes CPU quantity above zero, e.g. 500m, 1 or 2.5');
  return text;
}

/** `--node NAME`: a node name as Kubernetes allows it (an RFC 1123 subdomain). */
export function parseNodeName(text: string): string {
  if (text.length > 253 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(text)) {
    throw new InvalidArgumentError(
      'use a node name: lower-case letters, digits, "-" and ".", starting and ending with a letter or digit (kubectl get nodes lists them)',
    );
  }
  return text;
}

/** `--memory 256Mi`, `--volume-size 1Gi`. */
export function parseBytesQuantity(text: string): string {
  if (!/^\d+(\.\d+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$/.test(text))
    throw new InvalidArgumentError('use a Kubernetes quantity, e.g. 256Mi, 1Gi or 500M');
  return text;
}

const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** `--node-selector k=v`, repeatable: collects into one map. */
export function collectNodeSelector(text: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = text.indexOf('=');
  const key = text.slice(0, eq);
  const value = text.slice(eq + 1);
  if (eq < 1 || !LABEL_KEY.test(key) || !LABEL_VALUE.test(value))
    throw new InvalidArgumentError('use key=value with a valid label key and value, e.g. kubernetes.io/arch=amd64');
  return { ...previous, [key]: value };
}

const EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

/** `--toleration key=value:Effect` or `key:Effect` (any value), repeatable. */
export function collectToleration(text: string, previous: V1Toleration[] = []): V1Toleration[] {
  const m = /^([^=:]+)(?:=([^:]*))?:(\w+)$/.exec(text);
  if (!m || !LABEL_KEY.test(m[1]!) || !EFFECTS.includes(m[3]!)) {
    throw new InvalidArgumentError(`use key=value:Effect or key:Effect, Effect one of ${EFFECTS.join(', ')}`);
  }
  const [, key, value, effect] = m;
  return [
    ...previous,
    value === undefined ? { key, operator: 'Exists', effect } : { key, operator: 'Equal', value, effect },
  ];
}

/** `--sysctl fs.mqueue.msgsize_max=1048576`, repeatable: the sysctls the channel registry lists. */
export function collectSysctl(
  text: string,
  previous: { name: string; value: string }[] = [],
): { name: string; value: string }[] {
  const [name = '', value = ''] = text.split('=');
  if (!CHANNEL_SYSCTLS.includes(name) || !/^\d+$/.test(value)) {
    throw new InvalidArgumentError(
      `use name=number, the name one of the namespaced IPC sysctls the channels depend on: ${CHANNEL_SYSCTLS.join(', ')}`,
    );
  }
  return [...previous.filter((s) => s.name !== name), { name, value }];
}

/** `--run-as-user` value that leaves the user id to the platform (OpenShift's restricted-v2 assigns one). */
export const PLATFORM_UID = 'platform';

/** `--run-as-user 1000` (any non-root uid) or `--run-as-user platform`. */
export function parseRunAsUser(text: string): number | typeof PLATFORM_UID {
  if (text === PLATFORM_UID) return PLATFORM_UID;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 2 ** 31 - 1) {
    throw new InvalidArgumentError(
      `use a non-root user id (1 to ${2 ** 31 - 1}), or ${PLATFORM_UID} to leave it to the cluster (OpenShift)`,
    );
  }
  return Number(text);
}

const QUANTITY_FACTORS: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

/** The bytes in a quantity {@link parseBytesQuantity} accepted. */
export function quantityBytes(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(\w*)$/.exec(text)!;
  return Number(m[1]) * QUANTITY_FACTORS[m[2]!]!;
}

/**
 * Memory an agent container needs, measured with podman by lowering --memory for a run of every
 * channel in both modes: at 64 B messages it ran from 28Mi (24Mi was OOM-killed), at 1 MiB from
 * 48Mi (32Mi was killed): about 20 bytes more per byte of the largest message (the message
 * buffers, the ring's slots, the files on the memory volume count against the container). The
 * page cache of Node's own binary is not charged, so this is well below the agents' ~80 MB RSS.
 * With margin: 32Mi and 24 bytes per byte.
 */
export const AGENT_MEMORY_BASE_BYTES = 32 * 2 ** 20;
export const AGENT_MEMORY_PER_MESSAGE = 24;

/**
 * What the pod options cannot do for `plan`, as one line naming the flag, or undefined: a
 * --memory below what an agent needs at the plan's largest message, a --volume-size below what
 * the channels keep as files in a volume (their registry entries' messagesInVolume).
 */
export function podOptionsProblem(plan: Plan, pod: PodOptions): string | undefined {
  const largest = Math.max(...plan.cases.map((c) => c.sizeBytes));
  if (pod.memory !== undefined) {
    const neededBytes = AGENT_MEMORY_BASE_BYTES + AGENT_MEMORY_PER_MESSAGE * largest;
    if (quantityBytes(pod.memory) < neededBytes) {
      return (
        `--memory ${pod.memory} is less than an agent needs with ${formatSize(largest)} messages: ` +
        `at least ${Math.ceil(neededBytes / 2 ** 20)}Mi`
      );
    }
  }
  // The case whose channel keeps the most bytes of messages as files in a volume, if any.
  const kept = plan.cases
    .map((c) => ({ messages: channelInfo(c.channel).messagesInVolume ?? 0, sizeBytes: c.sizeBytes }))
    .filter((k) => k.messages > 0)
    .reduce<{ messages: number; sizeBytes: number } | undefined>(
      (most, k) => (most && most.messages * most.sizeBytes >= k.messages * k.sizeBytes ? most : k),
      undefined,
    );
  if (pod.volumeSize !== undefined && kept) {
    const neededBytes = kept.messages * kept.sizeBytes + 2 ** 20; // + the journal and the sockets
    if (quantityBytes(pod.volumeSize) < neededBytes) {
      return (
        `--volume-size ${pod.volumeSize} is less than the file channels keep in a volume ` +
        `with ${formatSize(kept.sizeBytes)} messages: ` +
        `at least ${Math.ceil(neededBytes / 2 ** 20)}Mi (${kept.messages} messages and 1 MiB)`
      );
    }
  }
  return undefined;
}
