/**
 * `shm` and `shm-spin`: two single-producer single-consumer rings (one each way) in one POSIX
 * shared-memory object. A ring is a power-of-two number of fixed slots and two 32-bit counters,
 * `head` (messages published) and `tail` (messages consumed), each on its own cache line.
 *
 * Waiting (`shm`) is an eventcount: the waiter raises its `waiting` flag, re-reads the counter
 * it watches, and only then sleeps on the *flag* with FUTEX_WAIT(flag, 1). The other side advances
 * the counter and, only when the flag is up, takes it down and calls FUTEX_WAKE(flag). Raising,
 * advancing and taking down are atomic read-modify-writes (full barriers), so either the waiter
 * sees the new counter or the waker sees the flag. Sleeping on the flag rather than the counter
 * matters: a waker that is late (it saw the flag for an earlier message) and takes down a flag
 * raised for the next wait also changes the very word the waiter is about to sleep on, so the
 * kernel refuses the sleep (EAGAIN) and the waiter checks again — no lost wake-up. Taking the flag
 * down means one wake per sleep, however many messages pass before the sleeper runs again
 * (wake-ups batch).
 *
 * The counters are read and written with Atomics on the ArrayBuffer koffi.view() gives over the
 * mapping. The ECMAScript memory model promises ordering only for SharedArrayBuffers; this relies
 * on V8 emitting the same instructions for both (a locked xchg/xadd on x86-64, acquire/release
 * pairs on arm64: measured here, an Atomics.exchange costs the same on either buffer). The
 * randomized two-process test in test/shm-ring.test.ts is what would catch a change.
 * `shm-spin` polls the counter instead and never enters the kernel.
 *
 * `shm-sem` is the same eventcount with a System V semaphore per flag in place of the futex:
 * the waiter sleeps in semtimedop(-1), the waker posts with semop(+1). A semaphore, unlike a
 * futex, keeps a post nobody waited for, so every take-down of a flag (one post) is matched by
 * exactly one successful wait before the waiter leaves (see {@link Wakeup.settle}): the
 * semaphores are back at 0 after every wait, and a later wait never returns early.
 */
import { join } from 'node:path';
import * as libc from '../native/libc.js';
import { filesystemType, freeBytesIn, volumeFacts } from '../kernel-limits.js';
import {
  Errno,
  IPC,
  NativeError,
  O,
  check,
  relativeTimespec,
  type Mapping,
  type NativeTimespec,
} from '../native/libc.js';
import { createWithRunKey } from '../native/sysv-keys.js';
import koffi from 'koffi';
import type { MessageBuffer } from '../measure/message.js';
import { PeerWait } from '../native/peer-wait.js';
import {
  PeerError,
  type Channel,
  type ChannelContext,
  type BlockingEndpoint,
  type Endpoint,
  type Feasibility,
  type Hosted,
  type JoinParams,
} from './channel.js';

const CACHE_LINE = 64;
/** Bytes of ring memory aimed for, so large messages still get a few slots. */
const RING_TARGET_BYTES = 4 * 1024 * 1024;
const MAX_SLOTS = 256;
/**
 * Spins between clock checks in spin mode. Each check also yields the CPU once: when both agents
 * share a CPU (--pin same, a one-CPU pod), a spinner that never yields makes every hand-over
 * wait for the end of its time slice. With the peer on another CPU the yield returns at once.
 */
const SPINS_PER_CHECK = 4096;

// Word offsets (Int32) inside a ring's control block.
const HEAD = 0;
const CONSUMER_WAITING = 1;
const TAIL = CACHE_LINE / 4;
const PRODUCER_WAITING = TAIL + 1;
const CONTROL_BYTES = 2 * CACHE_LINE;
const SLOT_HEADER_BYTES = CACHE_LINE; // holds the message length

/** The geometry of the two rings for one message size. */
interface Layout {
  readonly slots: number;
  readonly slotStrideBytes: number;
  readonly ringBytes: number;
  readonly totalBytes: number;
}

