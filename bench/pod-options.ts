/**
 * Parsers for the flags that shape the pod (`run` and `manifest`): Kubernetes quantities, node
 * selectors, tolerations and the namespaced IPC sysctls. Each throws commander's
 * InvalidArgumentError with what is allowed.
 */
import type { V1Toleration } from '@kubernetes/client-node';
import { InvalidArgumentError } from 'commander';

/** `--cpu 500m`, `--cpu 2`: more than zero (a zero limit is no limit, and no Guaranteed QoS). */
export function parseCpu(text: string): string {
  if (!/^(\d+(\.\d+)?|\d+m)$/.test(text) || parseFloat(text) === 0) throw new InvalidArgumentError('use a Kubernetes CPU quantity above zero, e.g. 500m, 1 or 2.5');
  return text;
}

/** `--node NAME`: a node name as Kubernetes allows it (an RFC 1123 subdomain). */
export function parseNodeName(text: string): string {
  if (text.length > 253 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(text)) {
    throw new InvalidArgumentError('use a node name: lower-case letters, digits, "-" and ".", starting and ending with a letter or digit (kubectl get nodes lists them)');
  }
  return text;
}

/** `--memory 256Mi`, `--volume-size 1Gi`. */
export function parseBytesQuantity(text: string): string {
  if (!/^\d+(\.\d+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$/.test(text)) throw new InvalidArgumentError('use a Kubernetes quantity, e.g. 256Mi, 1Gi or 500M');
  return text;
}

const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** `--node-selector k=v`, repeatable: collects into one map. */
export function collectNodeSelector(text: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = text.indexOf('=');
  const key = text.slice(0, eq);
  const value = text.slice(eq + 1);
  if (eq < 1 || !LABEL_KEY.test(key) || !LABEL_VALUE.test(value)) throw new InvalidArgumentError('use key=value with a valid label key and value, e.g. kubernetes.io/arch=amd64');
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
  return [...previous, value === undefined ? { key, operator: 'Exists', effect } : { key, operator: 'Equal', value, effect }];
}

/** The IPC sysctls a pod may set in its own namespace. */
export const IPC_SYSCTL = /^(fs\.mqueue\.(msg_max|msgsize_max|queues_max|msg_default|msgsize_default)|kernel\.(msgmax|msgmnb|msgmni))$/;

/** `--sysctl fs.mqueue.msgsize_max=1048576`, repeatable. */
export function collectSysctl(text: string, previous: { name: string; value: string }[] = []): { name: string; value: string }[] {
  const [name = '', value = ''] = text.split('=');
  if (!IPC_SYSCTL.test(name) || !/^\d+$/.test(value)) {
    throw new InvalidArgumentError('use name=number for fs.mqueue.{msg_max,msgsize_max,queues_max} or kernel.{msgmax,msgmnb,msgmni}');
  }
  return [...previous.filter((s) => s.name !== name), { name, value }];
}

/** `--run-as-user` value that leaves the user id to the platform (OpenShift's restricted-v2 assigns one). */
export const PLATFORM_UID = 'platform';

/** `--run-as-user 1000` (any non-root uid) or `--run-as-user platform`. */
export function parseRunAsUser(text: string): number | typeof PLATFORM_UID {
  if (text === PLATFORM_UID) return PLATFORM_UID;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 2 ** 31 - 1) {
    throw new InvalidArgumentError(`use a non-root user id (1 to ${2 ** 31 - 1}), or ${PLATFORM_UID} to leave it to the cluster (OpenShift)`);
  }
  return Number(text);
}
