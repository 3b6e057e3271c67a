/**
 * `tail` and `tmpfs-tail`: one growing log file per direction in the shared volume, the way an
 * application and a log shipper share one (`tail -F`, Fluent Bit, Filebeat). The writer appends
 * each message with one write(2) on an O_APPEND descriptor; the reader follows the file: it
 * reads from where it stopped, and at the end of the file sleeps until inotify reports
 * IN_MODIFY. Messages are fixed-size records, and the reader returns only whole ones: a write
 * larger than a page can be seen half done, so a short read keeps its bytes and waits for the
 * rest of the record.
 *
 * Like a shipper's registry (Filebeat) or database (Fluent Bit), the reader records how far it
 * has read in a small position file beside the log, every half window of records. The writer
 * reads that position only when it is a whole window ahead, and then waits (IN_MODIFY on the
 * position file) for the reader to catch up: without it a writer could fill the volume faster
 * than the reader reads. When it records its position the reader also frees what it has read
 * (fallocate PUNCH_HOLE), so the volume holds about a window per direction, however long the
 * case. Rotation is out of scope: each case starts with empty files.
 */
import { join } from 'node:path';
import * as libc from '../native/libc.js';
import { Errno, NativeError, O, check } from '../native/libc.js';
import { freeBytesIn, volumeFacts } from '../kernel-limits.js';
import { TAIL_WINDOW_MIN_RECORDS } from '../contract/channels.js';
import { allocMessage, type MessageBuffer } from '../measure/message.js';
import { PeerWait } from '../native/peer-wait.js';
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

/** The bytes a window aims for when messages are small: 256 KiB of log per direction. */
const WINDOW_TARGET_BYTES = 256 * 1024;
const PAGE_BYTES = 4096;
const FALLOC_FL_KEEP_SIZE = 0x01;
const FALLOC_FL_PUNCH_HOLE = 0x02;
const POSITION_BYTES = 8;

/** Records the writer may be ahead of the reader: a window of about 256 KiB, at least a few records. */
function windowRecords(sizeBytes: number): number {
  return Math.max(TAIL_WINDOW_MIN_RECORDS, Math.floor(WINDOW_TARGET_BYTES / sizeBytes));
}

/** The files of one direction. */
interface DirectionFiles {
  readonly log: string;
  readonly position: string;
}

function filesOf(dir: string, instance: string): { toResponder: DirectionFiles; toInitiator: DirectionFiles } {
  const base = join(dir, `podbench-${instance}`);
  return {
    toResponder: { log: `${base}.i2r.log`, position: `${base}.i2r.pos` },
    toInitiator: { log: `${base}.r2i.log`, position: `${base}.r2i.pos` },
  };
}

const openFile = (path: string, flags: number): number =>
  check(libc.open(path, flags | O.CLOEXEC, 0o600), 'open', path);

class TailEndpoint implements BlockingEndpoint {
  readonly blocking = true;
  /** Appends to the outgoing log; reads the reader's position of it. */
  private readonly logOut: number;
  private readonly positionOut: number;
  /** Follows the incoming log (read-write only to punch holes); records the position in it. */
  private readonly logIn: number;
  private readonly positionIn: number;
  private readonly watch: FileWatch;
  /** The 8-byte position (records read, little-endian) as written and as read. */
  private readonly positionToWrite: MessageBuffer;
  private readonly positionWritten: DataView;
  private readonly positionRead: MessageBuffer;
  private readonly positionReadView: DataView;
  private readonly window: number;
  private readonly recordEvery: number;
  private readonly roomWait: PeerWait;
  private readonly messageWait: PeerWait;
  private written = 0;
  /** Records the peer has read of ours, as last seen in its position file. */
  private readByPeer = 0;
  private read = 0;
  private freedUpTo = 0;
  private punching = true;
  private partialReads = 0;
  private closed = false;

