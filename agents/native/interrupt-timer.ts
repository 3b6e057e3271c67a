/**
 * Interrupts blocking calls that have no timeout of their own (System V msgsnd/msgrcv) so the
 * caller can give up when the peer is gone. A POSIX timer sends SIGALRM to this thread only
 * (SIGEV_THREAD_ID): delivered to any other thread, it would not interrupt the call. System V
 * calls are never restarted after a signal handler, so they return EINTR and the caller checks
 * its deadline.
 */
import { check, gettid, timerCreate, timerDelete, timerSettime } from './libc.js';

const SIGALRM = 14;
const SIGEV_THREAD_ID = 4;
const CLOCK_MONOTONIC = 1;
const ignore = (): void => {};

/** Starts sending SIGALRM to the calling thread every `intervalMs`; returns the stop function. */
export function startInterruptTimer(intervalMs: number): () => void {
  // Without a handler SIGALRM would end the process; Node's handler runs later, harmlessly.
  process.on('SIGALRM', ignore);
  const sigevent = new Int32Array(16); // struct sigevent: 64 bytes
  sigevent[2] = SIGALRM; // sigev_signo
  sigevent[3] = SIGEV_THREAD_ID; // sigev_notify
  sigevent[4] = gettid(); // _sigev_un._tid
  const timerId = new BigInt64Array(1);
  check(timerCreate(CLOCK_MONOTONIC, sigevent, timerId), 'timer_create');
  const id = Number(timerId[0]);
  const ns = BigInt(Math.round(intervalMs * 1e6));
  const spec = new BigInt64Array([ns / 1_000_000_000n, ns % 1_000_000_000n, ns / 1_000_000_000n, ns % 1_000_000_000n]);
  check(timerSettime(id, 0, spec, null), 'timer_settime');
  let running = true;
  return () => {
    if (!running) return;
    running = false;
    timerDelete(id);
    process.off('SIGALRM', ignore);
  };
}
