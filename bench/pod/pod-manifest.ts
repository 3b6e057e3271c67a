/**
 * The one function that turns a plan and pod options into the Pod podbench runs: used by
 * `podbench manifest` (for review, GitOps, kubectl create or server-side apply) and by every pod target, so what a
 * user reviews is what runs.
 *
 * The Pod passes the Pod Security "restricted" profile (non-root, no privilege escalation, all
 * capabilities dropped, RuntimeDefault seccomp, no host namespaces, read-only root filesystem) and
 * still measures every channel: the containers of a pod share the network and IPC namespaces and
 * /dev/shm by design, and the two emptyDir volumes are mounted into both.
 */
import type {
  V1ConfigMap,
  V1Container,
  V1EnvVar,
  V1Pod,
  V1Toleration,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import type { Plan } from '../../agents/contract/schema.js';
import { agentNodeOptions } from './agent-runtime.js';
import { BOOTSTRAP_COMMAND, DEFAULT_NODE_IMAGE, DELIVERY_DIRS, agentConfigMap } from './agent-delivery.js';
import { plannedSeconds } from '../running/planner.js';

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
  /** A prebuilt agent image (agent at /opt/podbench/agent.mjs); without it the agent comes in a ConfigMap. */
  readonly image?: string;
  /** The stock Node image the ConfigMap delivery runs in (default docker.io/library/node:24-slim). */
  readonly nodeImage?: string;
  /** The nodes' CPU architecture for the ConfigMap delivery (amd64, arm64; default: this host's). */
  readonly arch?: string;
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
  /**
   * The agents' user id (default AGENT_UID), or `platform` to set none and let the cluster assign
   * one within the namespace's range, as OpenShift's restricted-v2 does (runAsNonRoot stays).
   */
  readonly runAsUser?: number | 'platform';
  /** emptyDir sizeLimit for both volumes, e.g. `256Mi`. */
  readonly volumeSize?: string;
  readonly namespace?: string;
}

/**
 * Volume names carry the run id: podman turns a pod's emptyDir volumes into named volumes, so
 * plain names would be shared by two runs at once.
 */
export const volumeNames = (runId: string) => ({ disk: `disk-${runId}`, tmpfs: `tmpfs-${runId}` });

/**
 * How long the kubelet waits after SIGTERM before it kills the agents. They end a case in progress
 * and exit within half a second; an agent stuck in a kernel wait for a peer that is gone is
 * killed after this, where the default 30 s would hold up the deletion that long.
 */
export const TERMINATION_GRACE_SECONDS = 5;

/** The pod's name for a run. */
export const podName = (runId: string): string => `podbench-${runId}`;

/** Time a pod may spend pulling its image and starting (the deadline counts from the kubelet's start of the pod, after scheduling). */
const START_ALLOWANCE_SECONDS = 300;

/**
 * Seconds after which Kubernetes stops the pod: twice the plan's time, plus the rendezvous, the
 * start (image pull and container creation: the deadline counts from the pod's start on the
 * node, which is after scheduling and before the pull) and a minute of slack.
 */
export function activeDeadlineSeconds(plan: Plan): number {
  return Math.ceil(2 * plannedSeconds(plan) + plan.settings.connectTimeoutMs / 1000 + START_ALLOWANCE_SECONDS + 60);
}

/** The host's architecture in Kubernetes' terms. */
export const hostKubernetesArch = (): string => (process.arch === 'x64' ? 'amd64' : process.arch);

/** What the containers run: a prebuilt agent image, or the bootstrap from the ConfigMap. */
interface Delivery {
  readonly image: string;
  readonly command: string[];
  readonly mounts: V1VolumeMount[];
  readonly volumes: V1Volume[];
  readonly configMap?: V1ConfigMap;
  readonly nodeSelector: Record<string, string>;
}

function delivery(plan: Plan, options: PodOptions, labels: Record<string, string>): Delivery {
  if (options.image)
    return { image: options.image, command: ['node', IMAGE_AGENT_PATH], mounts: [], volumes: [], nodeSelector: {} };
  const arch = options.arch ?? options.nodeSelector['kubernetes.io/arch'] ?? hostKubernetesArch();
  const names = { configMap: `podbench-${plan.runId}-agent`, volume: `agent-${plan.runId}`, app: `app-${plan.runId}` };
  return {
    image: options.nodeImage ?? DEFAULT_NODE_IMAGE,
    command: BOOTSTRAP_COMMAND,
    mounts: [
      { name: names.volume, mountPath: DELIVERY_DIRS.configMap, readOnly: true },
      { name: names.app, mountPath: DELIVERY_DIRS.unpacked },
    ],
    volumes: [
      { name: names.volume, configMap: { name: names.configMap } },
      { name: names.app, emptyDir: {} },
    ],
    configMap: agentConfigMap(names.configMap, arch, labels),
    nodeSelector: { 'kubernetes.io/arch': arch },
  };
}

