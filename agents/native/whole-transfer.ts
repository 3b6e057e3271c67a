/**
 * Moving a whole message through a file descriptor. A read, write, send or recv may move fewer
 * bytes than asked (a signal, a full pipe or socket buffer, a message larger than PIPE_BUF) or
 * fail with EINTR; the message is only complete when every byte has moved. The caller makes the
 * first call itself, so the common case of one complete call costs nothing more.
 */
import { Errno, lastErrno } from './libc.js';

/** One call that moves up to `length` bytes at `address` through `fd`; returns the count or -1. */
export type TransferStep = (fd: number, address: number, length: number) => number;

/**
 * Completes a transfer whose first call returned `first`: calls `step` for the rest until all
 * `length` bytes have moved, retrying after EINTR. Returns the bytes moved: `length`, or fewer
 * when a call returned 0 (end of file, or the peer closed). Any other failure calls `fail` with
 * its errno.
 */
export function completeTransfer(
  step: TransferStep,
  fd: number,
  address: number,
  length: number,
  first: number,
  fail: (errno: number) => never,
): number {
  let moved = 0;
  let result = first;
  for (;;) {
    if (result > 0) moved += result;
    else if (result === 0) return moved;
    else if (lastErrno() !== Errno.EINTR) fail(lastErrno());
    if (moved >= length) return moved;
    result = step(fd, address + moved, length - moved);
  }
}
