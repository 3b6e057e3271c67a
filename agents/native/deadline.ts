/**
 * Bounded waits for calls that take an absolute CLOCK_REALTIME deadline (mq_timedsend,
 * mq_timedreceive). Arming the deadline costs a clock read (~60 ns from JavaScript here), so it
 * is re-armed every {@link REARM_EVERY} calls rather than before each: a call may then start with
 * a little less than the full allowance, and a timeout on a deadline armed before that call is
 * retried once with a fresh one. A case therefore fails only after a wait of the whole allowance.
 */
import { NativeTimespec } from './libc.js';

/** Calls between re-arms: a few hundred microseconds of calls, against seconds of allowance. */
export const REARM_EVERY = 64;

export class AbsoluteDeadline {
  /** The `struct timespec` to pass to the call (by its address). */
  readonly timespec = new NativeTimespec();
  private callsSinceArm = 0;

  constructor(private readonly allowanceMs: number) {
    this.arm();
  }

  /** Sets the deadline to now + the allowance. */
  arm(): void {
    const deadlineMs = Date.now() + Math.round(this.allowanceMs);
    this.timespec.set(Math.floor(deadlineMs / 1000), (deadlineMs % 1000) * 1e6);
    this.callsSinceArm = 0;
  }

  /** Call before each wait: re-arms when the deadline has served {@link REARM_EVERY} calls. */
  beforeCall(): void {
    if (++this.callsSinceArm >= REARM_EVERY) this.arm();
  }

  /**
   * Call after a wait timed out. True when the deadline predates this call (it may have been
   * short): it is re-armed and the caller waits again. False when the call waited the whole
   * allowance: the peer really is silent.
   */
  retryAfterTimeout(): boolean {
    if (this.callsSinceArm === 0) return false;
    this.arm();
    return true;
  }

  /** Releases the timespec's memory. */
  free(): void {
    this.timespec.free();
  }
}
