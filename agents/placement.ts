/**
 * Where an agent runs. On a VM a wake-up across CPUs costs tens of microseconds, so whether the
 * two agents share a CPU decides the number: `--pin` chooses it, and every case records it.
 */
import type { Placement, RunSettings } from './contract/schema.js';
import { readdirSync } from 'node:fs';
import {
  Errno,
  NativeError,
  check,
  lastErrno,
  schedGetaffinity,
  schedGetcpu,
  schedSetaffinity,
} from './native/libc.js';

const MASK_BYTES = 128; // 1024 CPUs

/** The CPUs this process may run on. */
export function allowedCpus(): number[] {
  const mask = new Uint8Array(MASK_BYTES);
  check(schedGetaffinity(0, MASK_BYTES, mask), 'sched_getaffinity');
  const cpus: number[] = [];
  mask.forEach((byte, i) => {
    for (let bit = 0; bit < 8; bit++) if (byte & (1 << bit)) cpus.push(i * 8 + bit);
  });
  return cpus;
}

/**
 * Applies `--pin`: `same` puts both agents on the first allowed CPU, `split` the initiator on the
 * first and the responder on the second. Returns a note when the request cannot be met.
 */
export function applyPin(pin: RunSettings['pin'], role: 'initiator' | 'responder'): string | undefined {
  if (pin === 'none') return undefined;
  const cpus = allowedCpus();
  let cpu = cpus[0]!;
  if (pin === 'split') {
    if (cpus.length < 2) return `--pin split needs two CPUs; only CPU ${cpu} is allowed, so both agents share it`;
    if (role === 'responder') cpu = cpus[1]!;
  }
  const mask = new Uint8Array(MASK_BYTES);
  mask[cpu >> 3] = 1 << (cpu & 7);
  // Every thread of the process, not just this one: Node's helper threads (V8's compiler and GC
  // workers, libuv's pool) would otherwise run on the other agent's CPU, as taskset would not let
  // them. A thread that has exited since the listing is no error.
  for (const tid of readdirSync('/proc/self/task')) {
    if (schedSetaffinity(Number(tid), MASK_BYTES, mask) !== 0 && lastErrno() !== Errno.ESRCH) {
      throw new NativeError('sched_setaffinity', lastErrno(), `thread ${tid}, cpu ${cpu}`);
    }
  }
  return undefined;
}

/** Records placement at the start of a case; `finish` adds the CPU at its end. */
export function startPlacement(): { finish(): Placement } {
  const allowed = allowedCpus();
  const cpuAtStart = schedGetcpu();
  return { finish: () => ({ allowedCpus: allowed, cpuAtStart, cpuAtEnd: schedGetcpu() }) };
}
