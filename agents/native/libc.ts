/**
 * The one typed gateway to libc. Every native call podbench makes goes through here (koffi), and
 * every failure becomes a {@link NativeError} that names the call and the errno.
 *
 * The declarations are for Linux on x86-64 and arm64 (LP64, same struct layouts and flag values;
 * only the syscall numbers differ). Pointers that need arithmetic (futex words inside a mapping)
 * are passed as `intptr_t` numbers; buffers are passed as Node Buffers or typed arrays, which koffi
 * hands to C without copying.
 *
 * `open` and `syscall` are variadic in C but declared here with fixed parameters: on x86-64 and
 * arm64 Linux integer and pointer arguments travel the same way either way, and koffi's variadic
 * calls cost more — these two run inside timed loops (file hand-over, futex).
 */
import koffi from 'koffi';

const lib = (() => {
  try {
    return koffi.load('libc.so.6');
  } catch {
    throw new Error('podbench needs Linux with glibc (libc.so.6 could not be loaded); musl and other systems are not supported');
  }
})();
/**
 * POSIX shared memory, message queues and timers moved from librt into libc in glibc 2.34;
 * librt.so.1 still exists on newer systems (as a stub), so it serves both.
 */
const rt = (() => {
  try {
    return koffi.load('librt.so.1');
  } catch {
    return lib;
  }
})();

/** errno values callers tell apart: expected outcomes (timeouts, races, a gone peer) from failures. */
export const Errno = {
  ENOENT: 2,
  EINTR: 4,
  EAGAIN: 11,
  ENOSPC: 28,
  EPIPE: 32,
  EIDRM: 43,
  ECONNRESET: 104,
  ETIMEDOUT: 110,
} as const;

/** Flags for open, shm_open and mq_open (the same on x86-64 and arm64). */
export const O = { RDONLY: 0, WRONLY: 1, RDWR: 2, CREAT: 0o100, EXCL: 0o200, TRUNC: 0o1000, CLOEXEC: 0o2000000 } as const;
/** System V IPC flags and commands. */
export const IPC = { CREAT: 0o1000, EXCL: 0o2000, RMID: 0 } as const;

const strerrorFn = lib.func('const char *strerror(int errnum)') as (errnum: number) => string;

/** A failed libc call: which call, on what, and the errno with its text. */
export class NativeError extends Error {
  /** The errno the call left. */
  readonly errno: number;
  /** The libc function that failed. */
  readonly call: string;

  constructor(call: string, errno: number, subject?: string) {
    super(`${call}${subject ? `(${subject})` : ''} failed: ${strerrorFn(errno)} (errno ${errno})`);
    this.name = 'NativeError';
    this.call = call;
    this.errno = errno;
  }
}

/** The errno of the last failed native call on this thread. */
export function lastErrno(): number {
  return koffi.errno();
}

/** Throws a NativeError when a libc call returned -1; returns the result otherwise. */
export function check(result: number, call: string, subject?: string): number {
  if (result === -1) throw new NativeError(call, koffi.errno(), subject);
  return result;
}

type Fn<A extends unknown[], R> = (...args: A) => R;
/** A native buffer argument: Node Buffers and typed arrays are passed to C without a copy. */
export type Bytes = Uint8Array | Int32Array | BigInt64Array;

// --- files and descriptors ---------------------------------------------------------------
export const open = lib.func('int open(const char *path, int flags, uint32_t mode)') as Fn<[string | Bytes, number, number], number>;
export const close = lib.func('int close(int fd)') as Fn<[number], number>;
export const read = lib.func('intptr_t read(int fd, void *buf, size_t count)') as Fn<[number, Bytes, number], number>;
export const write = lib.func('intptr_t write(int fd, const void *buf, size_t count)') as Fn<[number, Bytes, number], number>;
export const rename = lib.func('int rename(const char *oldpath, const char *newpath)') as Fn<[string | Bytes, string | Bytes], number>;
export const unlink = lib.func('int unlink(const char *path)') as Fn<[string | Bytes], number>;
export const access = lib.func('int access(const char *path, int mode)') as Fn<[string | Bytes, number], number>;
export const ftruncate = lib.func('int ftruncate(int fd, int64_t length)') as Fn<[number, number], number>;
export const poll = lib.func('int poll(void *fds, uint64_t nfds, int timeout)') as Fn<[Bytes, number, number], number>;
export const inotifyInit1 = lib.func('int inotify_init1(int flags)') as Fn<[number], number>;
export const inotifyAddWatch = lib.func('int inotify_add_watch(int fd, const char *path, uint32_t mask)') as Fn<[number, string, number], number>;

