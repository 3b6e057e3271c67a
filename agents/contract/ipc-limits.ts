/**
 * The kernel IPC limits that decide which cases can run, and what it takes to raise one in a pod,
 * said the same way by the agents' skip reasons and the orchestrator's help and diagnoses.
 * `fs.mqueue.*` and `kernel.msg*` are namespaced, but not on the kubelet's safe list: every node's
 * kubelet must allow them, and Pod Security's baseline and restricted profiles refuse them.
 */

/** The requirements of unsafe sysctls, in one clause about `what` ("it", "them"). */
export function unsafeSysctlRequirements(what: 'it' | 'them'): string {
  return (
    `Kubernetes counts ${what} unsafe: every node's kubelet must allow ${what} (--allowed-unsafe-sysctls) ` +
    `and Pod Security baseline and restricted refuse ${what}, so the namespace must enforce privileged`
  );
}

/** The hint of a case skipped for the IPC limit `name`: how to raise it to `neededBytes` and what that needs. */
export function raiseLimitHint(name: string, neededBytes: number): string {
  const inPod = `in a pod, --sysctl ${name}=${neededBytes} raises it (${unsafeSysctlRequirements('it')})`;
  return `${inPod}; on this host, sysctl -w ${name}=${neededBytes}`;
}

/** Limits in bytes or counts; `null` where the value could not be read. */
export interface KernelLimits {
  /** fs.mqueue.msgsize_max: largest POSIX queue message, bytes. */
  readonly mqMsgsizeMaxBytes: number | null;
  /** fs.mqueue.msg_max: deepest POSIX queue, messages. */
  readonly mqMsgMax: number | null;
  /** RLIMIT_MSGQUEUE soft limit: bytes all of a user's POSIX queues may take. */
  readonly rlimitMsgqueueBytes: number | null;
  /** kernel.msgmax: largest System V message, bytes. */
  readonly sysvMsgmaxBytes: number | null;
  /** kernel.msgmnb: bytes one System V queue may hold. */
  readonly sysvMsgmnbBytes: number | null;
  /** Free bytes in /dev/shm, where POSIX shared-memory objects live. */
  readonly devShmFreeBytes: number | null;
  /** Size of /dev/shm in bytes. */
  readonly devShmBytes: number | null;
  /** fs.pipe-max-size: the most a pipe's capacity may be raised to without CAP_SYS_RESOURCE, bytes. */
  readonly pipeMaxSizeBytes: number | null;
  /** net.unix.max_dgram_qlen: datagrams a Unix datagram socket queues before its senders block. */
  readonly unixMaxDgramQlen: number | null;
  /** net.core.rmem_max: the largest receive buffer SO_RCVBUF may ask for, bytes. */
  readonly netRmemMaxBytes: number | null;
  /** net.core.wmem_max: the largest send buffer SO_SNDBUF may ask for, bytes. */
  readonly netWmemMaxBytes: number | null;
  /** kernel.sem's SEMMNI: the System V semaphore sets a namespace may hold. */
  readonly sysvSemSets: number | null;
  /** kernel.sem's SEMMSL: the semaphores one set may hold. */
  readonly sysvSemPerSet: number | null;
}

/** A kernel limit by the name a user knows it: a sysctl, an rlimit or a filesystem's size. */
export const LIMIT_NAMES: { readonly [name in keyof KernelLimits]: string } = {
  mqMsgsizeMaxBytes: 'fs.mqueue.msgsize_max',
  mqMsgMax: 'fs.mqueue.msg_max',
  rlimitMsgqueueBytes: 'RLIMIT_MSGQUEUE',
  sysvMsgmaxBytes: 'kernel.msgmax',
  sysvMsgmnbBytes: 'kernel.msgmnb',
  devShmFreeBytes: '/dev/shm free bytes',
  devShmBytes: '/dev/shm bytes',
  pipeMaxSizeBytes: 'fs.pipe-max-size',
  unixMaxDgramQlen: 'net.unix.max_dgram_qlen',
  netRmemMaxBytes: 'net.core.rmem_max',
  netWmemMaxBytes: 'net.core.wmem_max',
  sysvSemSets: 'kernel.sem (SEMMNI)',
  sysvSemPerSet: 'kernel.sem (SEMMSL)',
};
