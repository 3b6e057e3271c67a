/**
 * The podman target: the generated Pod (and the agent's ConfigMap, with --node-image) played with
 * `podman kube play` — a real pod on this host, with the shared network and IPC namespaces,
 * emptyDir volumes and the restricted security context of the manifest. Results come from the
 * initiator container's log; `podman kube down` and the removal of the ConfigMap's volume (which
 * kube down leaves behind) clean up on every exit path, and the pod carries its owner's pid so
 * that what a killed run leaves is swept later (podman-sweep.ts).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Plan } from '../../../agents/contract/schema.js';
import { agentEvents, explainingLine } from '../../running/agent-events.js';
import { buildImageFromHost, defaultLocalImage, imageExists } from '../../pod/agent-image.js';
import { CliError } from '../../cli/errors.js';
import { buildPodManifest, manifestDocuments, podName, type PodOptions } from '../../pod/pod-manifest.js';
import { podman, requirePodman, spawnPodman } from './podman-cli.js';
import {
  OWNER_PID_LABEL,
  describeDeadRun,
  findDeadPodmanRuns,
  podmanRunDir,
  removeDeadPodmanRuns,
  writeOwner,
} from './podman-sweep.js';
import { exitDiagnosis, stopOnce, type RunningPair, type Target } from '../target.js';

/** How long the agents get to finish after the initiator's log ends. */
const STOP_GRACE_S = 5;
/** How long podman waits after SIGTERM before SIGKILL: agents end a case in progress within a tenth of a second. */
const TERM_GRACE_S = 2;

/**
 * Options for the podman target: the pod's shape. Without --image or --node-image the agent image
 * is built from this host (no registry needed); with --node-image the agent comes in a ConfigMap,
 * as on a cluster.
 */
export interface PodmanTargetOptions {
  readonly pod: PodOptions;
  readonly note: (text: string) => void;
  readonly onAgentLine?: (role: string, line: string) => void;
}

/** A container's exit code, or undefined while it has none. */
async function exitCode(container: string): Promise<number | undefined> {
  try {
    const out = (await podman(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', container])).trim();
    const [status, code] = out.split(' ');
    return status === 'exited' ? Number(code) : undefined;
  } catch {
    return undefined;
  }
}

async function lastLogLine(container: string): Promise<string | undefined> {
  try {
    // The agent's errors go to stderr, which podman logs prints on its own stderr: ask for both.
    return explainingLine(await podman(['logs', '--tail', '30', container], undefined, true));
  } catch {
    return undefined;
  }
}

/** Runs both agents in one podman pod. */
export class PodmanTarget implements Target {
  readonly name = 'podman';

  constructor(private readonly options: PodmanTargetOptions) {}

  /** The pod options with the image settled: the user's, or the agent image built from this host. */
  private async podOptions(): Promise<PodOptions> {
    const pod = this.options.pod;
    const wanted = pod.image ?? pod.nodeImage;
    if (wanted) {
      if (pod.imagePullPolicy === 'Never' && !(await imageExists(wanted))) {
        throw new CliError(
          `image ${wanted} is not in podman's local storage and --image-pull-policy is Never`,
          1,
          `podbench image build --from-host --tag ${wanted}`,
        );
      }
      return pod;
    }
    const image = defaultLocalImage();
    if (!(await imageExists(image))) {
      this.options.note(`building the agent image ${image} from this host's Node (once per build)…`);
      await buildImageFromHost(image);
    }
    return { ...pod, image };
  }

  async start(plan: Plan): Promise<RunningPair> {
    requirePodman();
    const dead = await findDeadPodmanRuns();
    if (dead.length) {
      await removeDeadPodmanRuns(dead);
      this.options.note(
        `removed what ${dead.length} earlier podman run(s) whose podbench was killed left: ${dead.map(describeDeadRun).join('; ')}`,
      );
    }
    const options = await this.podOptions();
    const built = buildPodManifest(plan, { ...options, imagePullPolicy: options.imagePullPolicy ?? 'IfNotPresent' });
    // The owner's pid on the pod: a later run or podbench clean removes it if this process dies.
    const labels = { ...built.pod.metadata?.labels, [OWNER_PID_LABEL]: String(process.pid) };
    const resources = { ...built, pod: { ...built.pod, metadata: { ...built.pod.metadata, labels } } };
    const dir = podmanRunDir(plan.runId);
    mkdirSync(dir, { mode: 0o700 });
    writeOwner(dir, plan.runId);
    const yamlPath = join(dir, 'pod.yaml');
    // JSON, which is YAML too: written without the Kubernetes client, whose hundreds of modules
    // a podman run has no other use for.
    writeFileSync(
      yamlPath,
      manifestDocuments(resources)
        .map((d) => JSON.stringify(d, null, 2))
        .join('\n---\n'),
    );
    const name = podName(plan.runId);
    const containers = { initiator: `${name}-initiator`, responder: `${name}-responder` };

    const configMapName = resources.configMap?.metadata?.name;
    const down = async () => {
      await podman(['kube', 'down', yamlPath]).catch(() => podman(['pod', 'rm', '--force', name]).catch(() => ''));
      if (configMapName) await podman(['volume', 'rm', '--force', configMapName]).catch(() => '');
      rmSync(dir, { recursive: true, force: true });
    };
    try {
      await podman(['kube', 'play', yamlPath]);
    } catch (err) {
      await down();
      throw err;
    }

    const logs = spawnPodman(['logs', '--follow', containers.initiator]);
    logs.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      for (const line of chunk.split('\n').filter(Boolean)) this.options.onAgentLine?.('initiator', line);
    });
    const logsEnded = new Promise<void>((r) => logs.once('close', () => r()));

    const stop = stopOnce({
      async halt(abort) {
        const exited = abort
          ? false
          : await Promise.race([
              podman(['wait', '--condition', 'exited', containers.responder]).then(
                () => true,
                () => true,
              ),
              new Promise<boolean>((r) =>
                setTimeout(() => r(false), STOP_GRACE_S * 1000 + plan.settings.peerTimeoutMs).unref(),
              ),
            ]);
        if (!exited) await podman(['pod', 'stop', '--time', String(TERM_GRACE_S), name]).catch(() => '');
        logs.kill();
        await logsEnded;
      },
      async diagnose() {
        for (const [role, container] of Object.entries(containers)) {
          const code = await exitCode(container);
          if (code !== undefined && code !== 0)
            return exitDiagnosis(role, 'container', code, await lastLogLine(container));
        }
        return undefined;
      },
      cleanup: down,
    });

    const abandon = async (): Promise<void> => {
      logs.kill();
      await podman(['pod', 'kill', '--signal', 'KILL', name]).catch(() => '');
      await down();
    };

    return {
      events: agentEvents(logs.stdout!, (line) => this.options.onAgentLine?.('initiator', line)),
      stop,
      abandon,
    };
  }
}
