/**
 * `podbench doctor`: what a run needs, checked before a run finds out. This host (kernel IPC
 * limits, /dev/shm, podman), and when a kubeconfig is there: the API and its version, the
 * namespace and its Pod Security level, a SelfSubjectAccessReview for every permission a run
 * uses, and the nodes (architecture, CPUs, kernel, container runtime).
 */
import { AuthorizationV1Api, CoreV1Api, VersionApi } from '@kubernetes/client-node';
import { readKernelLimits } from '../../agents/kernel-limits.js';
import { alignColumns } from '../../reports/table.js';
import { NODE_READER_HINT, apiError } from '../targets/kubernetes/kube-errors.js';
import { podmanInstalled } from '../targets/podman/podman-cli.js';
import { loadClusterAccess } from '../targets/kubernetes/kubernetes-target.js';
import { sweepStaleRuns } from '../targets/local/local-target.js';
import { describeDeadRun, findDeadPodmanRuns } from '../targets/podman/podman-sweep.js';

/** One finding: ok, a warning (a run may still work) or a failure (a run will not). */
export interface Check {
  readonly area: string;
  readonly status: 'ok' | 'warn' | 'fail';
  readonly detail: string;
}

/**
 * The permissions podbench uses in a namespace, each for something it does: `run` creates,
 * reads, follows (pods/log) and deletes its pod and ConfigMap and lists events to explain a pod
 * that does not start; `run` and `clean` list pods and ConfigMaps to remove earlier runs'.
 * manifests/rbac.yaml grants exactly these.
 */
export const REQUIRED_PERMISSIONS: readonly { verb: string; resource: string; subresource?: string }[] = [
  ...['create', 'get', 'list', 'delete'].map((verb) => ({ verb, resource: 'pods' })),
  { verb: 'get', resource: 'pods', subresource: 'log' },
  ...['create', 'list', 'delete'].map((verb) => ({ verb, resource: 'configmaps' })),
  { verb: 'list', resource: 'events' },
];

function hostChecks(): Check[] {
  const limits = readKernelLimits();
  const checks: Check[] = [];
  checks.push({
    area: 'host /dev/shm',
    status: limits.devShmFreeBytes && limits.devShmFreeBytes >= 64 * 1024 * 1024 ? 'ok' : 'warn',
    // Only the local target uses this host's /dev/shm; a pod gets its own (64 MiB by default on
    // Kubernetes and podman), which the agents record in results.json.
    detail:
      `${Math.round((limits.devShmFreeBytes ?? 0) / 1048576)} MiB free on this host, which the local target uses ` +
      '(a pod has its own /dev/shm, recorded in results.json); ' +
      'an shm case needs about 8 MiB, or 4 × the message size when larger',
  });
  checks.push({
    area: 'host POSIX queues',
    status: 'ok',
    detail:
      `fs.mqueue.msgsize_max ${limits.mqMsgsizeMaxBytes}, msg_max ${limits.mqMsgMax}, ` +
      `RLIMIT_MSGQUEUE ${limits.rlimitMsgqueueBytes}: mq cases above ${limits.mqMsgsizeMaxBytes} B are skipped`,
  });
  checks.push({
    area: 'host System V queues',
    status: 'ok',
    detail:
      `kernel.msgmax ${limits.sysvMsgmaxBytes}, msgmnb ${limits.sysvMsgmnbBytes}: ` +
      `sysv-mq cases above ${limits.sysvMsgmaxBytes} B are skipped`,
  });
  const podman = podmanInstalled();
  checks.push({
    area: 'host podman',
    status: podman ? 'ok' : 'warn',
    detail: podman ? 'installed (--target podman)' : 'not installed: --target podman is unavailable',
  });
  return checks;
}

/** What runs whose podbench was killed left on this host (local run directories, podman pods). */
async function leftoverChecks(): Promise<Check[]> {
  let local;
  try {
    local = sweepStaleRuns(undefined, true);
  } catch (err) {
    return [{ area: 'host leftovers', status: 'warn', detail: (err as Error).message }];
  }
  const checks: Check[] = [
    local.length
      ? {
          area: 'host leftovers',
          status: 'warn',
          detail:
            `${local.length} local run(s) whose podbench is gone left directories and kernel objects: ` +
            `${local.map((r) => r.runId).join(', ')} (podbench clean --target local)`,
        }
      : { area: 'host leftovers', status: 'ok', detail: 'no local run left anything behind' },
  ];
  if (podmanInstalled()) {
    const dead = await findDeadPodmanRuns().catch(() => undefined);
    if (dead === undefined)
      checks.push({ area: 'podman leftovers', status: 'warn', detail: 'podman could not be asked for podbench pods' });
    else if (dead.length)
      checks.push({
        area: 'podman leftovers',
        status: 'warn',
        detail: `${dead.map(describeDeadRun).join('; ')} (podbench clean --target podman)`,
      });
    else checks.push({ area: 'podman leftovers', status: 'ok', detail: 'no podman run left anything behind' });
  }
  return checks;
}

