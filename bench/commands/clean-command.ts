/**
 * `podbench clean`: removes what earlier runs left behind when their orchestrator could not —
 * killed, out of memory, its CI job cancelled, its network gone. On a cluster: podbench's pods
 * that finished or are past their deadline, and their ConfigMaps (`--all` takes runs that may
 * still be going too). Locally: the run directories and kernel objects of runs whose
 * orchestrator process is gone; with podman, their pods, containers, volumes and directories.
 * `--dry-run` lists without removing.
 */
import { CliError } from '../cli/errors.js';
import { requireOpenFiles } from '../cli/open-files.js';
import type { TARGETS } from '../cli/run-options.js';
import { requirePodman } from '../targets/podman/podman-cli.js';
import { sweepStaleRuns } from '../targets/local/local-target.js';
import { describeDeadRun, findDeadPodmanRuns, removeDeadPodmanRuns } from '../targets/podman/podman-sweep.js';
import { clusterReachable } from './run-command.js';

/** What `podbench clean` was asked to do. */
export interface CleanOptions {
  readonly target: (typeof TARGETS)[number];
  readonly cluster: { readonly kubeconfig?: string; readonly context?: string; readonly namespace?: string };
  readonly dryRun: boolean;
  readonly all: boolean;
}

async function cleanCluster(options: CleanOptions, out: NodeJS.WritableStream): Promise<void> {
  // The Kubernetes client is loaded only here: cleaning local or podman runs works under any open-file limit.
  requireOpenFiles('kubernetes', 'to clean a namespace');
  const [{ CoreV1Api }, { apiError }, { loadClusterAccess }, { countObjects, findStaleObjects, removeStaleObjects }] =
    await Promise.all([
      import('@kubernetes/client-node'),
      import('../targets/kubernetes/kube-errors.js'),
      import('../targets/kubernetes/kubernetes-target.js'),
      import('../targets/kubernetes/kubernetes-sweep.js'),
    ]);
  const access = loadClusterAccess(options.cluster);
  const core = access.config.makeApiClient(CoreV1Api);
  const { namespace, server } = access;
  let stale;
  try {
    stale = await findStaleObjects(core, namespace, { all: options.all, byRun: false });
  } catch (err) {
    throw apiError(err, 'list pods and ConfigMaps', server, namespace);
  }
  for (const o of stale) out.write(`${o.kind === 'pod' ? 'pod' : 'configmap'}/${o.name}\t${o.why}\n`);
  if (stale.length === 0) {
    const kept = options.all ? '' : ' (runs within their deadline are kept; --all takes them too)';
    out.write(`nothing of earlier runs to remove in namespace ${namespace}${kept}\n`);
    return;
  }
  if (options.dryRun) {
    out.write(`would remove ${countObjects(stale)} from namespace ${namespace} (--dry-run)\n`);
    return;
  }
  const { removed, problems } = await removeStaleObjects(
    core,
    namespace,
    stale,
    (err, what) => apiError(err, what, server, namespace).message,
  );
  out.write(`removed ${countObjects(removed)} from namespace ${namespace}\n`);
  if (problems.length > 0)
    throw new CliError(`${problems.length} object(s) could not be removed: ${problems.join('; ')}`, 1);
}

/** The closing line for `count` dead runs on this host: nothing, what would go (--dry-run), or what went. */
function hostRunsLine(count: number, kind: 'local' | 'podman', holding: string, dryRun: boolean): string {
  const what = `${count} ${kind} run${count === 1 ? '' : 's'} (${holding})`;
  return count === 0
    ? `nothing of earlier ${kind} runs to remove\n`
    : dryRun
      ? `would remove ${what} (--dry-run)\n`
      : `removed ${what}\n`;
}

function cleanLocal(options: CleanOptions, out: NodeJS.WritableStream): void {
  const runs = sweepStaleRuns(undefined, options.dryRun);
  for (const r of runs) out.write(`${r.runDir}\trun ${r.runId}, its orchestrator is gone\n`);
  out.write(hostRunsLine(runs.length, 'local', 'directories and kernel objects', options.dryRun));
}

async function cleanPodman(options: CleanOptions, out: NodeJS.WritableStream): Promise<void> {
  requirePodman();
  const runs = await findDeadPodmanRuns();
  for (const r of runs) out.write(`${describeDeadRun(r)}\n`);
  if (!options.dryRun) await removeDeadPodmanRuns(runs);
  out.write(hostRunsLine(runs.length, 'podman', 'pods, containers, volumes, directories', options.dryRun));
}

/** Runs `podbench clean`; `note` gets the line that says which target auto chose. */
export async function cleanCommand(
  options: CleanOptions,
  out: NodeJS.WritableStream,
  note: (line: string) => void,
): Promise<void> {
  let target = options.target;
  if (target === 'auto') {
    const cluster = await clusterReachable(options.cluster);
    target = cluster ? 'kubernetes' : 'local';
    note(cluster ? `target: kubernetes (auto: ${cluster})` : 'target: local (auto: no usable kubeconfig context)');
  }
  if (target === 'kubernetes') await cleanCluster(options, out);
  else if (target === 'podman') await cleanPodman(options, out);
  else cleanLocal(options, out);
}