function layoutFor(sizeBytes: number): Layout {
  const slotStrideBytes = SLOT_HEADER_BYTES + Math.ceil(sizeBytes / CACHE_LINE) * CACHE_LINE;
  let slots = 2;
  while (slots * 2 <= MAX_SLOTS && slots * 2 * slotStrideBytes <= RING_TARGET_BYTES) slots *= 2;
  const ringBytes = CONTROL_BYTES + slots * slotStrideBytes;
  return { slots, slotStrideBytes, ringBytes, totalBytes: 2 * ringBytes };
}

/** One direction of the pair, seen from one side. */
class Ring {
  readonly control: Int32Array;
  /** Addresses of the two `waiting` flags, the words futex sleepers wait on. */
  readonly consumerWaitingAddress: number;
  readonly producerWaitingAddress: number;
  /** The flags' numbers among the four of the pair (ring A: 0 and 1, ring B: 2 and 3): a semaphore each. */
  readonly consumerFlag: number;
  readonly producerFlag: number;
  readonly lengths: Int32Array[] = [];
  readonly slots: Buffer[] = [];

  constructor(mapping: Mapping, offsetBytes: number, which: 0 | 1, layout: Layout, sizeBytes: number) {
    this.control = new Int32Array(mapping.buffer, offsetBytes, CONTROL_BYTES / 4);
    this.consumerWaitingAddress = mapping.address + offsetBytes + CONSUMER_WAITING * 4;
    this.producerWaitingAddress = mapping.address + offsetBytes + PRODUCER_WAITING * 4;
    this.consumerFlag = 2 * which;
    this.producerFlag = 2 * which + 1;
    for (let i = 0; i < layout.slots; i++) {
      const slotOffset = offsetBytes + CONTROL_BYTES + i * layout.slotStrideBytes;
      this.lengths.push(new Int32Array(mapping.buffer, slotOffset, 1));
      this.slots.push(Buffer.from(mapping.buffer, slotOffset + SLOT_HEADER_BYTES, sizeBytes));
    }
  }
}

/** How a waiting side sleeps on one of the four flags and is woken: futex or System V semaphore. */
interface Wakeup {
  /** Sleeps while flag `flag` is up; 0 when woken, else ETIMEDOUT, EINTR or EAGAIN (woken by a change). */
  sleep(flag: number): number;
  /** Wakes the side sleeping on `flag` (its flag was just taken down). */
  wake(flag: number): void;
  /**
   * Called when a wait ends with `owed` take-downs of the flag not yet matched by a wake-up the
   * sleeper consumed: a semaphore must take those posts now, a futex keeps nothing. Returns the
   * waits it made.
   */
  settle(flag: number, owed: number, wait: PeerWait): number;
  /** The counters in the case's details, by the names of this kind. */
  details(wakes: number, sleeps: number, timeouts: number): Record<string, number>;
  free(): void;
}

function futexWakeup(rings: readonly Ring[], timeout: NativeTimespec): Wakeup {
  const addresses = rings.flatMap((r) => [r.consumerWaitingAddress, r.producerWaitingAddress]);
  return {
    sleep: (flag) => libc.futexWait(addresses[flag]!, 1, timeout),
    wake: (flag) => void libc.futexWake(addresses[flag]!, 1),
    settle: () => 0,
    details: (wakes, sleeps, timeouts) => ({ futexWakes: wakes, futexWaits: sleeps, futexTimeouts: timeouts }),
    free: () => undefined,
  };
}

/** semop on a set that is gone (removed, and its id not reused yet). */
const EINVAL = 22;
/** `struct sembuf`: unsigned short sem_num; short sem_op; short sem_flg. */
const SEMBUF_BYTES = 6;
const FLAGS = 4;

