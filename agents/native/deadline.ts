/**
 * Bounded waits for calls that take an absolute CLOCK_REALTIME deadline (mq_timedsend,
 * mq_timedreceive). The timespec is refreshed only when half of the allowance has passed, so
 * the timed loop pays one Date.now() per call and allocates nothing.
 */
export class AbsoluteDeadline {
  /** The `struct timespec` to pass to the call. */
  readonly timespec = new BigInt64Array(2);
  private readonly view = new DataView(this.timespec.buffer);
  private refreshAtMs = 0;

  constructor(private readonly allowanceMs: number) {}

  /** Makes sure the deadline lies at least half the allowance ahead; call before each wait. */
  arm(): void {
    const nowMs = Date.now();
    if (nowMs < this.refreshAtMs) return;
    const deadlineMs = nowMs + this.allowanceMs;
    const sec = Math.floor(deadlineMs / 1000);
    // Written as two 32-bit halves: a BigInt store would allocate.
    this.view.setUint32(0, sec % 0x100000000, true);
    this.view.setUint32(4, Math.floor(sec / 0x100000000), true);
    this.view.setUint32(8, (deadlineMs % 1000) * 1e6, true);
    this.view.setUint32(12, 0, true);
    this.refreshAtMs = nowMs + this.allowanceMs / 2;
  }
}
