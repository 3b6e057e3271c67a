/**
 * The clock of a wait for the peer that the kernel call cannot bound by itself (a futex sleep
 * woken early, a poll that returns for another event, a queue call interrupted by the interrupt
 * timer): the wait goes on, call after call, until the peer acts or the peer timeout has passed.
 * The clock is read only once a wait has to go on, never when the peer was already there: a clock
 * read in every call would sit inside every round trip.
 */
export class PeerWait {
  private startMs = 0;

  /** `expired` throws the channel's error for a silent peer; it is called once the time is up. */
  constructor(
    readonly timeoutMs: number,
    private readonly expired: () => never,
  ) {}

  /** Before a call that may wait: forgets the previous wait (a store, no clock read). */
  begin(): void {
    this.startMs = 0;
  }

  /** The wait has lasted the whole timeout (a kernel timeout said so): throws `expired()`. */
  giveUp(): never {
    return this.expired();
  }

  /**
   * The wait must go on: starts its clock the first time, and returns the milliseconds left
   * (the whole timeout the first time). Throws `expired()` once none is left.
   */
  goOn(): number {
    const nowMs = performance.now(); // monotonic: a wall-clock step must not fire or stretch the timeout
    if (this.startMs === 0) {
      this.startMs = nowMs;
      return this.timeoutMs;
    }
    const leftMs = this.timeoutMs - (nowMs - this.startMs);
    if (leftMs <= 0) this.expired();
    return leftMs;
  }
}
