/**
 * A write-ahead record of the kernel objects a run creates (POSIX shared memory and queues,
 * System V queues). Objects that outlive their creator — after SIGKILL, say — are found here and
 * removed by whoever cleans up next: the surviving agent, the orchestrator at the end of the run,
 * or the next run's sweep of stale run directories. Files and sockets need no entry: they live in
 * the run's directories, which are removed whole. A System V queue is recorded just after it is
 * created (its id exists only then), so a crash in between can leave that one queue.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { IPC, msgctl, mqUnlink, shmUnlink } from './native/libc.js';

/** Kinds of kernel object that outlive a process. */
export type ObjectKind = 'shm' | 'mq' | 'sysv-mq';

/**
 * Removes one object; an object that is already gone is not an error. Names are POSIX names
 * (`/podbench-<run id>-…`, recorded before creation) for shm and mq, and the queue id for
 * sysv-mq (recorded right after creation; the kernel does not hand the same id out again soon).
 */
export function removeObject(kind: ObjectKind, name: string): void {
  if (kind === 'shm') shmUnlink(name);
  else if (kind === 'mq') mqUnlink(name);
  else msgctl(Number(name), IPC.RMID, null);
}

const IPC_STAT = 2;
/** Offset of `cuid` (the creator's uid) in struct msqid_ds on Linux x86-64 and arm64. */
const MSQID_DS_CUID_OFFSET = 12;

/** Whether this process's user created System V queue `id` (a stale journal must not remove others'). */
function createdByUs(id: number): boolean {
  const ds = new Uint8Array(256);
  if (msgctl(id, IPC_STAT, ds) !== 0) return false;
  return new DataView(ds.buffer).getUint32(MSQID_DS_CUID_OFFSET, true) === process.getuid?.();
}

/** The journal file of one run. */
export class ObjectJournal {
  /** Names a run may create start with this; a replay removes nothing else. */
  private readonly prefix: string;

  constructor(readonly path: string, runId: string) {
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
      if (!name) continue;
      if ((kind === 'shm' || kind === 'mq') && name.startsWith(this.prefix) && !name.includes('/', 1)) removeObject(kind, name);
      else if (kind === 'sysv-mq' && /^\d+$/.test(name) && createdByUs(Number(name))) removeObject(kind, name);
    }
    return entries.length;
  }
}
