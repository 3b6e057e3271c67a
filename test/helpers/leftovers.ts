/**
 * What podbench could leave behind on this host: POSIX shared memory, POSIX queues (/dev/mqueue,
 * mounted here if needed so they can be seen), System V queues, and temp/tmpfs directories.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';

function ensureMqueueMounted(): boolean {
  try {
    if (readFileSync('/proc/mounts', 'utf8').includes(' /dev/mqueue mqueue ')) return true;
    if (!existsSync('/dev/mqueue')) mkdirSync('/dev/mqueue');
    execFileSync('mount', ['-t', 'mqueue', 'none', '/dev/mqueue'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const podbenchEntries = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith('podbench')) : []);

/** System V queue keys (decimal) as /proc/sysvipc/msg lists them. */
function sysvQueueKeys(): string[] {
  return readFileSync('/proc/sysvipc/msg', 'utf8')
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

/** A snapshot of everything podbench-like on the host. */
export interface Leftovers {
  shm: string[];
  mqueue: string[];
  sysvKeys: string[];
  tmp: string[];
}

/** Takes a snapshot; throws if /dev/mqueue cannot be inspected (the test must see queues). */
export function snapshotLeftovers(): Leftovers {
  if (!ensureMqueueMounted()) throw new Error('cannot mount /dev/mqueue to inspect POSIX queues (run the tests as root)');
  return { shm: podbenchEntries('/dev/shm'), mqueue: podbenchEntries('/dev/mqueue'), sysvKeys: sysvQueueKeys(), tmp: podbenchEntries(tmpdir()) };
}

/** What is in `after` but was not in `before`. */
export function newLeftovers(before: Leftovers, after: Leftovers): Leftovers {
  const diff = (a: string[], b: string[]) => b.filter((x) => !a.includes(x));
  return {
    shm: diff(before.shm, after.shm),
    mqueue: diff(before.mqueue, after.mqueue),
    sysvKeys: diff(before.sysvKeys, after.sysvKeys),
    tmp: diff(before.tmp, after.tmp),
  };
}

/** The empty diff, for deepStrictEqual. */
export const NOTHING_LEFT: Leftovers = { shm: [], mqueue: [], sysvKeys: [], tmp: [] };