function semaphoreWakeup(semid: number, timeout: NativeTimespec): Wakeup {
  // One wait (-1) and one post (+1) operation per flag, in native memory passed by address.
  const ops = koffi.alloc('uint8_t', 2 * FLAGS * SEMBUF_BYTES);
  const base = Number(koffi.address(ops));
  const view = new DataView(koffi.view(ops, 2 * FLAGS * SEMBUF_BYTES));
  for (let flag = 0; flag < FLAGS; flag++) {
    for (const [slot, op] of [
      [flag, -1],
      [FLAGS + flag, 1],
    ] as const) {
      view.setUint16(slot * SEMBUF_BYTES, flag, true);
      view.setInt16(slot * SEMBUF_BYTES + 2, op, true);
      view.setInt16(slot * SEMBUF_BYTES + 4, 0, true);
    }
  }
  const sleep = (flag: number): number => {
    if (libc.semtimedopAt(semid, base + flag * SEMBUF_BYTES, 1, timeout.address) === 0) return 0;
    const errno = libc.lastErrno();
    if (errno === Errno.EAGAIN) return Errno.ETIMEDOUT; // semtimedop's timeout
    if (errno === Errno.EINTR) return errno;
    if (errno === Errno.EIDRM || errno === EINVAL) throw new PeerError('the peer removed the semaphore set');
    throw new NativeError('semtimedop', errno);
  };
  return {
    sleep,
    wake(flag) {
      if (libc.semopAt(semid, base + (FLAGS + flag) * SEMBUF_BYTES, 1) === 0) return;
      const errno = libc.lastErrno();
      if (errno === Errno.EIDRM || errno === EINVAL) throw new PeerError('the peer removed the semaphore set');
      throw new NativeError('semop', errno);
    },
    settle(flag, owed, wait) {
      // The waker took the flag down and posts (or is about to): take each post, bounded.
      let waits = 0;
      for (let left = owed; left > 0; waits++) {
        const woke = sleep(flag);
        if (woke === 0) left--;
        else if (woke === Errno.ETIMEDOUT) wait.giveUp();
        else wait.goOn();
      }
      return waits;
    },
    details: (wakes, sleeps, timeouts) => ({ semPosts: wakes, semWaits: sleeps, semTimeouts: timeouts }),
    free: () => koffi.free(ops),
  };
}

class RingEndpoint implements BlockingEndpoint {
  readonly blocking = true;
  private readonly mask: number;
  private readonly timeout: NativeTimespec;
  /** The waits for a free slot (the peer must read) and for a message (the peer must send). */
  private readonly slotWait: PeerWait;
  private readonly messageWait: PeerWait;
  private sent = 0;
  private received = 0;
  private wakeups = 0;
  private sleeps = 0;
  private timeouts = 0;
  private yields = 0;
  private closed = false;

  /** How this side sleeps and wakes its peer; none when it spins. */
  private readonly wakeup: Wakeup | undefined;

  constructor(
    private readonly mapping: Mapping,
    private readonly outgoing: Ring,
    private readonly incoming: Ring,
    slots: number,
    waiting: Waiting,
    peer: string,
    peerTimeoutMs: number,
  ) {
    this.mask = slots - 1;
    this.timeout = relativeTimespec(peerTimeoutMs);
    const rings = outgoing.consumerFlag === 0 ? [outgoing, incoming] : [incoming, outgoing];
    this.wakeup =
      waiting.kind === 'futex'
        ? futexWakeup(rings, this.timeout)
        : waiting.kind === 'semaphore'
          ? semaphoreWakeup(waiting.semid, this.timeout)
          : undefined;
    const expired = (peerAction: string) => (): never => {
      throw new PeerError(`the ${peer} did not ${peerAction} within ${peerTimeoutMs} ms (shared-memory ring)`);
    };
    this.slotWait = new PeerWait(peerTimeoutMs, expired('read'));
    this.messageWait = new PeerWait(peerTimeoutMs, expired('send'));
  }

  send(message: MessageBuffer): void {
    const ring = this.outgoing;
    const seq = this.sent;
    // Wait for a free slot: the consumer's tail must be within `slots` of our head.
    if (((seq - Atomics.load(ring.control, TAIL)) | 0) > this.mask)
      this.await(ring, TAIL, PRODUCER_WAITING, ring.producerFlag, (seq - this.mask - 1) | 0, this.slotWait);
    const slot = seq & this.mask;
    ring.slots[slot]!.set(message.bytes);
    ring.lengths[slot]![0] = message.bytes.length;
    this.sent = (seq + 1) | 0;
    Atomics.add(ring.control, HEAD, 1);
    // A spinning peer never sleeps, so spin mode does not even look at its flag.
    if (
      this.wakeup &&
      Atomics.load(ring.control, CONSUMER_WAITING) !== 0 &&
      Atomics.exchange(ring.control, CONSUMER_WAITING, 0) !== 0
    ) {
      this.wakeups++;
      this.wakeup.wake(ring.consumerFlag);
    }
  }

