/**
 * What both agent roles share about a run: the plan, where the shared directories are, the
 * names derived from the run id, and how a case's channel context is made.
 */
import { join } from 'node:path';
import type { ChannelContext } from './channels/channel.js';
import type { CaseSpec, Plan } from './contract/schema.js';
import type { KernelLimits } from './kernel-limits.js';
import { ObjectJournal } from './object-journal.js';
import { StopRequest } from './stop-request.js';
import { SUN_PATH_MAX } from './native/libc.js';

/** The directories both agents share: a disk-backed one and a memory-backed one. */
export interface SharedDirs {
  readonly disk: string;
  readonly tmpfs: string;
}

/**
 * Where the agents meet: a socket file in the shared directory, or, when that path would not fit
 * a Unix socket address (a long TMPDIR; Node would shorten it silently and leave the file
 * elsewhere), an abstract socket with the run's name. Abstract sockets live in the network
 * namespace, which both agents share on every target (one host, one pod), and leave no file.
 */
export function controlSocketAddress(disk: string, runId: string): string {
  const path = join(disk, `podbench-${runId}.ctl`);
  return Buffer.byteLength(path) <= SUN_PATH_MAX ? path : `\0podbench-${runId}.ctl`;
}

/** One agent's view of the run. */
export class RunContext {
  readonly journal: ObjectJournal;
  readonly controlPath: string;
  /** Set by a signal; the case loops honour it. */
  readonly stop = new StopRequest();

  constructor(
    readonly plan: Plan,
    readonly dirs: SharedDirs,
    readonly limits: KernelLimits,
  ) {
    this.journal = new ObjectJournal(journalPath(dirs.disk, plan.runId), plan.runId);
    this.controlPath = controlSocketAddress(dirs.disk, plan.runId);
  }

  /** The context a channel gets for one case (and one of its connections, counted from 0). */
  channelContext(spec: CaseSpec, connection = 0): ChannelContext {
    return {
      runId: this.plan.runId,
      spec,
      instance: connection === 0 ? String(spec.index) : `${spec.index}c${connection}`,
      dirs: this.dirs,
      peerTimeoutMs: this.plan.settings.peerTimeoutMs,
      journal: this.journal,
      limits: this.limits,
    };
  }
}

/** Where a run's object journal lives in the shared disk directory. */
export function journalPath(diskDir: string, runId: string): string {
  return join(diskDir, `podbench-${runId}.objects`);
}

/** A one-line reason from anything thrown. */
export function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
