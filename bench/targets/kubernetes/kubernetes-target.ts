/**
 * The kubernetes target: the generated ConfigMap and Pod created through
 * @kubernetes/client-node, the pod followed until the initiator runs (with a diagnosis when it
 * cannot: RBAC, namespace, scheduling, image, crash), the initiator's log streamed as events, and
 * both objects deleted on success, failure and Ctrl-C unless --keep.
 */
import { existsSync } from 'node:fs';
import { constants, homedir } from 'node:os';
import { join } from 'node:path';
import {
  CoreV1Api,
  KubeConfig,
  Log,
  type CoreV1Event,
  type V1ContainerStateTerminated,
  type V1ContainerStatus,
  type V1OwnerReference,
  type V1Pod,
} from '@kubernetes/client-node';
import type { ClusterNode, Plan } from '../../../agents/contract/schema.js';
import { agentEvents, explainingLine } from '../../running/agent-events.js';
import { CliError } from '../../cli/errors.js';
import {
  NODE_READER_HINT,
  apiError,
  httpStatus,
  nodeProblem,
  podProblem,
  pullRetry,
  unschedulableReason,
} from './kube-errors.js';
import { DELETE_WAIT_MS, POLL_MS, bounded, deletePodAndWait, pollUntil, sleep } from './kube-calls.js';
import {
  KEEP_ANNOTATION,
  START_TIMEOUT_ANNOTATION,
  countObjects,
  findStaleObjects,
  removeStaleObjects,
} from './kubernetes-sweep.js';
import {
  RUN_ID_LABEL,
  buildPodManifest,
  hostKubernetesArch,
  podName,
  type PodOptions,
} from '../../pod/pod-manifest.js';
import { candidateNodes, singleArchitecture } from './kubernetes-nodes.js';
import { LogFollower } from '../log-follower.js';
import { exitDiagnosis, stopOnce, type RunningPair, type Target } from '../target.js';

/** Where and how to reach the cluster. */
export interface KubernetesTargetOptions {
  readonly pod: PodOptions;
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly namespace?: string;
  /** Leave the pod and ConfigMap in place (for kubectl describe / logs). */
  readonly keep: boolean;
  /** How long the pod may take to start (scheduling, image pull). */
  readonly startTimeoutMs: number;
  readonly note: (text: string) => void;
}

/** Longest wait, after the initiator's log ends, for the kubelet to report both agents' exits. */
const SETTLE_MS = 10_000;
/** While the log streams, the pod is checked this often… */
const MONITOR_MS = 2000;
/** …and the run given up after this many failed checks in a row (the API is gone). */
const MONITOR_FAILURES = 3;
/** A loaded kubeconfig with its context, namespace and API server. */
export interface ClusterAccess {
  readonly config: KubeConfig;
  readonly context: string;
  readonly namespace: string;
  readonly server: string;
}

/** Loads the kubeconfig (--kubeconfig, else KUBECONFIG, ~/.kube/config, in-cluster). */
export function loadClusterAccess(options: {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
}): ClusterAccess {
  const config = new KubeConfig();
  // With nothing to load, client-node invents a context for http://localhost:8080; say so instead.
  const defaultFile = join(homedir(), '.kube', 'config');
  if (
    !options.kubeconfig &&
    !process.env.KUBECONFIG &&
    !existsSync(defaultFile) &&
    !process.env.KUBERNETES_SERVICE_HOST
  ) {
    throw new CliError(
      'no kubeconfig found (KUBECONFIG unset, no ~/.kube/config, not inside a cluster)',
      1,
      'pass --kubeconfig, or use --target local|podman',
    );
  }
  try {
    if (options.kubeconfig) config.loadFromFile(options.kubeconfig);
    else config.loadFromDefault();
  } catch (err) {
    throw new CliError(
      `the kubeconfig ${options.kubeconfig ?? process.env.KUBECONFIG ?? '~/.kube/config'} cannot be read: ${(err as Error).message}`,
      1,
    );
  }
  if (options.context) {
    if (!config.getContextObject(options.context)) {
      throw new CliError(
        `--context ${options.context} is not in the kubeconfig; it has: ${
          config
            .getContexts()
            .map((c) => c.name)
            .join(', ') || 'none'
        }`,
        2,
      );
    }
    config.setCurrentContext(options.context);
  }
  const context = config.getCurrentContext();
  const cluster = config.getCurrentCluster();
  if (!context || !cluster) {
    throw new CliError(
      'no Kubernetes context is configured',
      1,
      'set KUBECONFIG or pass --kubeconfig and --context, or use --target local|podman',
    );
  }
  const namespace = options.namespace ?? config.getContextObject(context)?.namespace ?? 'default';
  return { config, context, namespace, server: cluster.server };
}