  receive(into: MessageBuffer): number {
    const ring = this.incoming;
    const seq = this.received;
    if (Atomics.load(ring.control, HEAD) === seq)
      this.await(ring, HEAD, CONSUMER_WAITING, ring.consumerFlag, seq, this.messageWait);
    const slot = seq & this.mask;
    const length = ring.lengths[slot]![0]!;
    into.bytes.set(ring.slots[slot]!);
    this.received = (seq + 1) | 0;
    Atomics.add(ring.control, TAIL, 1);
    if (
      this.wakeup &&
      Atomics.load(ring.control, PRODUCER_WAITING) !== 0 &&
      Atomics.exchange(ring.control, PRODUCER_WAITING, 0) !== 0
    ) {
      this.wakeups++;
      this.wakeup.wake(ring.producerFlag);
    }
    return length;
  }

  /**
   * Blocks until `control[word]` differs from `seen`, by spinning or by the eventcount on flag
   * word `flag` (number `flagId` among the pair's four). The clock is read only once a wait has
   * gone on for a while (after a batch of spins, or a wake-up that brought nothing): a clock read
   * on every wait would sit inside every round trip.
   */
  private await(ring: Ring, word: number, flag: number, flagId: number, seen: number, wait: PeerWait): void {
    const control = ring.control;
    const wakeup = this.wakeup;
    wait.begin();
    if (!wakeup) {
      let spins = 0;
      while (Atomics.load(control, word) === seen) {
        if (++spins === SPINS_PER_CHECK) {
          spins = 0;
          this.yields++;
          libc.schedYield();
          wait.goOn();
        }
      }
      return;
    }
    // Take-downs of our flag by the waker (each one a wake-up sent) and wake-ups received: a
    // raise that finds the flag down again after our earlier raise means the waker took it.
    let takenDown = 0;
    let woken = 0;
    let raised = false;
    for (;;) {
      if (Atomics.exchange(control, flag, 1) === 0 && raised) takenDown++;
      raised = true;
      if (Atomics.load(control, word) !== seen) break;
      this.sleeps++;
      const woke = wakeup.sleep(flagId);
      if (woke === 0) woken++;
      else if (woke === Errno.ETIMEDOUT) this.timeouts++;
      if (Atomics.load(control, word) !== seen) break;
      // One sleep of the whole peer timeout without progress; else a wake-up that brought nothing
      // (a late waker, EINTR), bounded by the clock.
      if (woke === Errno.ETIMEDOUT) wait.giveUp();
      wait.goOn();
    }
    if (Atomics.exchange(control, flag, 0) === 0) takenDown++;
    if (takenDown > woken) this.sleeps += wakeup.settle(flagId, takenDown - woken, wait);
  }

  details(): Record<string, number | string | boolean> {
    return this.wakeup
      ? { ringSlots: this.mask + 1, ...this.wakeup.details(this.wakeups, this.sleeps, this.timeouts) }
      : { ringSlots: this.mask + 1, spinYields: this.yields };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.mapping.unmap();
    this.wakeup?.free();
    this.timeout.free();
  }
}

/**
 * Where the rings live: a POSIX shared-memory object (`shm`, `shm-spin`: /dev/shm, journaled as a
 * kernel object), or a file in one of the shared directories (`mmap`, `tmpfs-mmap`: shared memory
 * for pods that share only a volume; removed with the run's directory).
 */
interface RingBacking {
  /** The object's name or the file's path for this case. */
  locate(ctx: ChannelContext): string;
  /** Opens (or, with `create`, creates exclusively) the object; returns its descriptor. */
  open(where: string, create: boolean): number;
  remove(where: string): void;
  /** Free bytes where the rings go, and how to say so in a skip reason. */
  room(ctx: ChannelContext): { freeBytes: number | null; place: string; raise: string };
  /** Facts recorded with each case (the filesystem type, for files). */
  details(ctx: ChannelContext): Record<string, string>;
  /** Records the object before it is made, when it outlives its creator outside the run's directories. */
  journal(ctx: ChannelContext, where: string): void;
  /** For `podbench channels`: where a probe's object goes (`scratchDir` is a temp directory), and what it shows. */
  probe(scratchDir: string): { where: string; note: string };
}

