/**
 * Waiting for files to change, for the channels that hand messages over through a filesystem
 * (`file`, `tail`): one inotify descriptor watching a few paths, a bounded sleep in poll() until
 * an event comes, and the events drained so the next sleep waits for a new one. A caller looks
 * at the files first and sleeps only when it found nothing: an event raised between its look
 * and its sleep is already queued, so no change is missed.
 */
import * as libc from './libc.js';
import { Errno, NativeError, check } from './libc.js';
import type { PeerWait } from './peer-wait.js';

const IN_NONBLOCK = 0o4000;
const IN_CLOEXEC = 0o2000000;
const POLLIN = 1;

/** inotify event masks the channels watch for. */
export const IN = { MODIFY: 0x2, MOVED_TO: 0x80, DELETE: 0x200 } as const;

export class FileWatch {
  private readonly fd: number;
  private readonly pollfd: Int32Array;
  private readonly drain = Buffer.alloc(4096);
  /** Sleeps so far (a case's `inotifyWaits`). */
  sleeps = 0;

  /** Watches each path for its mask (a directory or a file). */
  constructor(watches: readonly (readonly [path: string, mask: number])[]) {
    this.fd = check(libc.inotifyInit1(IN_NONBLOCK | IN_CLOEXEC), 'inotify_init1');
    try {
      for (const [path, mask] of watches) check(libc.inotifyAddWatch(this.fd, path, mask), 'inotify_add_watch', path);
    } catch (err) {
      libc.close(this.fd);
      throw err;
    }
    this.pollfd = new Int32Array([this.fd, POLLIN]);
  }

  /** Sleeps until a watched path changes, within what is left of `wait`'s peer timeout. */
  sleep(wait: PeerWait): void {
    const leftMs = wait.goOn();
    this.sleeps++;
    const ready = libc.poll(this.pollfd, 1, leftMs);
    // A signal (EINTR) only wakes the wait early: the caller looks again, within the same timeout.
    if (ready < 0 && libc.lastErrno() !== Errno.EINTR) throw new NativeError('poll', libc.lastErrno());
    if (ready > 0) while (libc.read(this.fd, this.drain, this.drain.length) > 0);
  }

  close(): void {
    libc.close(this.fd);
  }
}
