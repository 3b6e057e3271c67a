/**
 * Finding and removing what earlier runs left in a namespace: an orchestrator that was
 * SIGKILLed, OOM-killed or cut off by a cancelled CI job cannot delete its pod. Its ConfigMap is
 * owned by the Pod (the garbage collector removes it with the Pod), but the Pod itself stays —
 * Failed at its deadline, or Succeeded — until the controller-manager's terminated-pod GC, which
 * starts only at 12,500 pods. `podbench clean` and the start of every `run` remove them.
 *
 * Only finished pods (Succeeded, Failed), pods past their activeDeadlineSeconds, and pods that
 * never started and are past their run's start timeout are stale: any other may belong to a run
 * in progress elsewhere, unless `all` says to take those too. A run's own sweep leaves the pods
 * of runs with --keep to their user, and a finished pod to its run for a minute; `podbench clean`
 * takes both. Pods applied from `podbench manifest` are never taken: they are their user's.
 */
import type { CoreV1Api, V1ConfigMap, V1Pod } from '@kubernetes/client-node';
import { APP_LABEL, RUN_ID_LABEL } from '../../pod/pod-manifest.js';
import { bounded, deletePodAndWait } from './kube-calls.js';
import { httpStatus } from './kube-errors.js';

/** podbench's run objects: the app label and a run id (the in-cluster Job's own pod has no run id). */
export const RUN_OBJECTS_SELECTOR = `${Object.entries(APP_LABEL)
  .map(([k, v]) => `${k}=${v}`)
  .join(',')},${RUN_ID_LABEL}`;

/**
 * A ConfigMap without its Pod is stale only after this long: `kubectl create -f` of
 * `podbench manifest` creates the ConfigMap a moment before the Pod.
 */
const ORPHAN_GRACE_MS = 60_000;

/** One object of an earlier run, and why it is taken as stale. */
export interface StaleObject {
  readonly kind: 'pod' | 'configmap';
  readonly name: string;
  readonly why: string;
}

const createdMs = (o: V1Pod | V1ConfigMap): number =>
  o.metadata?.creationTimestamp ? new Date(o.metadata.creationTimestamp).getTime() : Date.now();

/**
 * The annotation that says how long the run that created a pod waits for it to start: a pod
 * that has not started is its run's only while that wait may last.
 */
export const START_TIMEOUT_ANNOTATION = 'podbench.io/start-timeout-seconds';
/** The annotation on the pod of a run with --keep: the next run leaves it to its user (clean takes it). */
export const KEEP_ANNOTATION = 'podbench.io/keep';
/**
 * How long after its containers ended a finished pod may still be its run's: the run reads the
 * rest of the log, waits for the kubelet's report of both exits and diagnoses them before it
 * deletes the pod itself. Another run's sweep waits this long; `podbench clean` does not.
 */
export const FINISHED_GRACE_MS = 60_000;

/** When `pod`'s last container ended (else when it last changed condition, else its creation). */
function finishedMs(pod: V1Pod): number {
  const times = [
    ...(pod.status?.containerStatuses ?? []).map((c) => c.state?.terminated?.finishedAt),
    ...(pod.status?.conditions ?? []).map((c) => c.lastTransitionTime),
  ].filter((t): t is Date => t !== undefined);
  return times.length ? Math.max(...times.map((t) => new Date(t).getTime())) : createdMs(pod);
}

/**
 * Why `pod` is stale at `nowMs`, or undefined when it may still belong to a run in progress:
 * finished (for a run's sweep, FINISHED_GRACE_MS ago); started, and past its
 * activeDeadlineSeconds (which counts from the start); or never started, and past the time its
 * run waits for a start.
 */
function podStaleness(pod: V1Pod, nowMs: number, options: SweepOptions): string | undefined {
  const phase = pod.status?.phase ?? 'Unknown';
  if (phase === 'Succeeded' || phase === 'Failed') {
    if (!options.byRun || nowMs > finishedMs(pod) + FINISHED_GRACE_MS) return `finished (${phase})`;
    return undefined;
  }
  const deadlineSeconds = pod.spec?.activeDeadlineSeconds;
  const startedMs = pod.status?.startTime ? new Date(pod.status.startTime).getTime() : undefined;
  if (startedMs !== undefined && deadlineSeconds !== undefined && nowMs > startedMs + deadlineSeconds * 1000)
    return `past its deadline (${phase})`;
  const startTimeoutSeconds = Number(pod.metadata?.annotations?.[START_TIMEOUT_ANNOTATION]);
  if (startedMs === undefined && nowMs > createdMs(pod) + startTimeoutSeconds * 1000)
    return `never started, past its start timeout (${phase})`;
  return options.all ? `within its deadline (${phase}), taken by --all` : undefined;
}