const posixShm: RingBacking = {
  locate: (ctx) => `/podbench-${ctx.runId}-${ctx.instance}`,
  open: (name, create) => check(libc.shmOpen(name, O.RDWR | (create ? O.CREAT | O.EXCL : 0), 0o600), 'shm_open', name),
  remove: (name) => libc.shmUnlink(name),
  room: (ctx) => ({ freeBytes: ctx.limits.devShmFreeBytes, place: '/dev/shm', raise: "raise the pod's /dev/shm size" }),
  details: () => ({}),
  journal: (ctx, name) => ctx.journal.record('shm', name),
  probe: () => ({ where: `/podbench-probe-${process.pid}`, note: 'POSIX shared memory opens in /dev/shm' }),
};

function fileIn(dirOf: (ctx: ChannelContext) => string, volume: 'disk' | 'memory'): RingBacking {
  return {
    locate: (ctx) => join(dirOf(ctx), `podbench-${ctx.instance}.ring`),
    open: (path, create) =>
      check(libc.open(path, O.RDWR | O.CLOEXEC | (create ? O.CREAT | O.EXCL : 0), 0o600), 'open', path),
    remove: (path) => libc.unlink(path),
    room: (ctx) => ({
      freeBytes: freeBytesIn(dirOf(ctx)),
      place: `the ${volume} volume`,
      raise: 'raise --volume-size',
    }),
    details: (ctx) => volumeFacts(dirOf(ctx), volume),
    journal: () => undefined, // the file is in the run's directory, removed whole
    probe(scratchDir) {
      const note = `a shared file mapping works on ${filesystemType(scratchDir)}`;
      // The local target's memory volume is in /dev/shm, as for tmpfs-file.
      return {
        where: join(scratchDir, 'probe.ring'),
        note: volume === 'memory' ? `${note}; /dev/shm is ${filesystemType('/dev/shm')}` : note,
      };
    },
  };
}

function openMapping(backing: RingBacking, where: string, layout: Layout, create: boolean): Mapping {
  const fd = backing.open(where, create);
  try {
    if (create) {
      check(libc.ftruncate(fd, layout.totalBytes), 'ftruncate', where);
      libc.allocateFile(fd, layout.totalBytes, where);
    }
    return libc.mapShared(fd, layout.totalBytes, where);
  } catch (err) {
    if (create) backing.remove(where);
    throw err;
  } finally {
    libc.close(fd);
  }
}

/** How the waiting side waits: spinning, the futex eventcount, or the same with a semaphore set. */
type Waiting = { readonly kind: 'spin' | 'futex' } | { readonly kind: 'semaphore'; readonly semid: number };
type WaitKind = Waiting['kind'];

/** Ring A carries initiator → responder, ring B responder → initiator. */
function endpointFor(
  mapping: Mapping,
  layout: Layout,
  ctx: ChannelContext,
  waiting: Waiting,
  role: 'initiator' | 'responder',
): Endpoint {
  const a = new Ring(mapping, 0, 0, layout, ctx.spec.sizeBytes);
  const b = new Ring(mapping, layout.ringBytes, 1, layout, ctx.spec.sizeBytes);
  return role === 'initiator'
    ? new RingEndpoint(mapping, a, b, layout.slots, waiting, 'responder', ctx.peerTimeoutMs)
    : new RingEndpoint(mapping, b, a, layout.slots, waiting, 'initiator', ctx.peerTimeoutMs);
}

/** The four semaphores of a `shm-sem` case, one per flag; journaled by id right after creation (as System V queues). */
function createSemaphores(ctx: ChannelContext): number {
  let semid: number;
  try {
    semid = createWithRunKey(`${ctx.runId}/${ctx.instance}/sem`, 'semget', (key) =>
      libc.semget(key, FLAGS, IPC.CREAT | IPC.EXCL | 0o600),
    );
  } catch (err) {
    if (err instanceof NativeError && err.errno === Errno.ENOSPC)
      throw new Error(
        `no room for another System V semaphore set: all ${ctx.limits.sysvSemSets ?? 'the'} sets kernel.sem ` +
          "allows (SEMMNI) are in use in this IPC namespace; 'ipcs -s' lists them",
        { cause: err },
      );
    throw err;
  }
  try {
    ctx.journal.record('sysv-sem', String(semid));
  } catch (err) {
    removeSemaphores(semid); // unrecorded, it would outlive a crash
    throw err;
  }
  return semid;
}