function nodeOptionsEnv(plan: Plan): V1EnvVar[] {
  const value = agentNodeOptions(plan);
  return value ? [{ name: 'NODE_OPTIONS', value }] : [];
}

/** runAsUser and runAsGroup, or nothing when the platform assigns them. */
function userIds(options: PodOptions): { runAsUser?: number; runAsGroup?: number } {
  const uid = options.runAsUser ?? AGENT_UID;
  return uid === 'platform' ? {} : { runAsUser: uid, runAsGroup: uid };
}

function agentContainer(role: 'initiator' | 'responder', plan: Plan, options: PodOptions, how: Delivery): V1Container {
  const resources =
    options.cpu || options.memory
      ? {
          requests: {
            ...(options.cpu ? { cpu: options.cpu } : {}),
            ...(options.memory ? { memory: options.memory } : {}),
          },
          limits: {
            ...(options.cpu ? { cpu: options.cpu } : {}),
            ...(options.memory ? { memory: options.memory } : {}),
          },
        }
      : undefined;
  return {
    name: role,
    image: how.image,
    ...(options.imagePullPolicy ? { imagePullPolicy: options.imagePullPolicy } : {}),
    command: [...how.command, '--role', role, '--disk-dir', POD_DIRS.disk, '--tmpfs-dir', POD_DIRS.tmpfs],
    env: [{ name: 'PODBENCH_PLAN', value: JSON.stringify(plan) }, ...nodeOptionsEnv(plan)],
    ...(resources ? { resources } : {}),
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      ...userIds(options),
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumeMounts: [
      { name: volumeNames(plan.runId).disk, mountPath: POD_DIRS.disk },
      { name: volumeNames(plan.runId).tmpfs, mountPath: POD_DIRS.tmpfs },
      ...how.mounts,
    ],
  };
}

/** What a run creates: the Pod, and the ConfigMap that delivers the agent unless an agent image is used. */
export interface PodResources {
  readonly pod: V1Pod;
  readonly configMap?: V1ConfigMap;
}

/** Builds the Pod (and ConfigMap) for `plan`. */
export function buildPodManifest(plan: Plan, options: PodOptions): PodResources {
  const sizeLimit = options.volumeSize ? { sizeLimit: options.volumeSize } : {};
  const labels = { ...APP_LABEL, [RUN_ID_LABEL]: plan.runId };
  const how = delivery(plan, options, labels);
  const nodeSelector = { ...how.nodeSelector, ...options.nodeSelector };
  const namespace = options.namespace ? { namespace: options.namespace } : {};
  const configMap = how.configMap && { ...how.configMap, metadata: { ...how.configMap.metadata, ...namespace } };
  const pod: V1Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: podName(plan.runId),
      ...namespace,
      labels: { ...labels, 'app.kubernetes.io/component': 'agents' },
    },
    spec: {
      restartPolicy: 'Never',
      activeDeadlineSeconds: activeDeadlineSeconds(plan),
      terminationGracePeriodSeconds: TERMINATION_GRACE_SECONDS,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      ...(options.node ? { nodeName: options.node } : {}),
      ...(Object.keys(nodeSelector).length ? { nodeSelector } : {}),
      ...(options.tolerations.length ? { tolerations: [...options.tolerations] } : {}),
      ...(options.runtimeClass ? { runtimeClassName: options.runtimeClass } : {}),
      securityContext: {
        runAsNonRoot: true,
        ...userIds(options),
        seccompProfile: { type: 'RuntimeDefault' },
        ...(options.sysctls.length ? { sysctls: [...options.sysctls] } : {}),
      },
      containers: [agentContainer('responder', plan, options, how), agentContainer('initiator', plan, options, how)],
      volumes: [
        { name: volumeNames(plan.runId).disk, emptyDir: { ...sizeLimit } },
        { name: volumeNames(plan.runId).tmpfs, emptyDir: { medium: 'Memory', ...sizeLimit } },
        ...how.volumes,
      ],
    },
  };
  return configMap ? { pod, configMap } : { pod };
}

/** The resources as the documents `kubectl create -f` takes, ConfigMap first. */
export function manifestDocuments(resources: PodResources): object[] {
  return resources.configMap ? [resources.configMap, resources.pod] : [resources.pod];
}
