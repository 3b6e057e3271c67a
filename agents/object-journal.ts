/**
 * A write-ahead record of the kernel objects a run creates (POSIX shared memory and queues,
 * System V queues). Objects that outlive their creator — after SIGKILL, say — are found here and
 * removed by whoever cleans up next: the surviving agent, the orchestrator at the end of the run,
 * or the next run's sweep of stale run directories. Files and sockets need no entry: they live in
 * the run's directories, which are removed whole.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { msgctl, msgget, mqUnlink, shmUnlink } from './native/libc.js';

/** Kinds of kernel object that outlive a process. */
export type ObjectKind = 'shm' | 'mq' | 'sysv-mq';

const IPC_RMID = 0;

/**
 * Removes one object; an object that is already gone is not an error. Names are POSIX names
 * (`/podbench-…`) for shm and mq, and the System V key (decimal) for sysv-mq: the key is known
 * before the queue exists, its id only after.
 */
export function removeObject(kind: ObjectKind, name: string): void {
  if (kind === 'shm') shmUnlink(name);
  else if (kind === 'mq') mqUnlink(name);
  else {
    const id = msgget(Number(name), 0);
    if (id >= 0) msgctl(id, IPC_RMID, null);
  }
}

/** The journal file of one run. */
export class ObjectJournal {
  constructor(readonly path: string) {}

  /** Records an object about to be created (before creating it, so a crash cannot hide it). */
  record(kind: ObjectKind, name: string): void {
    appendFileSync(this.path, `${kind} ${name}\n`);
  }

  /** Removes every recorded object (idempotent) and returns how many entries there were. */
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
      if ((kind === 'shm' || kind === 'mq' || kind === 'sysv-mq') && name) removeObject(kind, name);
    }
    return entries.length;
  }
}
