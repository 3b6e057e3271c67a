/**
 * The kinds of kernel object a channel may create outside the run's directories, and for each
 * how it is removed, how a name found in a journal is known to be one of this run's, and where
 * such objects show on a host (for the tests' leak checks). The channel registry
 * (agents/contract/channels.ts) says which channel creates which kind.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { ObjectKind } from './contract/channels.js';
import { IPC, msgctl, mqUnlink, semctl, semctlStat, shmUnlink } from './native/libc.js';

/** One kind of kernel object. */
export interface KernelObjectKind {
  /** Removes the object; one that is already gone is not an error. */
  remove(name: string): void;
  /**
   * Whether a journal entry may be removed: it must name an object of the run whose POSIX names
   * start with `prefix` (`/podbench-<run id>-`). A journal found on disk is trusted no further.
   */
  belongsToRun(name: string, prefix: string): boolean;
  /** The podbench objects of this kind now on this host (POSIX names or System V keys). */
  onHost(): string[];
}

const IPC_STAT = 2;
/**
 * Offset of `cuid` (the creator's uid) in struct msqid_ds and struct semid_ds on Linux x86-64
 * and arm64: both start with struct ipc_perm (key, uid, gid, cuid).
 */
const IPC_PERM_CUID_OFFSET = 12;

/**
 * Whether this process's user created the System V object whose IPC_STAT `stat` fills `ds`
 * (a stale journal must not remove others').
 */
function createdByUs(stat: (ds: Uint8Array) => number): boolean {
  const ds = new Uint8Array(256);
  if (stat(ds) !== 0) return false;
  return new DataView(ds.buffer).getUint32(IPC_PERM_CUID_OFFSET, true) === process.getuid?.();
}

const isId = (name: string): boolean => /^\d+$/.test(name);

/** A POSIX name of the run: the prefix, and no further slash. */
const posixNameOfRun = (name: string, prefix: string): boolean => name.startsWith(prefix) && !name.includes('/', 1);

/** Entries named podbench… in a directory where a kind of POSIX object shows. */
const podbenchEntries = (dir: string): string[] =>
  existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith('podbench')) : [];

/** System V keys (decimal) as a /proc/sysvipc table lists them; the keys are hashed, so all of them. */
function sysvKeys(table: string): string[] {
  return readFileSync(table, 'utf8')
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

/**
 * Every kind. Names are POSIX names (`/podbench-<run id>-…`, recorded before creation) for shm
 * and mq, and the id for System V queues and semaphore sets (recorded right after creation: the
 * id exists only then, and the kernel does not hand the same id out again soon).
 */
export const KERNEL_OBJECTS: { readonly [kind in ObjectKind]: KernelObjectKind } = {
  shm: { remove: (name) => shmUnlink(name), belongsToRun: posixNameOfRun, onHost: () => podbenchEntries('/dev/shm') },
  // /dev/mqueue shows POSIX queues only where the mqueue filesystem is mounted (the tests mount it).
  mq: { remove: (name) => mqUnlink(name), belongsToRun: posixNameOfRun, onHost: () => podbenchEntries('/dev/mqueue') },
  'sysv-mq': {
    remove: (name) => msgctl(Number(name), IPC.RMID, null),
    belongsToRun: (name) => isId(name) && createdByUs((ds) => msgctl(Number(name), IPC_STAT, ds)),
    onHost: () => sysvKeys('/proc/sysvipc/msg'),
  },
  'sysv-sem': {
    remove: (name) => semctl(Number(name), 0, IPC.RMID, 0),
    belongsToRun: (name) => isId(name) && createdByUs((ds) => semctlStat(Number(name), 0, IPC_STAT, ds)),
    onHost: () => sysvKeys('/proc/sysvipc/sem'),
  },
};

/** Whether `kind` (read from a journal) is a kind podbench knows. */
export const isObjectKind = (kind: string): kind is ObjectKind => Object.hasOwn(KERNEL_OBJECTS, kind);