const ROLES = ['initiator', 'responder'] as const;

/** An owner reference to `pod`, so the garbage collector deletes what it owns with it. */
function podOwnerReference(pod: V1Pod): V1OwnerReference {
  return { apiVersion: 'v1', kind: 'Pod', name: pod.metadata!.name!, uid: pod.metadata!.uid! };
}
const endedAt = (t: V1ContainerStateTerminated): number =>
  t.finishedAt ? new Date(t.finishedAt).getTime() : Number.MAX_SAFE_INTEGER;

function containerStatus(pod: V1Pod, name: string): V1ContainerStatus | undefined {
  return pod.status?.containerStatuses?.find((c) => c.name === name);
}

/** Runs both agents in one Pod on a Kubernetes cluster. */
export class KubernetesTarget implements Target {
  readonly name = 'kubernetes';
  private readonly access: ClusterAccess;
  private readonly core: CoreV1Api;

  constructor(private readonly options: KubernetesTargetOptions) {
    this.access = loadClusterAccess(options);
    this.core = this.access.config.makeApiClient(CoreV1Api);
  }

  /** Context and namespace, for the progress line. */
  describe(): string {
    return `context ${this.access.context}, namespace ${this.access.namespace}, API ${this.access.server}`;
  }

  private fail(err: unknown, what: string): CliError {
    return apiError(err, what, this.access.server, this.access.namespace);
  }

  private async events(name: string): Promise<CoreV1Event[]> {
    try {
      const list = await this.core.listNamespacedEvent({
        namespace: this.access.namespace,
        fieldSelector: `involvedObject.name=${name}`,
      });
      return list.items;
    } catch {
      return []; // events only explain; their absence must not fail the run
    }
  }

  /** The last line a container wrote, for a crash diagnosis. */
  private async lastLogLine(pod: string, container: string): Promise<string | undefined> {
    try {
      return explainingLine(
        String(
          await this.core.readNamespacedPodLog({
            name: pod,
            namespace: this.access.namespace,
            container,
            tailLines: 30,
          }),
        ),
      );
    } catch {
      return undefined;
    }
  }

  /**
   * The node the pod was placed on, with its kubelet and runtime versions when the Node object
   * may be read (it is cluster-scoped: the ClusterRole in manifests/node-reader.yaml allows it).
   */
  private async nodeOf(pod: V1Pod): Promise<ClusterNode | undefined> {
    const name = pod.spec?.nodeName;
    if (!name) return undefined;
    const qos = pod.status?.qosClass ? { qosClass: pod.status.qosClass } : {};
    try {
      const node = await bounded(this.core.readNode({ name }));
      const info = node.status?.nodeInfo;
      return {
        name,
        ...qos,
        ...(info && {
          kubeletVersion: info.kubeletVersion,
          containerRuntimeVersion: info.containerRuntimeVersion,
          kernelVersion: info.kernelVersion,
          osImage: info.osImage,
        }),
        ...(node.metadata?.labels && { labels: node.metadata.labels }),
      };
    } catch (err) {
      const why =
        httpStatus(err) === 403
          ? `not allowed to get nodes (${NODE_READER_HINT})`
          : this.fail(err, 'read the node').message;
      return { name, ...qos, unreadable: why };
    }
  }

  /**
   * The pod once both agents have exited, or as it stands after SETTLE_MS. The initiator's log
   * ends when its process does, but the kubelet reports the exit a moment later (its next
   * relist): read too early, a container that crashed still shows as running and the crash
   * goes undiagnosed.
   */
  private async settled(name: string): Promise<V1Pod> {
    let pod: V1Pod | undefined;
    await pollUntil(SETTLE_MS, async () => {
      pod = await bounded(this.core.readNamespacedPod({ name, namespace: this.access.namespace }));
      const exited = ROLES.every((role) => containerStatus(pod!, role)?.state?.terminated);
      return exited || pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded' ? pod : undefined;
    });
    return pod!;
  }

