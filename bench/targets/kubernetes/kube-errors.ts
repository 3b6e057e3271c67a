/**
 * Turning what the Kubernetes API and a pod's status say into one sentence a user can act on:
 * RBAC forbidden (which verb on which resource), a missing namespace, an unreachable API,
 * unschedulable (the scheduler's reason), image pull failures, OOMKilled, eviction, deadline.
 */
import {
  ApiException,
  type CoreV1Event,
  type V1Node,
  type V1Pod,
  type V1Taint,
  type V1Toleration,
} from '@kubernetes/client-node';
import { unsafeSysctlRequirements } from '../../../agents/contract/ipc-limits.js';
import { CliError } from '../../cli/errors.js';

/** The Kubernetes Status object an API error carries (its body may be JSON text or parsed). */
function statusOf(err: ApiException<unknown>): { message?: string; reason?: string } {
  const body = err.body;
  if (typeof body === 'string') {
    try {
      return JSON.parse(body) as { message?: string; reason?: string };
    } catch {
      return { message: body };
    }
  }
  return (body ?? {}) as { message?: string; reason?: string };
}

/** The HTTP status of a failed API call (403, 404, …), undefined when it never got an answer. */
export function httpStatus(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}

/** What to do about a 403 on nodes: they are cluster-scoped, so only a ClusterRole grants them. */
export const NODE_READER_HINT = 'bind the ClusterRole podbench-node-reader';

/** A CliError for a failed API call: `what` says what podbench was doing (e.g. "create the pod"). */
export function apiError(err: unknown, what: string, server: string, namespace: string): CliError {
  if (err instanceof ApiException) {
    const status = statusOf(err);
    // client-node's own message is a multi-line dump (code, body, headers): never show it.
    const message = status.message ?? `HTTP ${err.code}`;
    switch (err.code) {
      case 401:
        return new CliError(
          `the API server at ${server} rejected the credentials (401 Unauthorized) when trying to ${what}`,
          1,
          'refresh your kubeconfig credentials (kubectl get pods should work)',
        );
      case 403: {
        // Admission (Pod Security, quotas, RuntimeClass) also answers 403; only RBAC gets the RBAC hint.
        if (/cannot \w+ resource/.test(message)) {
          return new CliError(
            `forbidden: ${message}`,
            1,
            `apply manifests/rbac.yaml in namespace ${namespace} and bind the podbench Role to you; ` +
              'podbench doctor checks every permission',
          );
        }
        if (status.message === undefined)
          return new CliError(
            `forbidden (HTTP 403) when trying to ${what}`,
            1,
            'podbench doctor checks every permission a run needs',
          );
        if (/quota/i.test(message))
          return new CliError(
            `refused by a ResourceQuota: ${message}`,
            1,
            'set --cpu and --memory within the namespace quota',
          );
        if (/PodSecurity/.test(message)) {
          const sysctls = /sysctls/.test(message)
            ? `fs.mqueue.* and kernel.msg* (--sysctl): ${unsafeSysctlRequirements('them')}; drop --sysctl or use such a namespace`
            : undefined;
          return new CliError(`refused by Pod Security admission: ${message}`, 1, sysctls);
        }
        const runtimeClass = /RuntimeClass "([^"]+)" not found/.exec(message)?.[1];
        if (runtimeClass)
          return new CliError(
            `--runtime-class ${runtimeClass}: the cluster has no such RuntimeClass (${message})`,
            1,
            'kubectl get runtimeclass lists the installed ones',
          );
        return new CliError(`refused by admission: ${message}`, 1);
      }
      case 404:
        if (/namespaces? "[^"]*" not found/.test(message))
          return new CliError(
            `namespace ${namespace} does not exist`,
            1,
            'create it, or pass -n with an existing namespace',
          );
        return new CliError(`not found when trying to ${what}: ${message}`, 1);
      case 409:
        return new CliError(`could not ${what}: ${message} (a run with this id exists)`, 1);
      case 422:
        return new CliError(
          `the API server refused the manifest when trying to ${what}: ${message}`,
          1,
          'podbench manifest prints what was sent',
        );
      default:
        return new CliError(`could not ${what}: HTTP ${err.code} ${message}`, 1);
    }
  }
  const code = (err as { code?: string; cause?: { code?: string } })?.cause?.code ?? (err as { code?: string })?.code;
  if (code && /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|ECONNRESET|EAI_AGAIN/.test(code)) {
    return new CliError(
      `the Kubernetes API at ${server} is unreachable (${code}) when trying to ${what}`,
      1,
      'check the cluster, VPN and kubeconfig context, or use --target local|podman',
    );
  }
  return new CliError(`could not ${what}: ${err instanceof Error ? err.message : String(err)}`, 1);
}

