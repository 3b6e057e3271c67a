/**
 * The kernel limits that decide which cases can run: POSIX and System V message-queue limits,
 * RLIMIT_MSGQUEUE, the room in /dev/shm, pipe and socket buffer bounds, semaphore sets. Read inside the agent, because a pod's IPC
 * namespace has its own values.
 */
import { readFileSync, statfsSync } from 'node:fs';
import type { KernelLimits } from './contract/ipc-limits.js';
import { getrlimit } from './native/libc.js';

export type { KernelLimits };

function readNumber(path: string): number | null {
  try {
    const value = Number(readFileSync(path, 'utf8').trim());
    return Number.isFinite(value) ? value : null;
  } catch {
    return null;
  }
}

const RLIMIT_MSGQUEUE = 12;
const RLIM_INFINITY = -1n;

function rlimitMsgqueue(): number | null {
  const rlim = new BigInt64Array(2);
  if (getrlimit(RLIMIT_MSGQUEUE, rlim) !== 0) return null;
  return rlim[0] === RLIM_INFINITY ? Number.MAX_SAFE_INTEGER : Number(rlim[0]);
}

/** kernel.sem: SEMMSL SEMMNS SEMOPM SEMMNI, in that order. */
function kernelSem(): { perSet: number | null; sets: number | null } {
  try {
    const [msl, , , mni] = readFileSync('/proc/sys/kernel/sem', 'utf8').trim().split(/\s+/).map(Number);
    return { perSet: Number.isFinite(msl) ? msl! : null, sets: Number.isFinite(mni) ? mni! : null };
  } catch {
    return { perSet: null, sets: null };
  }
}

/** Reads the limits now in force for this process. */
export function readKernelLimits(): KernelLimits {
  let devShmFreeBytes: number | null = null;
  let devShmBytes: number | null = null;
  try {
    const s = statfsSync('/dev/shm');
    devShmFreeBytes = s.bavail * s.bsize;
    devShmBytes = s.blocks * s.bsize;
  } catch {
    // No /dev/shm: shared-memory cases will fail to create their object and say so.
  }
  const sem = kernelSem();
  return {
    mqMsgsizeMaxBytes: readNumber('/proc/sys/fs/mqueue/msgsize_max'),
    mqMsgMax: readNumber('/proc/sys/fs/mqueue/msg_max'),
    rlimitMsgqueueBytes: rlimitMsgqueue(),
    sysvMsgmaxBytes: readNumber('/proc/sys/kernel/msgmax'),
    sysvMsgmnbBytes: readNumber('/proc/sys/kernel/msgmnb'),
    devShmFreeBytes,
    devShmBytes,
    pipeMaxSizeBytes: readNumber('/proc/sys/fs/pipe-max-size'),
    unixMaxDgramQlen: readNumber('/proc/sys/net/unix/max_dgram_qlen'),
    netRmemMaxBytes: readNumber('/proc/sys/net/core/rmem_max'),
    netWmemMaxBytes: readNumber('/proc/sys/net/core/wmem_max'),
    sysvSemSets: sem.sets,
    sysvSemPerSet: sem.perSet,
  };
}

const FS_MAGIC: Record<number, string> = {
  0x01021994: 'tmpfs',
  0xef53: 'ext4',
  0x794c7630: 'overlayfs',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x6969: 'nfs',
  0x65735546: 'fuse',
  0x858458f6: 'ramfs',
};

/** The filesystem type of a directory (statfs), e.g. `tmpfs` or `ext4`. */
export function filesystemType(path: string): string {
  try {
    const type = statfsSync(path).type;
    return FS_MAGIC[type] ?? `0x${type.toString(16)}`;
  } catch {
    return 'unknown';
  }
}

/** Free bytes on the filesystem of `dir`, or null when it cannot be read. */
export function freeBytesIn(dir: string): number | null {
  try {
    const fs = statfsSync(dir);
    return fs.bavail * fs.bsize;
  } catch {
    return null;
  }
}

/**
 * What a case on a shared volume records about it: the filesystem type, and a warning when the
 * memory-backed volume is not tmpfs (podman backs emptyDir {medium: Memory} with disk), since
 * the case then measures something else.
 */
export function volumeFacts(dir: string, volume: 'disk' | 'memory'): { fsType: string; warning?: string } {
  const fsType = filesystemType(dir);
  return volume === 'memory' && fsType !== 'tmpfs'
    ? { fsType, warning: `the memory volume is ${fsType}, not tmpfs` }
    : { fsType };
}
