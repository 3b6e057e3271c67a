/**
 * A write-ahead record of the kernel objects a run creates (POSIX shared memory and queues,
 * System V queues). Objects that outlive their creator — after SIGKILL, say — are found here and
 * removed by whoever cleans up next: the surviving agent, the orchestrator at the end of the run,
 * or the next run's sweep of stale run directories (each kind its own way: kernel-objects.ts).
 * Files and sockets need no entry: they live in the run's directories, which are removed whole.
 * A System V queue is recorded just after it is created (its id exists only then), so a crash in
 * between can leave that one queue.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import type { ObjectKind } from './contract/channels.js';
import { KERNEL_OBJECTS, isObjectKind } from './kernel-objects.js';

/** The journal file of one run. */
export class ObjectJournal {
  /** Names a run may create start with this; a replay removes nothing else. */
  private readonly prefix: string;

  constructor(
    readonly path: string,
    runId: string,
  ) {
    this.prefix = `/podbench-${runId}-`;
  }

  /** Records an object about to be created (before creating it, so a crash cannot hide it). */
  record(kind: ObjectKind, name: string): void {
    appendFileSync(this.path, `${kind} ${name}\n`);
  }

  /**
   * Removes every recorded object (idempotent) and returns how many entries there were. Entries
   * that cannot be this run's (a POSIX name without the run's prefix, a queue another user made)
   * are skipped: a journal found on disk is not trusted further than that.
   */
  removeAll(): number {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch {
      return 0;
    }
    const entries = text.split('\n').filter(Boolean);
    for (const entry of entries) {
      const [kind, name] = entry.split(' ');
      if (!kind || !name || !isObjectKind(kind)) continue;
      const objects = KERNEL_OBJECTS[kind];
      if (objects.belongsToRun(name, this.prefix)) objects.remove(name);
    }
    return entries.length;
  }
}