  constructor(
    outgoing: DirectionFiles,
    incoming: DirectionFiles,
    private readonly sizeBytes: number,
    private readonly fsType: string,
    peer: string,
    peerTimeoutMs: number,
  ) {
    const expired = (peerAction: string) => (): never => {
      throw new PeerError(`the ${peer} did not ${peerAction} the log within ${peerTimeoutMs} ms`);
    };
    this.roomWait = new PeerWait(peerTimeoutMs, expired('read'));
    this.messageWait = new PeerWait(peerTimeoutMs, expired('append to'));
    this.window = windowRecords(sizeBytes);
    this.recordEvery = Math.max(1, Math.floor(this.window / 2));
    this.positionToWrite = allocMessage(POSITION_BYTES);
    this.positionWritten = this.positionToWrite.view;
    this.positionRead = allocMessage(POSITION_BYTES);
    this.positionReadView = this.positionRead.view;
    const opened: number[] = [];
    try {
      opened.push((this.logOut = openFile(outgoing.log, O.WRONLY | O.APPEND)));
      opened.push((this.positionOut = openFile(outgoing.position, O.RDONLY)));
      opened.push((this.logIn = openFile(incoming.log, O.RDWR)));
      opened.push((this.positionIn = openFile(incoming.position, O.RDWR)));
      this.watch = new FileWatch([
        [incoming.log, IN.MODIFY],
        [outgoing.position, IN.MODIFY],
      ]);
    } catch (err) {
      for (const fd of opened) libc.close(fd);
      throw err;
    }
  }

  send(message: MessageBuffer): void {
    if (this.written - this.readByPeer >= this.window) this.waitForRoom();
    const length = message.bytes.length;
    const n = libc.writeFrom(this.logOut, message.address, length);
    if (n !== length) this.finishWrite(message, n);
    this.written++;
  }

  /** A short or failed append: O_APPEND writes the rest at the end, after the part written. */
  private finishWrite(message: MessageBuffer, first: number): void {
    const length = message.bytes.length;
    let moved = 0;
    for (let n = first; ; n = libc.writeFrom(this.logOut, message.address + moved, length - moved)) {
      if (n > 0) moved += n;
      else if (n === 0 || libc.lastErrno() !== Errno.EINTR)
        throw new NativeError('write', n === 0 ? Errno.ENOSPC : libc.lastErrno(), 'the log');
      if (moved === length) return;
    }
  }

  /** Waits until the reader's recorded position leaves room for another record. */
  private waitForRoom(): void {
    this.roomWait.begin();
    for (;;) {
      const n = libc.preadInto(this.positionOut, this.positionRead.address, POSITION_BYTES, 0);
      if (n === POSITION_BYTES) {
        const view = this.positionReadView;
        this.readByPeer = view.getUint32(0, true) + view.getUint32(4, true) * 0x100000000;
      }
      if (this.written - this.readByPeer < this.window) return;
      this.watch.sleep(this.roomWait);
    }
  }

  receive(into: MessageBuffer): number {
    const length = into.bytes.length;
    let have = libc.readInto(this.logIn, into.address, length);
    if (have !== length) have = this.finishRead(into, have);
    this.read++;
    if (this.read % this.recordEvery === 0) this.recordPosition();
    return have;
  }

  /** The end of the file before a whole record: keep what was read, wait for the writer to append the rest. */
  private finishRead(into: MessageBuffer, first: number): number {
    const length = into.bytes.length;
    let have = 0;
    let partial = false;
    this.messageWait.begin();
    for (let n = first; ; n = libc.readInto(this.logIn, into.address + have, length - have)) {
      if (n > 0) {
        have += n;
        if (have === length) return have;
        if (!partial) this.partialReads++; // once per record, however many pieces it came in
        partial = true;
      } else if (n === 0) this.watch.sleep(this.messageWait);
      else if (libc.lastErrno() !== Errno.EINTR) throw new NativeError('read', libc.lastErrno(), 'the log');
    }
  }

