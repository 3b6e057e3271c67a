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
    throw new Error(
      'podbench needs Linux with glibc (libc.so.6 could not be loaded); musl and other systems are not supported',
    );
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
  ESRCH: 3,
  EINTR: 4,
  ENXIO: 6,
  EAGAIN: 11,
  ENOSPC: 28,
  EPIPE: 32,
  EIDRM: 43,
  EMSGSIZE: 90,
  ECONNRESET: 104,
  ENOBUFS: 105,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
} as const;

/** Flags for open, shm_open and mq_open (the same on x86-64 and arm64). */
export const O = {
  RDONLY: 0,
  WRONLY: 1,
  RDWR: 2,
  CREAT: 0o100,
  EXCL: 0o200,
  TRUNC: 0o1000,
  APPEND: 0o2000,
  NONBLOCK: 0o4000,
  CLOEXEC: 0o2000000,
} as const;
/** System V IPC flags and commands. */
export const IPC = { CREAT: 0o1000, EXCL: 0o2000, RMID: 0 } as const;
/** The longest path a Unix socket address holds: sun_path's 108 bytes less the terminating NUL. */
export const SUN_PATH_MAX = 107;

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
export const open = lib.func('int open(const char *path, int flags, uint32_t mode)') as Fn<
  [string | Bytes, number, number],
  number
>;
export const close = lib.func('int close(int fd)') as Fn<[number], number>;
export const read = lib.func('intptr_t read(int fd, void *buf, size_t count)') as Fn<[number, Bytes, number], number>;

export const rename = lib.func('int rename(const char *oldpath, const char *newpath)') as Fn<
  [string | Bytes, string | Bytes],
  number
>;
export const unlink = lib.func('int unlink(const char *path)') as Fn<[string | Bytes], number>;
export const mkfifo = lib.func('int mkfifo(const char *path, uint32_t mode)') as Fn<[string, number], number>;
/** fcntl with an integer argument (F_GETFL, F_SETFL, F_GETPIPE_SZ, F_SETPIPE_SZ): see `open` above on variadics. */
export const fcntl = lib.func('int fcntl(int fd, int cmd, int arg)') as Fn<[number, number, number], number>;
export const access = lib.func('int access(const char *path, int mode)') as Fn<[string | Bytes, number], number>;
export const ftruncate = lib.func('int ftruncate(int fd, int64_t length)') as Fn<[number, number], number>;
export const poll = lib.func('int poll(void *fds, uint64_t nfds, int timeout)') as Fn<[Bytes, number, number], number>;
export const inotifyInit1 = lib.func('int inotify_init1(int flags)') as Fn<[number], number>;
export const inotifyAddWatch = lib.func('int inotify_add_watch(int fd, const char *path, uint32_t mask)') as Fn<
  [number, string, number],
  number
>;

// --- memory ------------------------------------------------------------------------------
export const shmOpen = rt.func('int shm_open(const char *name, int oflag, uint32_t mode)') as Fn<
  [string, number, number],
  number
>;
export const shmUnlink = rt.func('int shm_unlink(const char *name)') as Fn<[string], number>;
const mmapFn = lib.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)');
const munmapFn = lib.func('int munmap(void *addr, size_t length)');
/** fallocate(2): with FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, frees a range of a file's blocks. */
export const fallocate = lib.func('int fallocate(int fd, int mode, int64_t offset, int64_t len)') as Fn<
  [number, number, number, number],
  number
>;
const posixFallocate = lib.func('int posix_fallocate(int fd, int64_t offset, int64_t len)') as Fn<
  [number, number, number],
  number
>;

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
// One prototype of syscall(2) per use, with only the arguments it reads, all integers: koffi
// converts every argument on every call, and a typed-array pointer costs ~85 ns more than an
// integer address here. These run in every round trip of the shm channel.
const syscall1 = lib.func('long syscall(long nr)') as Fn<[number], number>;
const syscallFutexWake = lib.func('long syscall(long nr, intptr_t uaddr, int op, int val)') as Fn<
  [number, number, number, number],
  number
>;
const syscallFutexWait = lib.func('long syscall(long nr, intptr_t uaddr, int op, int val, intptr_t timeout)') as Fn<
  [number, number, number, number, number],
  number
