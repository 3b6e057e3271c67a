/**
 * `file` and `tmpfs-file`: messages handed over as files in the shared volume, the way a log
 * shipper or a spooling sidecar would. Each direction has a directory of {@link WINDOW} message
 * names, used in turn, and a staging directory on the same filesystem.
 *
 * How the reader knows a message is complete: the writer writes the whole message to a staging
 * file, closes it and then rename()s it to its final name. rename is atomic within a filesystem,
 * so a final name only ever shows a complete message. The reader learns of it through inotify
 * (IN_MOVED_TO), reads it and unlinks it; the writer reuses a name only after that unlink
 * (IN_DELETE), which bounds the messages in flight to the window. Nothing is fsync()ed: the
 * hand-over goes through the page cache, as a sidecar's would.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as libc from '../native/libc.js';
import { Errno, NativeError, O, check } from '../native/libc.js';
import { FILE_WINDOW } from '../contract/channels.js';
import { filesystemType, volumeFacts } from '../kernel-limits.js';
import type { MessageBuffer } from '../measure/message.js';
import { PeerWait } from '../native/peer-wait.js';
import { completeTransfer } from '../native/whole-transfer.js';
import { FileWatch, IN } from '../native/file-watch.js';
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

/** Messages a writer may have in flight per direction. */
const WINDOW = FILE_WINDOW;
const F_OK = 0;

const writeFailed = (errno: number): never => {
  throw new NativeError('write', errno);
};
const readFailed = (errno: number): never => {
  throw new NativeError('read', errno);
};

/** Null-terminated path, made once so the loop passes bytes rather than building strings. */
const cPath = (path: string): Buffer => Buffer.from(`${path}\0`);

class Direction {
  readonly finals: Buffer[] = [];
  readonly staging: Buffer[] = [];
  constructor(
    readonly dir: string,
    stagingDir: string,
  ) {
    for (let i = 0; i < WINDOW; i++) {
      this.finals.push(cPath(join(dir, `m${i}`)));
      this.staging.push(cPath(join(stagingDir, `m${i}`)));
    }
  }
}

class FileEndpoint implements BlockingEndpoint {
  readonly blocking = true;
  private readonly watch: FileWatch;
  /** The waits for a free name (the peer must read) and for a message (the peer must send). */
  private readonly nameWait: PeerWait;
  private readonly messageWait: PeerWait;
  private sent = 0;
  private received = 0;
  private closed = false;

  constructor(
    private readonly outgoing: Direction,
    private readonly incoming: Direction,
    private readonly fsType: string,
    peer: string,
    peerTimeoutMs: number,
  ) {
    const expired = (peerAction: string) => (): never => {
      throw new PeerError(`the ${peer} did not ${peerAction} a message file within ${peerTimeoutMs} ms`);
    };
    this.nameWait = new PeerWait(peerTimeoutMs, expired('read'));
    this.messageWait = new PeerWait(peerTimeoutMs, expired('send'));
    this.watch = new FileWatch([
      [incoming.dir, IN.MOVED_TO],
      [outgoing.dir, IN.DELETE],
    ]);
  }

  send(message: MessageBuffer): void {
    const slot = this.sent % WINDOW;
    const final = this.outgoing.finals[slot]!;
    // The name is free once the reader has unlinked the message that last used it.
    this.nameWait.begin();
    while (libc.access(final, F_OK) === 0) this.watch.sleep(this.nameWait);
    const staging = this.outgoing.staging[slot]!;
    const fd = check(libc.open(staging, O.WRONLY | O.CREAT | O.TRUNC | O.CLOEXEC, 0o600), 'open');
    const length = message.bytes.length;
    try {
      const written = libc.writeFrom(fd, message.address, length);
      if (
        written !== length &&
        completeTransfer(libc.writeFrom, fd, message.address, length, written, writeFailed) !== length
      )
        writeFailed(Errno.ENOSPC);
    } finally {
      libc.close(fd);
    }
    check(libc.rename(staging, final), 'rename');
    this.sent++;
  }

  receive(into: MessageBuffer): number {
    const final = this.incoming.finals[this.received % WINDOW]!;
    this.messageWait.begin();
    let fd: number;
    while ((fd = libc.open(final, O.RDONLY | O.CLOEXEC, 0)) < 0) {
      if (libc.lastErrno() !== Errno.ENOENT) throw new NativeError('open', libc.lastErrno());
      this.watch.sleep(this.messageWait);
    }
    const capacity = into.bytes.length;
    let n: number;
    try {
      n = libc.readInto(fd, into.address, capacity);
      // Read to the end of the file: a short message is the verifier's to report, not lost here.
      if (n !== capacity) n = completeTransfer(libc.readInto, fd, into.address, capacity, n, readFailed);
    } finally {
      libc.close(fd);
    }
    check(libc.unlink(final), 'unlink');
    this.received++;
    return n;
  }

  details(): Record<string, number | string | boolean> {
    return { fsType: this.fsType, window: WINDOW, inotifyWaits: this.watch.sleeps };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watch.close();
  }
}

function fileHandoverChannel(id: 'file' | 'tmpfs-file', dirOf: (ctx: ChannelContext) => string): Channel {
  const layout = (ctx: ChannelContext) => {
    const root = join(dirOf(ctx), `podbench-${ctx.instance}`);
    const a = new Direction(join(root, 'a'), join(root, 'a-staging'));
    const b = new Direction(join(root, 'b'), join(root, 'b-staging'));
    return { root, a, b, fsType: filesystemType(dirOf(ctx)) };
  };
  return {
    id,
    probe(scratchDir) {
      if (id === 'file') return `temp directory is ${filesystemType(scratchDir)}`;
      const fs = filesystemType('/dev/shm');
      return fs === 'tmpfs' ? '/dev/shm is tmpfs' : `/dev/shm is ${fs}, not tmpfs: the local target measures disk`;
    },
    feasibility: (ctx): Feasibility => ({ details: volumeFacts(dirOf(ctx), id === 'file' ? 'disk' : 'memory') }),
    host(ctx): Hosted {
      const { root, a, b, fsType } = layout(ctx);
      for (const sub of ['a', 'a-staging', 'b', 'b-staging']) mkdirSync(join(root, sub), { recursive: true });
      let endpoint: Endpoint | undefined;
      return {
        params: { root },
        accept: () => (endpoint = new FileEndpoint(b, a, fsType, 'initiator', ctx.peerTimeoutMs)),
        dispose() {
          endpoint?.close();
          rmSync(root, { recursive: true, force: true });
        },
      };
    },
    join(ctx, _params: JoinParams): Endpoint {
      const { a, b, fsType } = layout(ctx);
      return new FileEndpoint(a, b, fsType, 'responder', ctx.peerTimeoutMs);
    },
  };
}

/** Files on the disk-backed shared volume. */
export const fileChannel = fileHandoverChannel('file', (ctx) => ctx.dirs.disk);
/** Files on the memory-backed shared volume. */
export const tmpfsFileChannel = fileHandoverChannel('tmpfs-file', (ctx) => ctx.dirs.tmpfs);
