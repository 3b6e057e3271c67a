/**
 * `fifo`: two named pipes in the shared volume, one each way, carrying fixed-size messages as a
 * byte stream (as `tcp` and `uds` do).
 *
 * The descriptors are non-blocking, and a call that would block waits in poll(), bounded by the
 * peer timeout: a pipe has no SO_RCVTIMEO, and a blocking read cannot be interrupted here (Node's
 * signal handlers restart it). That is also how an event loop (libuv, Go's netpoller) reads a
 * pipe; the C reference does the same calls.
 *
 * Opening cannot deadlock, whichever side comes first: each side opens its read end first
 * (O_NONBLOCK: at once, without a writer), then its write end, which fails with ENXIO until the
 * peer's read end is open and is retried until then. A read before the peer has opened its write
 * end returns 0 (no writer yet) and waits in poll(), which reports a hang-up only once a writer
 * has come and gone: then the peer has closed.
 *
 * Each pipe is raised (F_SETPIPE_SZ) to hold two whole messages, or at least one, where
 * fs.pipe-max-size allows, so a message up to that size needs one write; a larger one, or one on
 * a pipe that could not be raised, moves in several writes and reads, each message still whole
 * before the next.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as libc from '../native/libc.js';
import { Errno, NativeError, O, check } from '../native/libc.js';
import type { MessageBuffer } from '../measure/message.js';
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

const F_SETPIPE_SZ = 1031;
const F_GETPIPE_SZ = 1032;
const POLLIN = 1;
const POLLOUT = 4;
/** Between tries to open a write end while the peer has not opened its read end yet. */
const OPEN_RETRY_MS = 1;
/** What Linux gives a new pipe. */
const DEFAULT_PIPE_BYTES = 65_536;

type Transfer = (fd: number, address: number, length: number) => number;

/** The smallest pipe capacity that holds `bytes`: the kernel rounds up to a power of two pages. */
function pipeBytesFor(bytes: number): number {
  let capacity = DEFAULT_PIPE_BYTES;
  while (capacity < bytes) capacity *= 2;
  return capacity;
}

/**
 * Raises the pipe behind `fd` to hold two messages of `sizeBytes` (one being read while the next
 * is written), else one, where the kernel lets this process (EPERM above fs.pipe-max-size
 * without CAP_SYS_RESOURCE, or above the user's pipe pages); returns its capacity.
 */
function raisePipe(fd: number, sizeBytes: number): number {
  const current = check(libc.fcntl(fd, F_GETPIPE_SZ, 0), 'fcntl(F_GETPIPE_SZ)');
  for (const wanted of [pipeBytesFor(2 * sizeBytes), pipeBytesFor(sizeBytes)]) {
    if (current >= wanted) return current;
    const raised = libc.fcntl(fd, F_SETPIPE_SZ, wanted);
    if (raised > 0) return raised;
  }
  return current;
}

class PipeEndpoint implements BlockingEndpoint {
  readonly blocking = true;
  private readonly pollfd = new Int32Array(2);
  private pollWaits = 0;
  private slowPaths = 0;
  private closed = false;

  constructor(
    private readonly readFd: number,
    private readonly writeFd: number,
    private readonly pipeBytes: { readonly out: number; readonly in: number },
    private readonly peer: string,
    private readonly timeoutMs: number,
  ) {}

  send(message: MessageBuffer): void {
    const length = message.bytes.length;
    const first = libc.writeFrom(this.writeFd, message.address, length);
    if (first !== length) this.finish(libc.writeFrom, this.writeFd, POLLOUT, message.address, length, first);
  }

  receive(into: MessageBuffer): number {
    const length = into.bytes.length;
    const first = libc.readInto(this.readFd, into.address, length);
    if (first !== length) this.finish(libc.readInto, this.readFd, POLLIN, into.address, length, first);
    return length;
  }

  /**
   * The slow path after a first call that returned `first`: part of the message (a message
   * larger than the pipe, or a reader that took what was there), nothing (EAGAIN, or a read of 0
   * while no writer is open: wait in poll), or a failure. Moves the rest; a message is whole
   * before the next one starts.
   */
  private finish(call: Transfer, fd: number, events: number, address: number, length: number, first: number): void {
    this.slowPaths++;
    let moved = 0;
    for (let result = first; ; result = call(fd, address + moved, length - moved)) {
      if (result > 0) {
        moved += result;
        if (moved === length) return;
      } else if (result === 0) {
        if (events === POLLIN) this.wait(fd, events);
      } else {
        const errno = libc.lastErrno();
        if (errno === Errno.EAGAIN) this.wait(fd, events);
        else if (errno === Errno.EPIPE) throw new PeerError(`the ${this.peer} closed its end of the pipe`);
        else if (errno !== Errno.EINTR) throw new NativeError(events === POLLIN ? 'read' : 'write', errno);
      }
    }
  }