  /**
   * Which agent's exit explains the run's end, in one sentence: when one agent dies the other
   * exits too (its peer is gone), so a container killed by a signal comes before one that exited
   * by itself, and then the one that ended first.
   */
  private async containerFailure(pod: V1Pod): Promise<string | undefined> {
    const failed = ROLES.map((role) => ({ role, t: containerStatus(pod, role)?.state?.terminated }))
      .filter(
        (f): f is { role: (typeof ROLES)[number]; t: V1ContainerStateTerminated } =>
          f.t !== undefined && f.t.exitCode !== 0,
      )
      .sort((a, b) => Number(b.t.exitCode > 128) - Number(a.t.exitCode > 128) || endedAt(a.t) - endedAt(b.t));
    const first = failed[0];
    if (!first) return undefined;
    const { role, t } = first;
    const signal =
      t.exitCode > 128 ? Object.entries(constants.signals).find(([, n]) => n === t.exitCode - 128)?.[0] : undefined;
    const why =
      t.reason === 'OOMKilled'
        ? 'OOMKilled; raise --memory'
        : signal
          ? `killed by ${signal}`
          : ((await this.lastLogLine(pod.metadata!.name!, role)) ?? [t.reason, t.message].filter(Boolean).join(': '));
    return exitDiagnosis(role, 'container', t.exitCode, why);
  }

  /** Waits until the initiator runs (or already ran); throws the reason the pod cannot. */
  private async waitForStart(name: string, signal: AbortSignal): Promise<V1Pod> {
    const deadline = Date.now() + this.options.startTimeoutMs;
    const describe = `kubectl describe pod -n ${this.access.namespace} ${name}`;
    let notedUnschedulable = false;
    let lastPullRetry: string | undefined;
    for (;;) {
      if (signal.aborted) throw new CliError('interrupted while the pod was starting', 1);
      let pod: V1Pod;
      try {
        pod = await bounded(this.core.readNamespacedPod({ name, namespace: this.access.namespace }));
      } catch (err) {
        throw this.fail(err, 'read the pod');
      }
      const initiator = containerStatus(pod, 'initiator');
      if (initiator?.state?.running || initiator?.state?.terminated) {
        const failure = await this.containerFailure(pod);
        if (failure) throw new CliError(failure, 1);
        return pod;
      }
      const events = await this.events(name);
      const problem = podProblem(pod, events);
      if (problem) throw new CliError(problem, 1, describe);
      const unschedulable = unschedulableReason(pod);
      if (unschedulable && !notedUnschedulable) {
        notedUnschedulable = true;
        this.options.note(`${unschedulable}; waiting up to --start-timeout in case a node is being added`);
      }
      const retry = pullRetry(pod, events);
      if (retry && retry !== lastPullRetry) this.options.note(retry);
      lastPullRetry = retry ?? lastPullRetry;
      if (Date.now() > deadline) {
        const why =
          unschedulable ??
          `the pod did not start within ${Math.round(this.options.startTimeoutMs / 1000)} s ` +
            `(phase ${pod.status?.phase ?? 'unknown'})${lastPullRetry ? `; ${lastPullRetry}` : ''}`;
        throw new CliError(why, 1, describe);
      }
      let wake: () => void = () => undefined;
      await Promise.race([
        sleep(POLL_MS),
        new Promise<void>((r) => signal.addEventListener('abort', (wake = () => r()), { once: true })),
      ]);
      signal.removeEventListener('abort', wake);
    }
  }

  /**
   * Checks the node --node names before anything is created: missing, cordoned, not Ready or
   * tainted against the pod. Reading nodes needs the optional ClusterRole; without it the run
   * goes on unchecked, and says so.
   */
  private async checkNode(name: string): Promise<void> {
    let node;
    try {
      node = await bounded(this.core.readNode({ name }));
    } catch (err) {
      const code = httpStatus(err);
      if (code === 403) {
        this.options.note(`--node ${name}: not allowed to read nodes, so it is not checked (${NODE_READER_HINT})`);
        return;
      }
      if (code !== 404) throw this.fail(err, `read node ${name}`);
      const known = await bounded(this.core.listNode())
        .then((list) => list.items.map((n) => n.metadata?.name).join(', '))
        .catch(() => undefined);
      throw new CliError(`--node ${name}: the cluster has no such node${known ? ` (it has: ${known})` : ''}`, 2);
    }
    const problem = nodeProblem(node, this.options.pod.tolerations);
    if (problem) throw new CliError(problem, 1);
  }