  /** Publishes how many records have been read, and frees the log's pages before that point. */
  private recordPosition(): void {
    const view = this.positionWritten;
    view.setUint32(0, this.read % 0x100000000, true);
    view.setUint32(4, Math.floor(this.read / 0x100000000), true);
    check(libc.pwriteFrom(this.positionIn, this.positionToWrite.address, POSITION_BYTES, 0), 'pwrite', 'position');
    if (!this.punching) return;
    const upTo = Math.floor((this.read * this.sizeBytes) / PAGE_BYTES) * PAGE_BYTES;
    if (upTo <= this.freedUpTo) return;
    if (libc.fallocate(this.logIn, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, this.freedUpTo, upTo - this.freedUpTo))
      this.punching = false; // EOPNOTSUPP: the filesystem keeps the whole case's log (recorded)
    else this.freedUpTo = upTo;
  }

  details(): Record<string, number | string | boolean> {
    return {
      fsType: this.fsType,
      windowRecords: this.window,
      inotifyWaits: this.watch.sleeps,
      partialReads: this.partialReads,
      holePunching: this.punching,
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fd of [this.logOut, this.positionOut, this.logIn, this.positionIn]) libc.close(fd);
    this.watch.close();
  }
}

function tailChannel(id: 'tail' | 'tmpfs-tail', dirOf: (ctx: ChannelContext) => string): Channel {
  const volume = id === 'tail' ? 'disk' : 'memory';
  const endpoint = (ctx: ChannelContext, role: 'initiator' | 'responder'): Endpoint => {
    const { toResponder, toInitiator } = filesOf(dirOf(ctx), ctx.instance);
    const fsType = volumeFacts(dirOf(ctx), volume).fsType;
    return role === 'initiator'
      ? new TailEndpoint(toResponder, toInitiator, ctx.spec.sizeBytes, fsType, 'responder', ctx.peerTimeoutMs)
      : new TailEndpoint(toInitiator, toResponder, ctx.spec.sizeBytes, fsType, 'initiator', ctx.peerTimeoutMs);
  };
  return {
    id,
    probe(scratchDir) {
      const path = join(scratchDir, 'probe.log');
      const fd = openFile(path, O.RDWR | O.CREAT | O.APPEND);
      try {
        new FileWatch([[path, IN.MODIFY]]).close();
      } finally {
        libc.close(fd);
        libc.unlink(path);
      }
      const fs =
        volume === 'memory'
          ? `/dev/shm is ${volumeFacts('/dev/shm', volume).fsType}`
          : volumeFacts(scratchDir, volume).fsType;
      return `inotify follows an appended file (${fs})`;
    },
    feasibility(ctx): Feasibility {
      const facts = volumeFacts(dirOf(ctx), volume);
      const neededBytes = 2 * (windowRecords(ctx.spec.sizeBytes) * ctx.spec.sizeBytes + PAGE_BYTES);
      const free = freeBytesIn(dirOf(ctx));
      if (free !== null && free < neededBytes)
        return {
          skip: `the ${volume} volume has ${free} bytes free; the two logs need ${neededBytes} (raise --volume-size)`,
        };
      return { details: { ...facts, windowRecords: windowRecords(ctx.spec.sizeBytes) } };
    },
    host(ctx): Hosted {
      const { toResponder, toInitiator } = filesOf(dirOf(ctx), ctx.instance);
      const paths = [toResponder.log, toResponder.position, toInitiator.log, toInitiator.position];
      // Every case starts with empty files, made before the initiator joins so both can open them.
      for (const path of paths) libc.close(openFile(path, O.WRONLY | O.CREAT | O.TRUNC));
      let accepted: Endpoint | undefined;
      let disposed = false;
      return {
        params: {},
        accept: () => (accepted = endpoint(ctx, 'responder')),
        dispose() {
          if (disposed) return;
          disposed = true;
          accepted?.close();
          for (const path of paths) libc.unlink(path);
        },
      };
    },
    join: (ctx, _params: JoinParams) => endpoint(ctx, 'initiator'),
  };
}

/** A log file per direction on the disk-backed shared volume, followed with inotify. */
export const diskTailChannel = tailChannel('tail', (ctx) => ctx.dirs.disk);
/** The same on the memory-backed shared volume. */
export const tmpfsTailChannel = tailChannel('tmpfs-tail', (ctx) => ctx.dirs.tmpfs);
