/**
 * What podman runs leave when their orchestrator is killed (kill -9, a crash): the pod with its
 * containers, its named volumes and the run's directory with pod.yaml. Each podman run labels its
 * pod with the orchestrator's pid and keeps an owner.json in its directory; a run whose owner is
 * no longer alive is swept by the next podman run, `podbench clean` and listed by `doctor`.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RUN_ID_LABEL, podName } from '../../pod/pod-manifest.js';
import { podman } from './podman-cli.js';
import { isAlive } from '../owner-alive.js';

/** The pod label naming the pid of the podbench that created it. */
export const OWNER_PID_LABEL = 'podbench.io/owner-pid';
const DIR_PREFIX = 'podbench-podman-';

/** The directory a podman run keeps its pod.yaml in, named after the run so a sweep finds it. */
export function podmanRunDir(runId: string, parent = tmpdir()): string {
  return join(parent, `${DIR_PREFIX}${runId}`);
}

/** Records this process as the owner of the run directory `dir` (before the pod is played). */
export function writeOwner(dir: string, runId: string): void {
  writeFileSync(join(dir, 'owner.json'), JSON.stringify({ pid: process.pid, runId }));
}

/** One podman run whose orchestrator is gone, and what it left. */
export interface DeadPodmanRun {
  readonly runId: string;
  readonly ownerPid: number;
  readonly pod?: string;
  readonly volumes: readonly string[];
  readonly dir?: string;
}

const RUN_ID = /^[a-z0-9]{4,32}$/;

/** The podman runs on this host whose orchestrator is no longer alive. */
export async function findDeadPodmanRuns(parent = tmpdir()): Promise<DeadPodmanRun[]> {
  const owners = new Map<string, { pid: number; pod?: string; dir?: string }>();
  const pods = JSON.parse(
    (await podman(['pod', 'ps', '--filter', `label=${RUN_ID_LABEL}`, '--format', 'json'])) || '[]',
  ) as { Name: string; Labels?: Record<string, string> }[];
  for (const pod of pods) {
    const runId = pod.Labels?.[RUN_ID_LABEL] ?? '';
    const pid = Number(pod.Labels?.[OWNER_PID_LABEL]);
    if (RUN_ID.test(runId) && Number.isInteger(pid) && pid > 0) owners.set(runId, { pid, pod: pod.Name });
  }
  if (existsSync(parent)) {
    for (const name of readdirSync(parent).filter((n) => n.startsWith(DIR_PREFIX))) {
      const dir = join(parent, name);
      try {
        const owner = JSON.parse(readFileSync(join(dir, 'owner.json'), 'utf8')) as { pid: number; runId: string };
        if (!RUN_ID.test(owner.runId) || `${DIR_PREFIX}${owner.runId}` !== name || !Number.isInteger(owner.pid))
          continue;
        owners.set(owner.runId, { ...owners.get(owner.runId), pid: owner.pid, dir });
      } catch {
        // not ours, or being written
      }
    }
  }
  const dead = [...owners].filter(([, o]) => !isAlive(o.pid));
  if (dead.length === 0) return [];
  const volumes = (await podman(['volume', 'ls', '--format', '{{.Name}}'])).split('\n').filter(Boolean);
  return dead.map(([runId, o]) => ({
    runId,
    ownerPid: o.pid,
    ...(o.pod && { pod: o.pod }),
    // The pod's emptyDir volumes and the agent ConfigMap's carry the run id (pod-manifest.ts).
    volumes: volumes.filter((v) => v.endsWith(`-${runId}`) || v === `${podName(runId)}-agent`),
    ...(o.dir && { dir: o.dir }),
  }));
}

/** Removes what `runs` left: pods (with their containers), volumes, directories. */
export async function removeDeadPodmanRuns(runs: readonly DeadPodmanRun[]): Promise<void> {
  for (const run of runs) {
    if (run.pod) await podman(['pod', 'rm', '--force', run.pod]).catch(() => '');
    for (const volume of run.volumes) await podman(['volume', 'rm', '--force', volume]).catch(() => '');
    if (run.dir) rmSync(run.dir, { recursive: true, force: true });
  }
}

/** "pod podbench-x, 3 volumes, its directory" for one run, in a listing. */
export function describeDeadRun(run: DeadPodmanRun): string {
  const parts = [
    run.pod && `pod ${run.pod}`,
    run.volumes.length && `${run.volumes.length} volume(s)`,
    run.dir && `directory ${run.dir}`,
  ].filter(Boolean);
  return `run ${run.runId} (podbench pid ${run.ownerPid} is gone): ${parts.join(', ') || 'nothing'}`;
}