/** Who sweeps, and how far. */
export interface SweepOptions {
  /** Take pods that may still belong to a run in progress too (`clean --all`). */
  readonly all: boolean;
  /**
   * A run's own sweep before it starts: it leaves the pods of runs with --keep to their user, and
   * finished pods to their run for FINISHED_GRACE_MS.
   */
  readonly byRun: boolean;
  readonly nowMs?: number;
}

/**
 * podbench's stale objects in `namespace`: pods that finished or are past their deadline, and
 * ConfigMaps whose run's pod is stale or gone.
 */
export async function findStaleObjects(
  core: CoreV1Api,
  namespace: string,
  options: SweepOptions,
): Promise<StaleObject[]> {
  const nowMs = options.nowMs ?? Date.now();
  const [pods, configMaps] = await Promise.all([
    bounded(core.listNamespacedPod({ namespace, labelSelector: RUN_OBJECTS_SELECTOR })),
    bounded(core.listNamespacedConfigMap({ namespace, labelSelector: RUN_OBJECTS_SELECTOR })),
  ]);
  const stale: StaleObject[] = [];
  const livingRuns = new Set<string>();
  for (const pod of pods.items) {
    const annotations = pod.metadata?.annotations ?? {};
    const kept = annotations[KEEP_ANNOTATION] === 'true';
    // Pods created from `podbench manifest` (kubectl create, GitOps) are their user's: only pods
    // that `run` created carry its start timeout.
    const byRun = START_TIMEOUT_ANNOTATION in annotations;
    const why = !byRun || (options.byRun && kept) ? undefined : podStaleness(pod, nowMs, options);
    if (why) stale.push({ kind: 'pod', name: pod.metadata!.name!, why: kept ? `${why}, kept by --keep` : why });
    else livingRuns.add(pod.metadata?.labels?.[RUN_ID_LABEL] ?? '');
  }
  for (const cm of configMaps.items) {
    const runId = cm.metadata?.labels?.[RUN_ID_LABEL] ?? '';
    if (livingRuns.has(runId)) continue;
    const podListed = pods.items.some((p) => p.metadata?.labels?.[RUN_ID_LABEL] === runId);
    if (podListed || options.all || nowMs - createdMs(cm) > ORPHAN_GRACE_MS) {
      stale.push({
        kind: 'configmap',
        name: cm.metadata!.name!,
        why: podListed ? 'its pod is stale' : 'its pod is gone',
      });
    }
  }
  return stale;
}

/** What a removal did: objects gone, and one line for each that could not be removed. */
export interface Removal {
  readonly removed: readonly StaleObject[];
  readonly problems: readonly string[];
}

/**
 * Removes `objects`: pods with their grace period, waiting (bounded) until they are gone; then
 * ConfigMaps. `describe` turns a failed call into the line reported for it.
 */
export async function removeStaleObjects(
  core: CoreV1Api,
  namespace: string,
  objects: readonly StaleObject[],
  describe: (err: unknown, what: string) => string,
): Promise<Removal> {
  const removed: StaleObject[] = [];
  const problems: string[] = [];
  await Promise.all(
    objects
      .filter((o) => o.kind === 'pod')
      .map(async (o) => {
        const deletion = await deletePodAndWait(core, namespace, o.name);
        if (deletion.outcome === 'gone') removed.push(o);
        else if (deletion.outcome === 'terminating')
          problems.push(`pod ${o.name} is still terminating (kubectl get pod -n ${namespace} ${o.name})`);
        else problems.push(describe(deletion.err, `delete pod ${o.name}`));
      }),
  );
  for (const o of objects.filter((o) => o.kind === 'configmap')) {
    try {
      await bounded(core.deleteNamespacedConfigMap({ name: o.name, namespace }));
      removed.push(o);
    } catch (err) {
      // Already collected with its pod by the garbage collector: gone is what was wanted.
      if (httpStatus(err) === 404) removed.push(o);
      else problems.push(describe(err, `delete ConfigMap ${o.name}`));
    }
  }
  return { removed, problems };
}

/** "2 pods and 1 ConfigMap", for the one line that says what was (or would be) removed. */
export function countObjects(objects: readonly StaleObject[]): string {
  const pods = objects.filter((o) => o.kind === 'pod').length;
  const maps = objects.length - pods;
  const part = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  return [pods && part(pods, 'pod'), maps && part(maps, 'ConfigMap')].filter(Boolean).join(' and ') || 'nothing';
}
