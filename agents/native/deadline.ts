/**
 * Bounded waits for calls that take an absolute CLOCK_REALTIME deadline (mq_timedsend,
 * mq_timedreceive). The deadline is rewritten before every wait (one Date.now() and a few
 * 32-bit stores, no allocation), so each wait gets the full allowance.
 */
import { NativeTimespec } from './libc.js';

export class AbsoluteDeadline {
  /** The `struct timespec` to pass to the call (by its address). */
  readonly timespec = new NativeTimespec();

  constructor(private readonly allowanceMs: number) {}

  /** Sets the deadline to now + the allowance; call before each wait. */
  arm(): void {
    const deadlineMs = Date.now() + Math.round(this.allowanceMs);
    this.timespec.set(Math.floor(deadlineMs / 1000), (deadlineMs % 1000) * 1e6);
  }

  /** Releases the timespec's memory. */
  free(): void {
    this.timespec.free();
  }
}