// --- memory ------------------------------------------------------------------------------
export const shmOpen = rt.func('int shm_open(const char *name, int oflag, uint32_t mode)') as Fn<[string, number, number], number>;
export const shmUnlink = rt.func('int shm_unlink(const char *name)') as Fn<[string], number>;
const mmapFn = lib.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)');
const munmapFn = lib.func('int munmap(void *addr, size_t length)');
const posixFallocate = lib.func('int posix_fallocate(int fd, int64_t offset, int64_t len)') as Fn<[number, number, number], number>;

/**
 * Gives a file (a shared-memory object) `lengthBytes` of real storage now. On tmpfs, ftruncate
 * reserves nothing, and touching a page of a full /dev/shm later kills the process with SIGBUS;
 * this turns that into ENOSPC here.
 */
export function allocateFile(fd: number, lengthBytes: number, subject: string): void {
  const err = posixFallocate(fd, 0, lengthBytes);
  if (err !== 0) throw new NativeError('posix_fallocate', err, subject);
}

/** A shared mapping: its address (for futex calls) and an ArrayBuffer over it (no copy). */
export interface Mapping {
  /** Start address of the mapping, for calls that take a pointer into it. */
  readonly address: number;
  /** The mapped memory itself, readable and writable from JS. */
  readonly buffer: ArrayBuffer;
  /** Unmaps the memory; the buffer must not be used afterwards. */
  unmap(): void;
}

const MAP_FAILED = -1n;

/** Maps `lengthBytes` of `fd` shared, read-write. */
export function mapShared(fd: number, lengthBytes: number, subject: string): Mapping {
  const PROT_READ_WRITE = 0x1 | 0x2;
  const MAP_SHARED = 0x01;
  const ptr = mmapFn(null, lengthBytes, PROT_READ_WRITE, MAP_SHARED, fd, 0);
  if (ptr === null || koffi.address(ptr) === BigInt.asUintN(64, MAP_FAILED)) {
    throw new NativeError('mmap', koffi.errno(), subject);
  }
  const buffer = koffi.view(ptr, lengthBytes);
  let mapped = true;
  return {
    address: Number(koffi.address(ptr)),
    buffer,
    unmap() {
      if (!mapped) return;
      mapped = false;
      munmapFn(ptr, lengthBytes);
    },
  };
}

// --- futex (raw syscall: glibc has no wrapper) ----------------------------------------------
const SYS = process.arch === 'arm64' ? { futex: 98, gettid: 178 } : { futex: 202, gettid: 186 };
const syscallFutex = lib.func(
  'long syscall(long nr, intptr_t uaddr, int op, int val, void *timeout, intptr_t uaddr2, int val3)',
) as Fn<[number, number, number, number, Bytes | null, number, number], number>;
// Not FUTEX_PRIVATE_FLAG: the words live in memory shared between processes.
const FUTEX_WAIT = 0;
const FUTEX_WAKE = 1;

/**
 * Sleeps while the 32-bit word at `address` equals `expected`, at most `timeout` (a timespec
 * made by {@link relativeTimespec}). Returns 0 when woken, or the errno of the expected outcomes:
 * EAGAIN (the word had already changed), ETIMEDOUT, EINTR. Anything else throws: a futex that
 * silently failed would turn a sleeping channel into a spinning one.
 */
export function futexWait(address: number, expected: number, timeout: BigInt64Array): number {
  if (syscallFutex(SYS.futex, address, FUTEX_WAIT, expected, timeout, 0, 0) === 0) return 0;
  const errno = koffi.errno();
  if (errno === Errno.EAGAIN || errno === Errno.ETIMEDOUT || errno === Errno.EINTR) return errno;
  throw new NativeError('futex(FUTEX_WAIT)', errno);
}

/** Wakes up to `count` sleepers on the word at `address`; returns how many were woken. */
export function futexWake(address: number, count: number): number {
  return check(syscallFutex(SYS.futex, address, FUTEX_WAKE, count, null, 0, 0), 'futex(FUTEX_WAKE)');
}

/** The calling thread's id (glibc has gettid only from 2.30). */
export function gettid(): number {
  return syscallFutex(SYS.gettid, 0, 0, 0, null, 0, 0);
}

/** A `struct timespec` holding a duration, for calls that take a relative timeout. */
export function relativeTimespec(durationMs: number): BigInt64Array {
  const ts = new BigInt64Array(2);
  ts[0] = BigInt(Math.floor(durationMs / 1000));
  ts[1] = BigInt(Math.round((durationMs % 1000) * 1e6));
  return ts;
}

