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
 * of runs with --keep to their user; `podbench clean` takes them.
 */
import type { CoreV1Api, V1ConfigMap, V1Pod } from '@kubernetes/client-node';
import { APP_LABEL, RUN_ID_LABEL } from '../pod-manifest.js';
import { bounded, deletePodAndWait } from './kube-calls.js';
import { httpStatus } from '../kube-errors.js';

/** podbench's run objects: the app label and a run id (the in-cluster Job's own pod has no run id). */
export const RUN_OBJECTS_SELECTOR = `${Object.entries(APP_LABEL).map(([k, v]) => `${k}=${v}`).join(',')},${RUN_ID_LABEL}`;

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

const createdMs = (o: V1Pod | V1ConfigMap): number => (o.metadata?.creationTimestamp ? new Date(o.metadata.creationTimestamp).getTime() : Date.now());

/**
 * The annotation that says how long the run that created a pod waits for it to start: a pod
 * that has not started is its run's only while that wait may last.
 */
export const START_TIMEOUT_ANNOTATION = 'podbench.io/start-timeout-seconds';
/** The annotation on the pod of a run with --keep: the next run leaves it to its user (clean takes it). */
export const KEEP_ANNOTATION = 'podbench.io/keep';

/**
 * Why `pod` is stale at `nowMs`, or undefined when it may still belong to a run in progress:
 * finished; started, and past its activeDeadlineSeconds (which counts from the start); or never
 * started, and past the time its run waits for a start.
 */
function podStaleness(pod: V1Pod, nowMs: number, all: boolean): string | undefined {
  const phase = pod.status?.phase ?? 'Unknown';
  if (phase === 'Succeeded' || phase === 'Failed') return `finished (${phase})`;
  const deadlineSeconds = pod.spec?.activeDeadlineSeconds;
  const startedMs = pod.status?.startTime ? new Date(pod.status.startTime).getTime() : undefined;
  if (startedMs !== undefined && deadlineSeconds !== undefined && nowMs > startedMs + deadlineSeconds * 1000) return `past its deadline (${phase})`;
  const startTimeoutSeconds = Number(pod.metadata?.annotations?.[START_TIMEOUT_ANNOTATION] ?? deadlineSeconds);
  if (startedMs === undefined && Number.isFinite(startTimeoutSeconds) && nowMs > createdMs(pod) + startTimeoutSeconds * 1000) return `never started, past its start timeout (${phase})`;
  return all ? `within its deadline (${phase}), taken by --all` : undefined;
}

/**
 * podbench's stale objects in `namespace`: pods that finished or are past their deadline, and
 * ConfigMaps whose run's pod is stale or gone.
 */
export async function findStaleObjects(core: CoreV1Api, namespace: string, options: { all: boolean; leaveKept?: boolean; nowMs?: number }): Promise<StaleObject[]> {
  const nowMs = options.nowMs ?? Date.now();
  const [pods, configMaps] = await Promise.all([
    bounded(core.listNamespacedPod({ namespace, labelSelector: RUN_OBJECTS_SELECTOR })),
    bounded(core.listNamespacedConfigMap({ namespace, labelSelector: RUN_OBJECTS_SELECTOR })),
  ]);
  const stale: StaleObject[] = [];
  const livingRuns = new Set<string>();
  for (const pod of pods.items) {
    const kept = pod.metadata?.annotations?.[KEEP_ANNOTATION] === 'true';
    const why = options.leaveKept && kept ? undefined : podStaleness(pod, nowMs, options.all);
    if (why) stale.push({ kind: 'pod', name: pod.metadata!.name!, why: kept ? `${why}, kept by --keep` : why });
    else livingRuns.add(pod.metadata?.labels?.[RUN_ID_LABEL] ?? '');
  }
  for (const cm of configMaps.items) {
    const runId = cm.metadata?.labels?.[RUN_ID_LABEL] ?? '';
    if (livingRuns.has(runId)) continue;
    const podListed = pods.items.some((p) => p.metadata?.labels?.[RUN_ID_LABEL] === runId);
    if (podListed || options.all || nowMs - createdMs(cm) > ORPHAN_GRACE_MS) {
      stale.push({ kind: 'configmap', name: cm.metadata!.name!, why: podListed ? 'its pod is stale' : 'its pod is gone' });
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
export async function removeStaleObjects(core: CoreV1Api, namespace: string, objects: readonly StaleObject[], describe: (err: unknown, what: string) => string): Promise<Removal> {
  const removed: StaleObject[] = [];
  const problems: string[] = [];
  await Promise.all(
    objects
      .filter((o) => o.kind === 'pod')
      .map(async (o) => {
        const deletion = await deletePodAndWait(core, namespace, o.name);
        if (deletion.outcome === 'gone') removed.push(o);
        else if (deletion.outcome === 'terminating') problems.push(`pod ${o.name} is still terminating (kubectl get pod -n ${namespace} ${o.name})`);
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
