/**
 * Bounded waits for calls that take an absolute CLOCK_REALTIME deadline (mq_timedsend,
 * mq_timedreceive). The deadline is rewritten before every wait (one Date.now() and a few
 * 32-bit stores, no allocation), so each wait gets the full allowance.
 */
export class AbsoluteDeadline {
  /** The `struct timespec` to pass to the call. */
  readonly timespec = new BigInt64Array(2);
  private readonly view = new DataView(this.timespec.buffer);

  constructor(private readonly allowanceMs: number) {}

  /** Sets the deadline to now + the allowance; call before each wait. */
  arm(): void {
    const deadlineMs = Date.now() + Math.round(this.allowanceMs);
    const sec = Math.floor(deadlineMs / 1000);
    // Written as two 32-bit halves: a BigInt store would allocate.
    this.view.setUint32(0, sec % 0x100000000, true);
    this.view.setUint32(4, Math.floor(sec / 0x100000000), true);
    this.view.setUint32(8, (deadlineMs % 1000) * 1e6, true);
    this.view.setUint32(12, 0, true);
  }
}
