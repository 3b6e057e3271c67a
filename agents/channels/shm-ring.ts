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
 */
import { statfsSync } from 'node:fs';
import { join } from 'node:path';
import * as libc from '../native/libc.js';
import { filesystemType } from '../kernel-limits.js';
import { Errno, O, check, relativeTimespec, type Mapping, type NativeTimespec } from '../native/libc.js';
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
  /** Addresses of the two `waiting` flags, the words sleepers wait on. */
  readonly consumerWaitingAddress: number;
  readonly producerWaitingAddress: number;
  readonly lengths: Int32Array[] = [];
  readonly slots: Buffer[] = [];

  constructor(mapping: Mapping, offsetBytes: number, layout: Layout, sizeBytes: number) {
    this.control = new Int32Array(mapping.buffer, offsetBytes, CONTROL_BYTES / 4);
    this.consumerWaitingAddress = mapping.address + offsetBytes + CONSUMER_WAITING * 4;
    this.producerWaitingAddress = mapping.address + offsetBytes + PRODUCER_WAITING * 4;
    for (let i = 0; i < layout.slots; i++) {
      const slotOffset = offsetBytes + CONTROL_BYTES + i * layout.slotStrideBytes;
      this.lengths.push(new Int32Array(mapping.buffer, slotOffset, 1));
      this.slots.push(Buffer.from(mapping.buffer, slotOffset + SLOT_HEADER_BYTES, sizeBytes));
    }
  }
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

  constructor(
    private readonly mapping: Mapping,
    private readonly outgoing: Ring,
    private readonly incoming: Ring,
    slots: number,
    private readonly spin: boolean,
    peer: string,
    peerTimeoutMs: number,
  ) {
    this.mask = slots - 1;
    this.timeout = relativeTimespec(peerTimeoutMs);
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
      this.await(ring, TAIL, PRODUCER_WAITING, ring.producerWaitingAddress, (seq - this.mask - 1) | 0, this.slotWait);
    const slot = seq & this.mask;
    ring.slots[slot]!.set(message.bytes);
    ring.lengths[slot]![0] = message.bytes.length;
    this.sent = (seq + 1) | 0;
    Atomics.add(ring.control, HEAD, 1);
    // A spinning peer never sleeps, so spin mode does not even look at its flag.
    if (
      !this.spin &&
      Atomics.load(ring.control, CONSUMER_WAITING) !== 0 &&
      Atomics.exchange(ring.control, CONSUMER_WAITING, 0) !== 0
    ) {
      this.wakeups++;
      libc.futexWake(ring.consumerWaitingAddress, 1);
    }
  }

  receive(into: MessageBuffer): number {
    const ring = this.incoming;
    const seq = this.received;
    if (Atomics.load(ring.control, HEAD) === seq)
      this.await(ring, HEAD, CONSUMER_WAITING, ring.consumerWaitingAddress, seq, this.messageWait);
    const slot = seq & this.mask;
    const length = ring.lengths[slot]![0]!;
    into.bytes.set(ring.slots[slot]!);
    this.received = (seq + 1) | 0;
    Atomics.add(ring.control, TAIL, 1);
    if (
      !this.spin &&
      Atomics.load(ring.control, PRODUCER_WAITING) !== 0 &&
      Atomics.exchange(ring.control, PRODUCER_WAITING, 0) !== 0
    ) {
      this.wakeups++;
      libc.futexWake(ring.producerWaitingAddress, 1);
    }
    return length;
  }

  /**
   * Blocks until `control[word]` differs from `seen`, by spinning or by the eventcount. The clock
   * is read only once a wait has gone on for a while (after a batch of spins, or a futex wake-up
   * that brought nothing): a clock read on every wait would sit inside every round trip.
   */
  private await(ring: Ring, word: number, flag: number, flagAddress: number, seen: number, wait: PeerWait): void {
    const control = ring.control;
    wait.begin();
    if (this.spin) {
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
    for (;;) {
      Atomics.exchange(control, flag, 1);
      if (Atomics.load(control, word) !== seen) break;
      this.sleeps++;
      const woke = libc.futexWait(flagAddress, 1, this.timeout);
      if (woke === Errno.ETIMEDOUT) this.timeouts++;
      if (Atomics.load(control, word) !== seen) break;
      // One sleep of the whole peer timeout without progress; else a wake-up that brought nothing
      // (a late waker, EINTR), bounded by the clock.
      if (woke === Errno.ETIMEDOUT) wait.giveUp();
      wait.goOn();
    }
    Atomics.store(control, flag, 0);
  }

  details(): Record<string, number | string | boolean> {
    return this.spin
      ? { ringSlots: this.mask + 1, spinYields: this.yields }
      : { ringSlots: this.mask + 1, futexWakes: this.wakeups, futexWaits: this.sleeps, futexTimeouts: this.timeouts };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.mapping.unmap();
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
  locate: (ctx) => `/podbench-${ctx.runId}-${ctx.spec.index}`,
  open: (name, create) => check(libc.shmOpen(name, O.RDWR | (create ? O.CREAT | O.EXCL : 0), 0o600), 'shm_open', name),
  remove: (name) => libc.shmUnlink(name),
  room: (ctx) => ({ freeBytes: ctx.limits.devShmFreeBytes, place: '/dev/shm', raise: "raise the pod's /dev/shm size" }),
  details: () => ({}),
  journal: (ctx, name) => ctx.journal.record('shm', name),
  probe: () => ({ where: `/podbench-probe-${process.pid}`, note: 'POSIX shared memory opens in /dev/shm' }),
};

/** Free bytes on the filesystem of `dir`, or null when it cannot be read. */
function freeBytesIn(dir: string): number | null {
  try {
    const fs = statfsSync(dir);
    return fs.bavail * fs.bsize;
  } catch {
    return null;
  }
}

function fileIn(dirOf: (ctx: ChannelContext) => string, volume: string): RingBacking {
  return {
    locate: (ctx) => join(dirOf(ctx), `podbench-${ctx.spec.index}.ring`),
    open: (path, create) =>
      check(libc.open(path, O.RDWR | O.CLOEXEC | (create ? O.CREAT | O.EXCL : 0), 0o600), 'open', path),
    remove: (path) => libc.unlink(path),
    room: (ctx) => ({
      freeBytes: freeBytesIn(dirOf(ctx)),
      place: `the ${volume} volume`,
      raise: 'raise --volume-size',
    }),
    details: (ctx) => {
      const details: Record<string, string> = { fsType: filesystemType(dirOf(ctx)) };
      // As for tmpfs-file: a memory volume that is not tmpfs measures something else.
      if (volume === 'memory' && details.fsType !== 'tmpfs')
        details.warning = `the memory volume is ${details.fsType}, not tmpfs`;
      return details;
    },
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

/** Ring A carries initiator → responder, ring B responder → initiator. */
function endpointFor(
  mapping: Mapping,
  layout: Layout,
  ctx: ChannelContext,
  spin: boolean,
  role: 'initiator' | 'responder',
): Endpoint {
  const a = new Ring(mapping, 0, layout, ctx.spec.sizeBytes);
  const b = new Ring(mapping, layout.ringBytes, layout, ctx.spec.sizeBytes);
  return role === 'initiator'
    ? new RingEndpoint(mapping, a, b, layout.slots, spin, 'responder', ctx.peerTimeoutMs)
    : new RingEndpoint(mapping, b, a, layout.slots, spin, 'initiator', ctx.peerTimeoutMs);
}

function ringChannel(id: 'shm' | 'shm-spin' | 'mmap' | 'tmpfs-mmap', backing: RingBacking, spin: boolean): Channel {
  return {
    id,
    probe(scratchDir) {
      const { where, note } = backing.probe(scratchDir);
      openMapping(backing, where, layoutFor(64), true).unmap();
      backing.remove(where);
      return note;
    },
    feasibility(ctx): Feasibility {
      const layout = layoutFor(ctx.spec.sizeBytes);
      const { freeBytes, place, raise } = backing.room(ctx);
      if (freeBytes !== null && freeBytes < layout.totalBytes) {
        return { skip: `${place} has ${freeBytes} bytes free; the two rings need ${layout.totalBytes} (${raise})` };
      }
      return { details: { ringSlots: layout.slots, shmBytes: layout.totalBytes, ...backing.details(ctx) } };
    },
    host(ctx): Hosted {
      const layout = layoutFor(ctx.spec.sizeBytes);
      const where = backing.locate(ctx);
      backing.journal(ctx, where);
      const mapping = openMapping(backing, where, layout, true);
      let endpoint: Endpoint | undefined;
      let disposed = false;
      return {
        params: { name: where },
        accept: () => (endpoint = endpointFor(mapping, layout, ctx, spin, 'responder')),
        dispose() {
          if (disposed) return;
          disposed = true;
          if (endpoint) endpoint.close();
          else mapping.unmap();
          backing.remove(where);
        },
      };
    },
    join(ctx, params: JoinParams): Endpoint {
      const layout = layoutFor(ctx.spec.sizeBytes);
      const mapping = openMapping(backing, String(params.name), layout, false);
      return endpointFor(mapping, layout, ctx, spin, 'initiator');
    },
  };
}

/** The ring in POSIX shared memory, with futex sleeping. */
export const shmChannel = ringChannel('shm', posixShm, false);
/** The ring in POSIX shared memory, with busy-polling. */
export const shmSpinChannel = ringChannel('shm-spin', posixShm, true);
/** The ring in a file on the disk-backed shared volume, mapped by both (MAP_SHARED), futex sleeping. */
export const mmapChannel = ringChannel(
  'mmap',
  fileIn((ctx) => ctx.dirs.disk, 'disk'),
  false,
);
/** The same on the memory-backed shared volume. */
export const tmpfsMmapChannel = ringChannel(
  'tmpfs-mmap',
  fileIn((ctx) => ctx.dirs.tmpfs, 'memory'),
  false,
);