  private wait(fd: number, events: number): void {
    this.pollWaits++;
    this.pollfd[0] = fd;
    this.pollfd[1] = events;
    const ready = libc.poll(this.pollfd, 1, this.timeoutMs);
    if (ready === 0)
      throw new PeerError(
        `the ${this.peer} did not ${events === POLLIN ? 'send' : 'read'} within ${this.timeoutMs} ms (named pipe)`,
      );
    if (ready < 0 && libc.lastErrno() !== Errno.EINTR) throw new NativeError('poll', libc.lastErrno());
    const revents = this.pollfd[1]! >>> 16; // struct pollfd: int fd; short events; short revents
    // A hang-up with nothing left to read: a writer came and went.
    if (events === POLLIN && revents !== 0 && (revents & POLLIN) === 0)
      throw new PeerError(`the ${this.peer} closed its end of the pipe`);
  }

  details(): Record<string, number | string | boolean> {
    return {
      pipeBytesOut: this.pipeBytes.out,
      pipeBytesIn: this.pipeBytes.in,
      pollWaits: this.pollWaits,
      slowPaths: this.slowPaths,
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    libc.close(this.readFd);
    libc.close(this.writeFd);
  }
}

/** The two pipes of a case: initiator → responder and back. */
function pipePaths(ctx: ChannelContext): { toResponder: string; toInitiator: string } {
  const base = join(ctx.dirs.disk, `podbench-${ctx.instance}`);
  return { toResponder: `${base}.i2r.fifo`, toInitiator: `${base}.r2i.fifo` };
}

/** Opens the write end of `path` once the peer has its read end open (ENXIO until then), bounded. */
async function openWriteEnd(path: string, peer: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const fd = libc.open(path, O.WRONLY | O.NONBLOCK | O.CLOEXEC, 0);
    if (fd >= 0) return fd;
    if (libc.lastErrno() !== Errno.ENXIO) throw new NativeError('open', libc.lastErrno(), path);
    if (Date.now() > deadline)
      throw new PeerError(`the ${peer} did not open the named pipe ${path} within ${timeoutMs} ms`);
    await sleep(OPEN_RETRY_MS);
  }
}

/** Opens this side's two ends, read end first (see the module comment), and makes its endpoint. */
async function openSide(readPath: string, writePath: string, ctx: ChannelContext, peer: string): Promise<Endpoint> {
  const readFd = check(libc.open(readPath, O.RDONLY | O.NONBLOCK | O.CLOEXEC, 0), 'open', readPath);
  let writeFd = -1;
  try {
    writeFd = await openWriteEnd(writePath, peer, ctx.peerTimeoutMs);
    const size = ctx.spec.sizeBytes;
    const pipeBytes = { out: raisePipe(writeFd, size), in: raisePipe(readFd, size) };
    return new PipeEndpoint(readFd, writeFd, pipeBytes, peer, ctx.peerTimeoutMs);
  } catch (err) {
    libc.close(readFd);
    if (writeFd >= 0) libc.close(writeFd);
    throw err;
  }
}

function feasibility(ctx: ChannelContext): Feasibility {
  const max = ctx.limits.pipeMaxSizeBytes;
  const wanted = pipeBytesFor(ctx.spec.sizeBytes);
  // Not a skip: a message larger than the pipe moves in pieces. Recorded, so a reader sees why.
  return {
    details: {
      pipeBytesWanted: wanted,
      ...(max !== null && wanted > max
        ? { pipeNote: `fs.pipe-max-size ${max} < ${wanted}: the message moves in pieces` }
        : {}),
    },
  };
}

function host(ctx: ChannelContext): Hosted {
  const paths = pipePaths(ctx);
  for (const path of [paths.toResponder, paths.toInitiator]) {
    if (existsSync(path)) libc.unlink(path); // a stale pipe from an earlier case
    check(libc.mkfifo(path, 0o600), 'mkfifo', path);
  }
  let disposed = false;
  let endpoint: Endpoint | undefined;
  return {
    params: { toResponder: paths.toResponder, toInitiator: paths.toInitiator },
    async accept() {
      endpoint = await openSide(paths.toResponder, paths.toInitiator, ctx, 'initiator');
      return endpoint;
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      endpoint?.close();
      libc.unlink(paths.toResponder);
      libc.unlink(paths.toInitiator);
    },
  };
}

/** Two named pipes in the shared volume, one each way. */
export const fifoChannel: Channel = {
  id: 'fifo',
  probe(scratchDir) {
    const path = join(scratchDir, 'probe.fifo');
    check(libc.mkfifo(path, 0o600), 'mkfifo', path);
    const fd = check(libc.open(path, O.RDONLY | O.NONBLOCK | O.CLOEXEC, 0), 'open', path);
    const bytes = libc.fcntl(fd, F_GETPIPE_SZ, 0);
    libc.close(fd);
    libc.unlink(path);
    return `named pipes open in the temp directory (capacity ${bytes} bytes)`;
  },
  feasibility,
  host,
  join: (ctx, params: JoinParams) => openSide(String(params.toInitiator), String(params.toResponder), ctx, 'responder'),
};