/** Why the scheduler does not place the pod (undefined when it is scheduled or not yet tried). */
export function unschedulableReason(pod: V1Pod): string | undefined {
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status !== 'False' || scheduled.reason !== 'Unschedulable') return undefined;
  const arch = pod.spec?.nodeSelector?.['kubernetes.io/arch'];
  const archHint =
    arch && /selector|affinity/.test(scheduled.message ?? '')
      ? ` (the pod asks for kubernetes.io/arch=${arch}; pass --arch if your nodes differ)`
      : '';
  return `the pod cannot be scheduled: ${scheduled.message ?? 'no node fits'}${archHint}`;
}

/**
 * Why a pod will not run, from its status and events; undefined while it may still start.
 * Unschedulable is not final here: a cluster autoscaler may be adding a node (the caller gives it
 * until the start timeout), unless the autoscaler said it will not (NotTriggerScaleUp).
 */
export function podProblem(pod: V1Pod, events: readonly CoreV1Event[]): string | undefined {
  const status = pod.status ?? {};
  if (status.phase === 'Failed' && status.reason === 'DeadlineExceeded') {
    const started = status.containerStatuses?.some((c) => c.state?.running || c.state?.terminated);
    return started
      ? `the pod ran past its activeDeadlineSeconds (${pod.spec?.activeDeadlineSeconds} s) and was stopped; use fewer or shorter cases`
      : `the pod's activeDeadlineSeconds (${pod.spec?.activeDeadlineSeconds} s) passed before its containers started ` +
          '(pulling the image or creating the containers took that long)';
  }
  if (status.reason === 'Evicted') return `the pod was evicted: ${status.message ?? 'node pressure'}`;
  // Kubelet admission rejections (SysctlForbidden, OutOfcpu, NodeAffinity…) fail the pod before any container exists.
  if (status.phase === 'Failed' && status.reason === 'SysctlForbidden') {
    return (
      `the node rejected the pod (SysctlForbidden): ${status.message ?? ''}; ` +
      "every node's kubelet must allow the --sysctl names (--allowed-unsafe-sysctls, e.g. 'fs.mqueue.*,kernel.msg*')"
    );
  }
  if (status.phase === 'Failed' && status.reason)
    return `the node rejected the pod (${status.reason}): ${status.message ?? ''}`.trim();
  if (events.some((e) => e.reason === 'NotTriggerScaleUp')) return unschedulableReason(pod);
  for (const c of status.containerStatuses ?? []) {
    const waiting = c.state?.waiting;
    // A failed pull is retried by the kubelet, with a back-off (ImagePullBackOff) from the first
    // failure on: it is final once the kubelet has failed PULL_ATTEMPTS times, or when the
    // registry's answer is one no retry changes, or the image can never be pulled here.
    if (waiting && /^(InvalidImageName|ErrImageNeverPull)$/.test(waiting.reason ?? '')) {
      return `the ${c.name} container's image ${c.image} cannot be pulled (${waiting.reason}): ${waiting.message ?? ''}`.trim();
    }
    if (waiting?.reason === 'ImagePullBackOff') {
      const error = lastPullError(c.image, events) ?? waiting.message ?? 'none given';
      const attempts = pullAttempts(c.image, events);
      if (attempts >= PULL_ATTEMPTS || PULL_NEVER_SUCCEEDS.test(error)) {
        return (
          `the ${c.name} container's image ${c.image} cannot be pulled: ` +
          `the kubelet failed ${attempts} time${attempts === 1 ? '' : 's'} and backs off (ImagePullBackOff); ` +
          `its last error: ${error}`
        );
      }
    }
    if (waiting && /CreateContainerConfigError|CreateContainerError/.test(waiting.reason ?? '')) {
      // The kubelet's own check: with --run-as-user platform on a cluster that assigns no id, the
      // image's user (root in node:24-slim) is what would run.
      const rootImage = /runAsNonRoot and image will run as root|non-numeric user/.test(waiting.message ?? '')
        ? '; the cluster assigned no user id, so leave --run-as-user at its default ' +
          '(platform is for clusters that assign one, as OpenShift does)'
        : '';
      return `the ${c.name} container cannot be created (${waiting.reason}): ${waiting.message ?? ''}${rootImage}`.trim();
    }
    const terminated = c.state?.terminated;
    if (terminated?.reason === 'OOMKilled') return `the ${c.name} container was OOMKilled; raise --memory`;
  }
  const sandbox = events.find((e) => e.reason === 'FailedCreatePodSandBox');
  if (sandbox)
    return `the node cannot create the pod sandbox: ${sandbox.message} (is --runtime-class installed on the node?)`;
  return undefined;
}

