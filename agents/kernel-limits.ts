/**
 * The kernel limits that decide which cases can run: POSIX and System V message-queue limits,
 * RLIMIT_MSGQUEUE, and the room in /dev/shm. Read inside the agent, because a pod's IPC
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
  return {
    mqMsgsizeMaxBytes: readNumber('/proc/sys/fs/mqueue/msgsize_max'),
    mqMsgMax: readNumber('/proc/sys/fs/mqueue/msg_max'),
    rlimitMsgqueueBytes: rlimitMsgqueue(),
    sysvMsgmaxBytes: readNumber('/proc/sys/kernel/msgmax'),
    sysvMsgmnbBytes: readNumber('/proc/sys/kernel/msgmnb'),
    devShmFreeBytes,
    devShmBytes,
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