>;
// Not FUTEX_PRIVATE_FLAG: the words live in memory shared between processes.
const FUTEX_WAIT = 0;
const FUTEX_WAKE = 1;

/**
 * Sleeps while the 32-bit word at `address` equals `expected`, at most `timeout`. Returns 0 when
 * woken, or the errno of the expected outcomes: EAGAIN (the word had already changed),
 * ETIMEDOUT, EINTR. Anything else throws: a futex that silently failed would turn a sleeping
 * channel into a spinning one.
 */
export function futexWait(address: number, expected: number, timeout: NativeTimespec): number {
  if (syscallFutexWait(SYS.futex, address, FUTEX_WAIT, expected, timeout.address) === 0) return 0;
  const errno = koffi.errno();
  if (errno === Errno.EAGAIN || errno === Errno.ETIMEDOUT || errno === Errno.EINTR) return errno;
  throw new NativeError('futex(FUTEX_WAIT)', errno);
}

/** Wakes up to `count` sleepers on the word at `address`; returns how many were woken. */
export function futexWake(address: number, count: number): number {
  return check(syscallFutexWake(SYS.futex, address, FUTEX_WAKE, count), 'futex(FUTEX_WAKE)');
}

/** The calling thread's id (glibc has gettid only from 2.30). */
export function gettid(): number {
  return syscall1(SYS.gettid);
}

/**
 * A `struct timespec` in memory of its own outside the JS heap, passed to calls by address (an
 * integer), which koffi converts far faster than a typed array. Written in place through
 * {@link NativeTimespec.set}, which allocates nothing; {@link NativeTimespec.free} releases it.
 */
export class NativeTimespec {
  /** Where the struct is, for calls that take a `struct timespec *`. */
  readonly address: number;
  private readonly pointer: unknown;
  private readonly fields: DataView;
  private freed = false;

  constructor() {
    this.pointer = koffi.alloc('int64_t', 2);
    this.address = Number(koffi.address(this.pointer));
    this.fields = new DataView(koffi.view(this.pointer, 16));
  }

  /** Sets seconds and nanoseconds; written as 32-bit halves, as a BigInt store would allocate. */
  set(seconds: number, nanoseconds: number): void {
    this.fields.setUint32(0, seconds % 0x100000000, true);
    this.fields.setUint32(4, Math.floor(seconds / 0x100000000), true);
    this.fields.setUint32(8, nanoseconds, true);
    this.fields.setUint32(12, 0, true);
  }

  /** The time it holds, in milliseconds (seconds below 2³² only: a CPU clock or a timeout). */
  ms(): number {
    return this.fields.getUint32(0, true) * 1000 + this.fields.getUint32(8, true) / 1e6;
  }

  /** Releases the memory; the timespec must not be passed to a call afterwards. */
  free(): void {
    if (this.freed) return;
    this.freed = true;
    koffi.free(this.pointer);
  }
}

/** A timespec holding a duration, for calls that take a relative timeout. */
export function relativeTimespec(durationMs: number): NativeTimespec {
  const ts = new NativeTimespec();
  ts.set(Math.floor(durationMs / 1000), Math.round((durationMs % 1000) * 1e6));
  return ts;
}

const clockGettime = lib.func('int clock_gettime(int clockid, intptr_t ts)') as Fn<[number, number], number>;
const CLOCK_THREAD_CPUTIME_ID = 3;
let threadCpuSpec: NativeTimespec | undefined;

/**
 * CPU time the calling thread has used, in milliseconds. Reads into one timespec kept for the
 * purpose, so it allocates nothing (rate mode reads it around every paced wait, ~0.2 µs).
 */
export function threadCpuMs(): number {
  threadCpuSpec ??= new NativeTimespec();
  check(clockGettime(CLOCK_THREAD_CPUTIME_ID, threadCpuSpec.address), 'clock_gettime(CLOCK_THREAD_CPUTIME_ID)');
  return threadCpuSpec.ms();
}

const prctlFn = lib.func(
  'int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)',
) as Fn<[number, number, number, number, number], number>;
const PR_SET_TIMERSLACK = 29;