/**
 * The kubelet's latest message on a failed pull of `image`, from its events
 * ("Failed to pull image …: <the registry's answer>"): the status only says it backs off.
 */
function lastPullError(image: string, events: readonly CoreV1Event[]): string | undefined {
  return failedPulls(image, events)
    .sort((a, b) => eventTime(a) - eventTime(b))
    .at(-1)?.message;
}

/** The kubelet's events for failed pulls of `image` (for whichever container pulled it). */
function failedPulls(image: string, events: readonly CoreV1Event[]): CoreV1Event[] {
  return events.filter(
    (e) => e.reason === 'Failed' && e.message?.startsWith(`Failed to pull image ${JSON.stringify(image)}`),
  );
}

const eventTime = (e: CoreV1Event): number =>
  new Date(e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? 0).getTime();

/** Failed pulls after which the kubelet's back-off is taken as final: a rate limit or a flaky registry gets two retries. */
const PULL_ATTEMPTS = 3;
/** A registry's answer that no retry changes: the image or tag does not exist, or access is refused. */
const PULL_NEVER_SUCCEEDS = /not found|manifest unknown|unauthorized|pull access denied|403 Forbidden|401/i;

/**
 * How often the kubelet has failed to pull `image`, from its events: repeats are counted in one
 * event per container, and containers of one image may share a pull, so the most for any.
 */
function pullAttempts(image: string, events: readonly CoreV1Event[]): number {
  return Math.max(0, ...failedPulls(image, events).map((e) => e.count ?? 1));
}

/**
 * A pull that failed and that the kubelet will retry (ErrImagePull, or its back-off before the
 * failure is final), as a note for the user; undefined when no container is in that state.
 */
export function pullRetry(pod: V1Pod, events: readonly CoreV1Event[]): string | undefined {
  const c = pod.status?.containerStatuses?.find((s) =>
    /^(ErrImagePull|ImagePullBackOff)$/.test(s.state?.waiting?.reason ?? ''),
  );
  if (!c) return undefined;
  const attempts = pullAttempts(c.image, events);
  const error = lastPullError(c.image, events) ?? c.state!.waiting!.message ?? 'no message';
  const tries = attempts ? ` (${attempts} of ${PULL_ATTEMPTS} attempts)` : '';
  return `pulling the ${c.name} container's image ${c.image} failed${tries}, and the kubelet retries: ${error}`;
}

/** Whether `toleration` tolerates `taint`, as Kubernetes matches them (key, operator, value, effect). */
export function tolerates(toleration: V1Toleration, taint: V1Taint): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  if (!toleration.key) return toleration.operator === 'Exists';
  if (toleration.key !== taint.key) return false;
  return toleration.operator === 'Exists' || (toleration.value ?? '') === (taint.value ?? '');
}

/**
 * Why a pod sent straight to `node` by --node (spec.nodeName: the scheduler never sees it) would
 * not run there, or would run where it should not: undefined when the node is fit. Such a pod
 * gets no condition and no event on a node that is gone or down; it sits Pending until pod GC.
 */
export function nodeProblem(node: V1Node, tolerations: readonly V1Toleration[]): string | undefined {
  const name = node.metadata?.name;
  if (node.spec?.unschedulable)
    return `--node ${name}: the node is cordoned (kubectl uncordon ${name}, or choose another node)`;
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status !== 'True') {
    const condition = ready
      ? `${ready.reason ?? ready.status}${ready.message ? `: ${ready.message}` : ''}`
      : 'no Ready condition';
    return `--node ${name}: the node is not Ready (${condition})`;
  }
  const untolerated = (node.spec?.taints ?? []).filter(
    (t) => t.effect !== 'PreferNoSchedule' && !tolerations.some((tol) => tolerates(tol, t)),
  );
  if (untolerated.length > 0) {
    const shown = untolerated.map((t) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`);
    return (
      `--node ${name}: the pod does not tolerate the node's taint ${shown.join(', ')} ` +
      `(add --toleration ${shown[0]} if it should run there)`
    );
  }
  return undefined;
}