const removeSemaphores = (semid: number): void => void libc.semctl(semid, 0, IPC.RMID, 0);

function ringChannel(
  id: 'shm' | 'shm-spin' | 'shm-sem' | 'mmap' | 'tmpfs-mmap',
  backing: RingBacking,
  waitKind: WaitKind,
): Channel {
  return {
    id,
    probe(scratchDir) {
      const { where, note } = backing.probe(scratchDir);
      openMapping(backing, where, layoutFor(64), true).unmap();
      backing.remove(where);
      if (waitKind !== 'semaphore') return note;
      removeSemaphores(check(libc.semget(0 /* IPC_PRIVATE */, FLAGS, IPC.CREAT | 0o600), 'semget'));
      return `${note}; System V semaphore sets open`;
    },
    feasibility(ctx): Feasibility {
      const layout = layoutFor(ctx.spec.sizeBytes);
      const { freeBytes, place, raise } = backing.room(ctx);
      // Every connection of the case has its own pair of rings.
      const connections = ctx.spec.connections ?? 1;
      const neededBytes = connections * layout.totalBytes;
      if (freeBytes !== null && freeBytes < neededBytes) {
        const rings = connections > 1 ? `the ${connections} connections' rings` : 'the two rings';
        return { skip: `${place} has ${freeBytes} bytes free; ${rings} need ${neededBytes} (${raise})` };
      }
      const perSet = ctx.limits.sysvSemPerSet;
      if (waitKind === 'semaphore' && perSet !== null && perSet < FLAGS)
        return { skip: `kernel.sem allows ${perSet} semaphores per set (SEMMSL); the rings need ${FLAGS}` };
      return { details: { ringSlots: layout.slots, shmBytes: layout.totalBytes, ...backing.details(ctx) } };
    },
    host(ctx): Hosted {
      const layout = layoutFor(ctx.spec.sizeBytes);
      const where = backing.locate(ctx);
      backing.journal(ctx, where);
      const mapping = openMapping(backing, where, layout, true);
      let waiting: Waiting;
      try {
        waiting = waitKind === 'semaphore' ? { kind: waitKind, semid: createSemaphores(ctx) } : { kind: waitKind };
      } catch (err) {
        mapping.unmap();
        backing.remove(where);
        throw err;
      }
      let endpoint: Endpoint | undefined;
      let disposed = false;
      return {
        params: waiting.kind === 'semaphore' ? { name: where, semid: waiting.semid } : { name: where },
        accept: () => (endpoint = endpointFor(mapping, layout, ctx, waiting, 'responder')),
        dispose() {
          if (disposed) return;
          disposed = true;
          if (endpoint) endpoint.close();
          else mapping.unmap();
          backing.remove(where);
          if (waiting.kind === 'semaphore') removeSemaphores(waiting.semid);
        },
      };
    },
    join(ctx, params: JoinParams): Endpoint {
      const layout = layoutFor(ctx.spec.sizeBytes);
      const mapping = openMapping(backing, String(params.name), layout, false);
      const waiting: Waiting =
        waitKind === 'semaphore' ? { kind: waitKind, semid: Number(params.semid) } : { kind: waitKind };
      return endpointFor(mapping, layout, ctx, waiting, 'initiator');
    },
  };
}

/** The ring in POSIX shared memory, with futex sleeping. */
export const shmChannel = ringChannel('shm', posixShm, 'futex');
/** The ring in POSIX shared memory, with busy-polling. */
export const shmSpinChannel = ringChannel('shm-spin', posixShm, 'spin');
/** The ring in POSIX shared memory, the waiting side woken through a System V semaphore. */
export const shmSemChannel = ringChannel('shm-sem', posixShm, 'semaphore');
/** The ring in a file on the disk-backed shared volume, mapped by both (MAP_SHARED), futex sleeping. */
export const mmapChannel = ringChannel(
  'mmap',
  fileIn((ctx) => ctx.dirs.disk, 'disk'),
  'futex',
);
/** The same on the memory-backed shared volume. */
export const tmpfsMmapChannel = ringChannel(
  'tmpfs-mmap',
  fileIn((ctx) => ctx.dirs.tmpfs, 'memory'),
  'futex',
);