async function clusterChecks(options: { kubeconfig?: string; context?: string; namespace?: string }): Promise<Check[]> {
  let access;
  try {
    access = loadClusterAccess(options);
  } catch (err) {
    return [
      {
        area: 'kubeconfig',
        status: 'warn',
        detail: `${(err as Error).message}: only --target local and podman can run`,
      },
    ];
  }
  const { config, namespace, server } = access;
  const checks: Check[] = [
    { area: 'kubeconfig', status: 'ok', detail: `context ${access.context}, namespace ${namespace}` },
  ];
  try {
    const version = await config.makeApiClient(VersionApi).getCode();
    checks.push({ area: 'API', status: 'ok', detail: `${server} answers, Kubernetes ${version.gitVersion}` });
  } catch (err) {
    checks.push({
      area: 'API',
      status: 'fail',
      detail: apiError(err, 'read the server version', server, namespace).message,
    });
    return checks;
  }
  const core = config.makeApiClient(CoreV1Api);
  try {
    const ns = await core.readNamespace({ name: namespace });
    const level = ns.metadata?.labels?.['pod-security.kubernetes.io/enforce'] ?? 'not set (privileged)';
    checks.push({
      area: 'namespace',
      status: 'ok',
      detail: `${namespace} exists; Pod Security enforce: ${level} (the agent pod passes restricted)`,
    });
  } catch (err) {
    const e = apiError(err, `read namespace ${namespace}`, server, namespace);
    // Reading namespaces needs a cluster-wide grant most users lack; a 403 says nothing about the namespace.
    checks.push({ area: 'namespace', status: /forbidden/.test(e.message) ? 'warn' : 'fail', detail: e.message });
  }
  const authz = config.makeApiClient(AuthorizationV1Api);
  const denied: string[] = [];
  for (const p of REQUIRED_PERMISSIONS) {
    const name = `${p.verb} ${p.resource}${p.subresource ? `/${p.subresource}` : ''}`;
    try {
      const review = await authz.createSelfSubjectAccessReview({
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: { resourceAttributes: { namespace, verb: p.verb, resource: p.resource, subresource: p.subresource } },
        },
      });
      if (!review.status?.allowed) denied.push(name);
    } catch (err) {
      denied.push(`${name} (${apiError(err, 'review access', server, namespace).message})`);
    }
  }
  checks.push(
    denied.length === 0
      ? { area: 'permissions', status: 'ok', detail: `all ${REQUIRED_PERMISSIONS.length} allowed in ${namespace}` }
      : {
          area: 'permissions',
          status: 'fail',
          detail: `denied in ${namespace}: ${denied.join(', ')} (apply manifests/rbac.yaml and bind the Role)`,
        },
  );
  try {
    const nodes = await core.listNode();
    for (const n of nodes.items) {
      const info = n.status?.nodeInfo;
      checks.push({
        area: `node ${n.metadata?.name}`,
        status: 'ok',
        detail: `${info?.architecture}, ${n.status?.capacity?.cpu} CPUs, kernel ${info?.kernelVersion}, ${info?.containerRuntimeVersion}`,
      });
    }
  } catch {
    checks.push({
      area: 'nodes',
      status: 'warn',
      detail: `not allowed to list nodes (optional: ${NODE_READER_HINT} of manifests/node-reader.yaml); runs work without it`,
    });
  }
  return checks;
}

/** Runs every check. */
export async function doctor(options: { kubeconfig?: string; context?: string; namespace?: string }): Promise<Check[]> {
  return [...hostChecks(), ...(await leftoverChecks()), ...(await clusterChecks(options))];
}

const MARK = { ok: 'ok', warn: 'warn', fail: 'FAIL' } as const;

/** The checks as a table. */
export function renderChecks(checks: readonly Check[]): string {
  return alignColumns(
    ['', 'check', 'detail'],
    checks.map((c) => [MARK[c.status], c.area, c.detail]),
  );
}