  /**
   * Removes what earlier runs left in the namespace (finished pods, pods past their deadline or
   * never started, their ConfigMaps; not the pods of runs with --keep) and says in one line what
   * it removed. Without the right to list, the run goes on and says so.
   */
  private async sweepNamespace(): Promise<void> {
    const namespace = this.access.namespace;
    let stale;
    try {
      stale = await findStaleObjects(this.core, namespace, { all: false, byRun: true });
    } catch (err) {
      this.options.note(
        `could not look for earlier runs' objects to remove: ${this.fail(err, 'list pods and ConfigMaps').message}`,
      );
      return;
    }
    if (stale.length === 0) return;
    const { removed, problems } = await removeStaleObjects(
      this.core,
      namespace,
      stale,
      (err, what) => this.fail(err, what).message,
    );
    // Each ConfigMap is named after its run's pod: the pods say which runs were removed.
    const pods = removed.filter((o) => o.kind === 'pod');
    const names = (pods.length ? pods : removed).map((o) => o.name);
    if (removed.length)
      this.options.note(
        `removed ${countObjects(removed)} of earlier runs (finished, past their deadline, or never started) ` +
          `from namespace ${namespace}: ${names.join(', ')}`,
      );
    for (const problem of problems) this.options.note(`could not remove an earlier run's object: ${problem}`);
  }

  /**
   * The architecture the ConfigMap delivery must carry, from the nodes the pod may land on (not
   * from this machine: an arm64 laptop may drive an amd64 cluster). Undefined when an image is
   * used, --arch or an arch selector decides it, or the nodes cannot be read (then this host's
   * is assumed, and the run says so).
   */
  private async deliveryArch(): Promise<string | undefined> {
    const pod = this.options.pod;
    if (pod.image || pod.arch || pod.nodeSelector['kubernetes.io/arch']) return undefined;
    let nodes;
    try {
      nodes = (await bounded(this.core.listNode())).items;
    } catch (err) {
      const why =
        httpStatus(err) === 403
          ? `not allowed to list nodes (${NODE_READER_HINT})`
          : this.fail(err, 'list nodes').message;
      this.options.note(
        `the nodes' architecture is unknown, ${why}: the agent is delivered for this host's, ${hostKubernetesArch()}; ` +
          'pass --arch if the nodes differ',
      );
      return undefined;
    }
    const arch = singleArchitecture(candidateNodes(nodes, pod));
    if (arch && arch !== hostKubernetesArch())
      this.options.note(`the nodes are ${arch}: the agent is delivered for ${arch}`);
    return arch;
  }