// --- POSIX message queues -------------------------------------------------------------------
const mqOpenFn = rt.func('int mq_open(const char *name, int oflag, ...)');
/** Opens (or with O_CREAT creates, `maxMessages` deep with `messageBytes` messages) a POSIX queue. */
export function mqOpen(name: string, flags: number, maxMessages: number, messageBytes: number): number {
  const attr = new BigInt64Array(8); // struct mq_attr: flags, maxmsg, msgsize, curmsgs, reserved[4]
  attr[1] = BigInt(maxMessages);
  attr[2] = BigInt(messageBytes);
  return check(mqOpenFn(name, flags, 'uint32_t', 0o600, 'void *', attr) as number, 'mq_open', name);
}
export const mqTimedSend = rt.func(
  'int mq_timedsend(int mqdes, const void *msg, size_t len, uint32_t prio, const void *abs_timeout)',
) as Fn<[number, Bytes, number, number, BigInt64Array], number>;
export const mqTimedReceive = rt.func(
  'intptr_t mq_timedreceive(int mqdes, void *msg, size_t len, void *prio, const void *abs_timeout)',
) as Fn<[number, Bytes, number, null, BigInt64Array], number>;
export const mqClose = rt.func('int mq_close(int mqdes)') as Fn<[number], number>;
export const mqUnlink = rt.func('int mq_unlink(const char *name)') as Fn<[string], number>;

// --- System V message queues ----------------------------------------------------------------
export const msgget = lib.func('int msgget(int key, int msgflg)') as Fn<[number, number], number>;
export const msgsnd = lib.func('int msgsnd(int msqid, const void *msgp, size_t msgsz, int msgflg)') as Fn<[number, Bytes, number, number], number>;
export const msgrcv = lib.func('intptr_t msgrcv(int msqid, void *msgp, size_t msgsz, long msgtyp, int msgflg)') as Fn<[number, Bytes, number, number, number], number>;
export const msgctl = lib.func('int msgctl(int msqid, int cmd, void *buf)') as Fn<[number, number, Bytes | null], number>;

// --- sockets --------------------------------------------------------------------------------
export const socket = lib.func('int socket(int domain, int type, int protocol)') as Fn<[number, number, number], number>;
export const bind = lib.func('int bind(int fd, const void *addr, uint32_t len)') as Fn<[number, Bytes, number], number>;
export const listen = lib.func('int listen(int fd, int backlog)') as Fn<[number, number], number>;
export const accept = lib.func('int accept(int fd, void *addr, void *len)') as Fn<[number, null, null], number>;
export const connect = lib.func('int connect(int fd, const void *addr, uint32_t len)') as Fn<[number, Bytes, number], number>;
export const setsockopt = lib.func('int setsockopt(int fd, int level, int name, const void *val, uint32_t len)') as Fn<[number, number, number, Bytes, number], number>;
export const getsockname = lib.func('int getsockname(int fd, void *addr, void *len)') as Fn<[number, Bytes, Int32Array], number>;
export const send = lib.func('intptr_t send(int fd, const void *buf, size_t len, int flags)') as Fn<[number, Bytes, number, number], number>;
export const recv = lib.func('intptr_t recv(int fd, void *buf, size_t len, int flags)') as Fn<[number, Bytes, number, number], number>;

// --- scheduling -----------------------------------------------------------------------------
export const schedGetcpu = lib.func('int sched_getcpu()') as Fn<[], number>;
export const schedYield = lib.func('int sched_yield()') as Fn<[], number>;
export const schedSetaffinity = lib.func('int sched_setaffinity(int pid, size_t size, const void *mask)') as Fn<[number, number, Bytes], number>;
export const schedGetaffinity = lib.func('int sched_getaffinity(int pid, size_t size, void *mask)') as Fn<[number, number, Bytes], number>;
export const getpid = lib.func('int getpid()') as Fn<[], number>;

// --- limits and timers ----------------------------------------------------------------------
export const getrlimit = lib.func('int getrlimit(int resource, void *rlim)') as Fn<[number, BigInt64Array], number>;
export const timerCreate = rt.func('int timer_create(int clockid, void *sevp, void *timerid)') as Fn<[number, Bytes, BigInt64Array], number>;
export const timerSettime = rt.func('int timer_settime(intptr_t timerid, int flags, const void *new_value, void *old_value)') as Fn<[number, number, BigInt64Array, null], number>;
export const timerDelete = rt.func('int timer_delete(intptr_t timerid)') as Fn<[number], number>;