/**
 * Sets the calling thread's timer slack (how late the kernel may end its timed sleeps, to batch
 * wake-ups; 50 µs by default): returns whether it took.
 */
export function setTimerSlackNs(slackNs: number): boolean {
  return prctlFn(PR_SET_TIMERSLACK, slackNs, 0, 0, 0) === 0;
}

const getrusageFn = lib.func('int getrusage(int who, void *usage)') as Fn<[number, Bytes], number>;
const RUSAGE_THREAD = 1;
/** struct rusage on LP64: two timevals (16 bytes each) then fourteen longs. */
const RUSAGE_BYTES = 144;

/**
 * User and system CPU time of the calling thread, in microseconds (getrusage(RUSAGE_THREAD)):
 * what one connection's thread spent when a case runs several, each on its own thread.
 */
export function threadCpuUsage(): { userUs: number; systemUs: number } {
  const usage = Buffer.alloc(RUSAGE_BYTES);
  check(getrusageFn(RUSAGE_THREAD, usage), 'getrusage(RUSAGE_THREAD)');
  const timeval = (offset: number) => usage.readUInt32LE(offset) * 1e6 + usage.readUInt32LE(offset + 8);
  return { userUs: timeval(0), systemUs: timeval(16) };
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
export const mqClose = rt.func('int mq_close(int mqdes)') as Fn<[number], number>;
export const mqUnlink = rt.func('int mq_unlink(const char *name)') as Fn<[string], number>;

// --- System V message queues ----------------------------------------------------------------
export const msgget = lib.func('int msgget(int key, int msgflg)') as Fn<[number, number], number>;
export const msgctl = lib.func('int msgctl(int msqid, int cmd, void *buf)') as Fn<
  [number, number, Bytes | null],
  number
>;

// --- System V semaphores ------------------------------------------------------------------
export const semget = lib.func('int semget(int key, int nsems, int semflg)') as Fn<[number, number, number], number>;
/** semctl with an integer argument (SETVAL, GETVAL, IPC_RMID): the union semun travels as an int. */
export const semctl = lib.func('int semctl(int semid, int semnum, int cmd, int arg)') as Fn<
  [number, number, number, number],
  number
>;
/** semctl(IPC_STAT): the union semun carries a pointer to a struct semid_ds. */
export const semctlStat = lib.func('int semctl(int semid, int semnum, int cmd, void *buf)') as Fn<
  [number, number, number, Bytes],
  number
>;

// --- sockets --------------------------------------------------------------------------------
export const socket = lib.func('int socket(int domain, int type, int protocol)') as Fn<
  [number, number, number],
  number
>;
export const bind = lib.func('int bind(int fd, const void *addr, uint32_t len)') as Fn<[number, Bytes, number], number>;
export const listen = lib.func('int listen(int fd, int backlog)') as Fn<[number, number], number>;
export const accept = lib.func('int accept(int fd, void *addr, void *len)') as Fn<[number, null, null], number>;
export const connect = lib.func('int connect(int fd, const void *addr, uint32_t len)') as Fn<
  [number, Bytes, number],
  number
>;
export const setsockopt = lib.func('int setsockopt(int fd, int level, int name, const void *val, uint32_t len)') as Fn<
  [number, number, number, Bytes, number],
  number
>;
export const socketpair = lib.func('int socketpair(int domain, int type, int protocol, void *sv)') as Fn<
  [number, number, number, Int32Array],
  number
>;
export const getsockopt = lib.func('int getsockopt(int fd, int level, int name, void *val, void *len)') as Fn<
  [number, number, number, Int32Array, Int32Array],
  number
>;
export const getsockname = lib.func('int getsockname(int fd, void *addr, void *len)') as Fn<
  [number, Bytes, Int32Array],
  number
>;

// --- messages, by address -------------------------------------------------------------------
// The calls that move a message in the timed loop take its memory by address (an integer, see
// addressOf), never as a buffer: koffi converts an integer far faster than a typed array
// (~85 ns less per argument here), and these run several times per round trip.

/**
 * The address of a buffer's memory. Stable for the buffer's lifetime when the buffer owns its
 * ArrayBuffer (Buffer.allocUnsafeSlow): V8 never moves an ArrayBuffer's backing store. Keep a
 * reference to the buffer as long as the address is used.
 */
export function addressOf(buffer: Uint8Array): number {
  return Number(koffi.address(buffer));
}
export const pwriteFrom = lib.func('intptr_t pwrite(int fd, intptr_t buf, size_t count, int64_t offset)') as Fn<
  [number, number, number, number],
  number
>;
export const preadInto = lib.func('intptr_t pread(int fd, intptr_t buf, size_t count, int64_t offset)') as Fn<
  [number, number, number, number],
  number
>;
export const writeFrom = lib.func('intptr_t write(int fd, intptr_t buf, size_t count)') as Fn<
  [number, number, number],
  number
>;
export const readInto = lib.func('intptr_t read(int fd, intptr_t buf, size_t count)') as Fn<
  [number, number, number],
  number
>;
export const sendFrom = lib.func('intptr_t send(int fd, intptr_t buf, size_t len, int flags)') as Fn<
  [number, number, number, number],
  number
>;
/** sendto with the destination address by address too (a sockaddr in a buffer that stays referenced). */
export const sendtoFrom = lib.func(
  'intptr_t sendto(int fd, intptr_t buf, size_t len, int flags, intptr_t dest, uint32_t addrlen)',
) as Fn<[number, number, number, number, number, number], number>;
export const recvInto = lib.func('intptr_t recv(int fd, intptr_t buf, size_t len, int flags)') as Fn<
  [number, number, number, number],
  number
>;
export const msgsndFrom = lib.func('int msgsnd(int msqid, intptr_t msgp, size_t msgsz, int msgflg)') as Fn<
  [number, number, number, number],
  number
>;
export const msgrcvInto = lib.func(
  'intptr_t msgrcv(int msqid, intptr_t msgp, size_t msgsz, long msgtyp, int msgflg)',
) as Fn<[number, number, number, number, number], number>;
/** `struct sembuf` operations and the relative timeout go by address (native memory of their own). */
export const semopAt = lib.func('int semop(int semid, intptr_t sops, size_t nsops)') as Fn<
  [number, number, number],
  number
>;
export const semtimedopAt = lib.func('int semtimedop(int semid, intptr_t sops, size_t nsops, intptr_t timeout)') as Fn<
  [number, number, number, number],
  number
>;
/** The deadline goes by address too (a NativeTimespec). */
export const mqTimedSendFrom = rt.func(
  'int mq_timedsend(int mqdes, intptr_t msg, size_t len, uint32_t prio, intptr_t abs_timeout)',
) as Fn<[number, number, number, number, number], number>;
export const mqTimedReceiveInto = rt.func(
  'intptr_t mq_timedreceive(int mqdes, intptr_t msg, size_t len, intptr_t prio, intptr_t abs_timeout)',
) as Fn<[number, number, number, number, number], number>;

// --- scheduling -----------------------------------------------------------------------------
export const schedGetcpu = lib.func('int sched_getcpu()') as Fn<[], number>;
export const schedYield = lib.func('int sched_yield()') as Fn<[], number>;
export const schedSetaffinity = lib.func('int sched_setaffinity(int pid, size_t size, const void *mask)') as Fn<
  [number, number, Bytes],
  number
>;
export const schedGetaffinity = lib.func('int sched_getaffinity(int pid, size_t size, void *mask)') as Fn<
  [number, number, Bytes],
  number
>;
export const getpid = lib.func('int getpid()') as Fn<[], number>;

// --- limits and timers ----------------------------------------------------------------------
export const getrlimit = lib.func('int getrlimit(int resource, void *rlim)') as Fn<[number, BigInt64Array], number>;
export const timerCreate = rt.func('int timer_create(int clockid, void *sevp, void *timerid)') as Fn<
  [number, Bytes, BigInt64Array],
  number
>;
export const timerSettime = rt.func(
  'int timer_settime(intptr_t timerid, int flags, const void *new_value, void *old_value)',
) as Fn<[number, number, BigInt64Array, null], number>;
export const timerDelete = rt.func('int timer_delete(intptr_t timerid)') as Fn<[number], number>;