  async start(plan: Plan, signal: AbortSignal): Promise<RunningPair> {
    const namespace = this.access.namespace;
    await this.sweepNamespace();
    if (this.options.pod.node) await this.checkNode(this.options.pod.node);
    const arch = await this.deliveryArch();
    if (signal.aborted) throw new CliError('interrupted before the pod was created', 1);
    const { pod, configMap } = buildPodManifest(plan, { ...this.options.pod, namespace, ...(arch && { arch }) });
    const name = podName(plan.runId);
    let created = false;

    const cleanup = async () => {
      if (this.options.keep) {
        const ownedConfigMap = configMap
          ? ` and ConfigMap ${configMap.metadata!.name} (owned by the pod: kubectl delete pod removes both)`
          : '';
        this.options.note(
          `--keep: left pod ${name}${ownedConfigMap} in namespace ${namespace}; later runs leave it, podbench clean removes it`,
        );
        return;
      }
      if (!created) return;
      // The pod is always tried (a create that timed out may still have happened); a 404 means gone.
      // The ConfigMap is owned by the pod; it is deleted here too so that none waits for the
      // garbage collector, and a 404 means the collector was first.
      const deletion = await deletePodAndWait(this.core, namespace, name);
      const failed: string[] = deletion.outcome === 'failed' ? [`pod ${name}`] : [];
      if (configMap) {
        await bounded(this.core.deleteNamespacedConfigMap({ name: configMap.metadata!.name!, namespace })).catch(
          (err: unknown) => {
            if (httpStatus(err) !== 404) failed.push(`ConfigMap ${configMap.metadata!.name}`);
          },
        );
      }
      if (deletion.outcome === 'terminating') {
        this.options.note(
          `pod ${name} is still terminating after ${DELETE_WAIT_MS / 1000} s; see kubectl get pod -n ${namespace} ${name}`,
        );
      }
      if (failed.length) {
        this.options.note(
          `could not delete ${failed.join(' and ')}; ` +
            `remove them with: kubectl delete pod,configmap -n ${namespace} -l ${RUN_ID_LABEL}=${plan.runId} (or podbench clean)`,
        );
      }
    };

    let node: ClusterNode | undefined;
    // The initiator's log, followed so that a stream that breaks is picked up where it stopped.
    const follower = new LogFollower({
      open: async (into, follow, sinceTime) => {
        const controller = await new Log(this.access.config)
          .log(namespace, name, 'initiator', into, { follow, timestamps: true, ...(sinceTime && { sinceTime }) })
          .catch((err) => Promise.reject(this.fail(err, 'follow the initiator log')));
        return () => controller.abort();
      },
      running: async () => {
        const current = await bounded(this.core.readNamespacedPod({ name, namespace }));
        const state = containerStatus(current, 'initiator')?.state;
        return state?.running ? true : state?.terminated ? false : undefined;
      },
      note: (text) => this.options.note(text),
    });
    const logs = follower.lines;

    try {
      // The pod first, then its ConfigMap owned by it: deleting the pod (by anyone, from any
      // exit path, or by podbench clean after this process died) then deletes the ConfigMap too,
      // and no ConfigMap is ever without its pod. The kubelet waits for a ConfigMap volume that
      // does not exist yet, and the scheduler's placement alone takes longer than this create.
      created = true;
      // Past this, a pod that never started is no run's any more: podbench clean may take it.
      const annotations = {
        ...pod.metadata?.annotations,
        [START_TIMEOUT_ANNOTATION]: String(Math.ceil(this.options.startTimeoutMs / 1000)),
        ...(this.options.keep && { [KEEP_ANNOTATION]: 'true' }),
      };
      const annotated = { ...pod, metadata: { ...pod.metadata, annotations } };
      const createdPod = await bounded(this.core.createNamespacedPod({ namespace, body: annotated })).catch((err) =>
        Promise.reject(this.fail(err, 'create the pod')),
      );
      if (configMap) {
        const owned = {
          ...configMap,
          metadata: { ...configMap.metadata, ownerReferences: [podOwnerReference(createdPod)] },
        };
        await bounded(this.core.createNamespacedConfigMap({ namespace, body: owned })).catch((err) =>
          Promise.reject(this.fail(err, 'create the agent ConfigMap')),
        );
      }
      this.options.note(`pod ${name} created in namespace ${namespace}; waiting for it to start…`);
      // The node is read while the log is being followed: a slow API delays only the record.
      const nodeRead = this.nodeOf(await this.waitForStart(name, signal));
      await follower.start();
      node = await nodeRead;
    } catch (err) {
      await cleanup();
      throw err;
    }

    // A followed log does not notice the API going away (client-node pipes the response without
    // passing errors on), and says nothing of an eviction: watch the pod alongside it.
    let failures = 0;
    let checking = false;
    const monitor = setInterval(() => {
      if (checking) return; // one check at a time
      checking = true;
      bounded(this.core.readNamespacedPod({ name, namespace }))
        .then(
          (current) => {
            failures = 0;
            const problem = podProblem(current, []);
            if (problem) logs.destroy(new Error(problem));
          },
          (err) => {
            if (++failures >= MONITOR_FAILURES) logs.destroy(this.fail(err, 'follow the pod'));
          },
        )
        .finally(() => (checking = false));
    }, MONITOR_MS);

    const stop = stopOnce({
      halt() {
        clearInterval(monitor);
        follower.stop();
      },
      diagnose: async () => {
        try {
          const final = await this.settled(name);
          // The pod's own reason (deadline, eviction, OOM) explains a killed container's exit code.
          return podProblem(final, []) ?? (await this.containerFailure(final));
        } catch (err) {
          return this.fail(err, 'read the pod').message;
        }
      },
      cleanup,
    });

    const abandon = async (): Promise<void> => {
      clearInterval(monitor);
      follower.stop();
      if (this.options.keep) return;
      // Not waited for: the kubelet stops the agents within a second and the ConfigMap goes with
      // the pod; podbench clean takes whatever an unreachable API left.
      await bounded(this.core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 1 })).catch(() => undefined);
    };

    return { events: agentEvents(logs), stop, abandon, ...(node && { node }) };
  }
}
