/**
 * The one function that turns a plan and pod options into the Pod podbench runs: used by
 * `podbench manifest` (for review, GitOps or kubectl apply) and by every pod target, so what a
 * user reviews is what runs.
 *
 * The Pod passes the Pod Security "restricted" profile (non-root, no privilege escalation, all
 * capabilities dropped, RuntimeDefault seccomp, no host namespaces, read-only root filesystem) and
 * still measures every channel: the containers of a pod share the network and IPC namespaces and
 * /dev/shm by design, and the two emptyDir volumes are mounted into both.
 */
import type { V1Container, V1Pod, V1Toleration } from '@kubernetes/client-node';
import type { Plan } from '../agents/contract/schema.js';
import { plannedSeconds } from './plan.js';

/** Where the shared volumes are mounted in both containers. */
export const POD_DIRS = { disk: '/podbench/disk', tmpfs: '/podbench/tmpfs' } as const;
/** The agent program inside the agent image. */
export const IMAGE_AGENT_PATH = '/opt/podbench/agent.mjs';
/** The uid the agents run as (any non-root uid works; emptyDir volumes are world-writable). */
export const AGENT_UID = 1000;
/** Label every podbench object carries, for listing and cleanup. */
export const APP_LABEL = { 'app.kubernetes.io/name': 'podbench' } as const;
export const RUN_ID_LABEL = 'podbench.io/run-id';

/** How the pod is shaped and placed; every field maps to a `run`/`manifest` flag. */
export interface PodOptions {
  readonly image: string;
  readonly imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** CPU for each container (requests = limits, so the pod is Guaranteed QoS when memory is set too). */
  readonly cpu?: string;
  readonly memory?: string;
  readonly node?: string;
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly tolerations: readonly V1Toleration[];
  readonly runtimeClass?: string;
  /** Namespaced IPC sysctls (fs.mqueue.*, kernel.msg*), e.g. to allow larger queue messages. */
  readonly sysctls: readonly { name: string; value: string }[];
  /** emptyDir sizeLimit for both volumes, e.g. `256Mi`. */
  readonly volumeSize?: string;
  readonly namespace?: string;
}

/**
 * Volume names carry the run id: podman turns a pod's emptyDir volumes into named volumes, so
 * plain names would be shared by two runs at once.
 */
export const volumeNames = (runId: string) => ({ disk: `disk-${runId}`, tmpfs: `tmpfs-${runId}` });

/** The pod's name for a run. */
export const podName = (runId: string): string => `podbench-${runId}`;

/** Seconds after which Kubernetes stops the pod: twice the plan's time plus the rendezvous and slack. */
export function activeDeadlineSeconds(plan: Plan): number {
  return Math.ceil(2 * plannedSeconds(plan) + plan.settings.connectTimeoutMs / 1000 + 60);
}

function agentContainer(role: 'initiator' | 'responder', plan: Plan, options: PodOptions): V1Container {
  const resources =
    options.cpu || options.memory
      ? {
          requests: { ...(options.cpu ? { cpu: options.cpu } : {}), ...(options.memory ? { memory: options.memory } : {}) },
          limits: { ...(options.cpu ? { cpu: options.cpu } : {}), ...(options.memory ? { memory: options.memory } : {}) },
        }
      : undefined;
  return {
    name: role,
    image: options.image,
    ...(options.imagePullPolicy ? { imagePullPolicy: options.imagePullPolicy } : {}),
    command: ['node', IMAGE_AGENT_PATH, '--role', role, '--disk-dir', POD_DIRS.disk, '--tmpfs-dir', POD_DIRS.tmpfs],
    env: [{ name: 'PODBENCH_PLAN', value: JSON.stringify(plan) }],
    ...(resources ? { resources } : {}),
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      runAsUser: AGENT_UID,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumeMounts: [
      { name: volumeNames(plan.runId).disk, mountPath: POD_DIRS.disk },
      { name: volumeNames(plan.runId).tmpfs, mountPath: POD_DIRS.tmpfs },
    ],
  };
}

/** Builds the Pod for `plan`. */
export function buildPodManifest(plan: Plan, options: PodOptions): V1Pod {
  const sizeLimit = options.volumeSize ? { sizeLimit: options.volumeSize } : {};
  const nodeSelector = { ...options.nodeSelector };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: podName(plan.runId),
      ...(options.namespace ? { namespace: options.namespace } : {}),
      labels: { ...APP_LABEL, 'app.kubernetes.io/component': 'agents', [RUN_ID_LABEL]: plan.runId },
    },
    spec: {
      restartPolicy: 'Never',
      activeDeadlineSeconds: activeDeadlineSeconds(plan),
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      ...(options.node ? { nodeName: options.node } : {}),
      ...(Object.keys(nodeSelector).length ? { nodeSelector } : {}),
      ...(options.tolerations.length ? { tolerations: [...options.tolerations] } : {}),
      ...(options.runtimeClass ? { runtimeClassName: options.runtimeClass } : {}),
      securityContext: {
        runAsNonRoot: true,
        runAsUser: AGENT_UID,
        runAsGroup: AGENT_UID,
        seccompProfile: { type: 'RuntimeDefault' },
        ...(options.sysctls.length ? { sysctls: [...options.sysctls] } : {}),
      },
      containers: [agentContainer('responder', plan, options), agentContainer('initiator', plan, options)],
      volumes: [
        { name: volumeNames(plan.runId).disk, emptyDir: { ...sizeLimit } },
        { name: volumeNames(plan.runId).tmpfs, emptyDir: { medium: 'Memory', ...sizeLimit } },
      ],
    },
  };
}
