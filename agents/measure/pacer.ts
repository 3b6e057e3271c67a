/**
 * Rate mode's pacer: when each message should be sent, and the wait until then.
 *
 * Intended send times follow t_i = t_0 + i / rate (`uniform`), or a Poisson process of the same
 * mean (`poisson`: exponential gaps). They never depend on when a reply came, which is what keeps
 * a late reply from hiding the requests it held up (coordinated omission): the loop times every
 * round trip from its intended time, not from its send.
 *
 * Node's timers are millisecond timers and late by more, so the wait sleeps in Atomics.wait until
 * a little before the send time and spins on the clock for the rest, which is as precise as a
 * clock read. Atomics.wait is a futex wait with a timeout, which the kernel ends up to the thread's
 * timer slack late (50 µs by default) plus its wake-up: ~80 µs here, rarely 250 µs. The pacer
 * sets its thread's slack to 1 µs, which brings that to ~33 µs (p99 ~90 µs), and spins the last
 * {@link SPIN_MS}; where the slack cannot be set it spins {@link SPIN_DEFAULT_SLACK_MS}. The
 * wait's own CPU time (the sleep, the spin) is kept apart (see {@link Pacer.waitUntil}), so the
 * case's CPU per message leaves the pacer out.
 *
 * Nothing here allocates: it runs between the timed round trips of a case.
 */
import type { Arrival, OnLate } from '../contract/schema.js';
import { setTimerSlackNs, threadCpuMs } from '../native/libc.js';
import { now } from './clock.js';

/** How long before a send time the sleep ends and the spin begins (it covers the sleep's lateness). */
export const SPIN_MS = 0.2;
/** The same with the kernel's default timer slack (50 µs). */
export const SPIN_DEFAULT_SLACK_MS = 0.3;
/** The timer slack the pacer asks for its thread. */
const TIMER_SLACK_NS = 1000;

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** The pacing of one case: its schedule, what became of each slot, and what waiting cost. */
export class Pacer {
  /** Mean time between two intended sends. */
  readonly intervalMs: number;
  /** The intended send time of the next message. */
  nextMs: number;
  /** Slots whose intended time has come and gone in the schedule (sent or dropped). */
  intended = 0;
  /** Slots never sent: dropped as late, or still queued when the case ended. */
  dropped = 0;
  /** Messages sent more than one interval after their intended time. */
  late = 0;
  /** CPU time of the waits (sleeping and spinning), thread CPU clock. */
  cpuMs = 0;
  private readonly poisson: boolean;
  private readonly dropLate: boolean;
  /** How long before a send time the sleep ends. */
  readonly spinMs: number;

  constructor(
    ratePerSec: number,
    arrival: Arrival,
    onLate: OnLate,
    private readonly startMs: number,
  ) {
    this.intervalMs = 1000 / ratePerSec;
    this.poisson = arrival === 'poisson';
    this.dropLate = onLate === 'drop';
    this.spinMs = setTimerSlackNs(TIMER_SLACK_NS) ? SPIN_MS : SPIN_DEFAULT_SLACK_MS;
    this.nextMs = startMs;
  }

  /**
   * The intended send time of the next message at clock reading `t`, before `endMs` (the end of
   * the timed part, or of the chunk). Under `--on-late drop`, slots already more than one
   * interval past are dropped (counted) first; none at or after `endMs`, which are not the case's.
   */
  due(t: number, endMs: number): number {
    if (this.dropLate) {
      while (t - this.nextMs > this.intervalMs && this.nextMs < endMs) {
        this.dropped++;
        this.advance();
      }
    }
    return this.nextMs;
  }

  /** Takes the due slot (its message is being sent at `sentMs`) and schedules the next. */
  take(sentMs: number): void {
    if (sentMs - this.nextMs > this.intervalMs) this.late++;
    this.advance();
  }

  /**
   * Waits until the clock reaches `untilMs`; returns the clock reading then (at once when it has
   * passed). The sleep's CPU time is read from the thread's CPU clock around it; the spin's is its
   * length on the clock (a spinning thread is on a CPU throughout, unless preempted), so nothing
   * runs between the spin's end and the send.
   */
  waitUntil(untilMs: number): number {
    let t = now();
    if (t >= untilMs) return t;
    const sleepMs = untilMs - t - this.spinMs;
    if (sleepMs > 0) {
      const cpuStartMs = threadCpuMs();
      Atomics.wait(sleeper, 0, 0, sleepMs);
      this.cpuMs += threadCpuMs() - cpuStartMs;
    }
    const spinStart = now();
    while ((t = now()) < untilMs);
    this.cpuMs += t - spinStart;
    return t;
  }

  /** At the end of the timed part (`endMs`): the slots still due before it were never sent. */
  finish(endMs: number): void {
    while (this.nextMs < endMs) {
      this.dropped++;
      this.advance();
    }
  }

  private advance(): void {
    this.intended++;
    // Uniform times are computed from the start, not summed: a sum of 0.1 ms steps drifts.
    // 1 − random() is in (0, 1]: the logarithm is finite.
    this.nextMs = this.poisson
      ? this.nextMs - Math.log(1 - Math.random()) * this.intervalMs
      : this.startMs + this.intended * this.intervalMs;
  }
}
