/**
 * The harness floor: what measuring costs by itself, in the agent, with tinybench. Each task
 * times a batch of calls and reports the mean per call (`overriddenDuration`), because one
 * clock read is too short to time on its own. The empty interval is a distribution instead (its
 * median), as it is what every latency sample carries.
 */
import { Bench } from 'tinybench';
import type { HarnessFloor } from './contract/schema.js';
import { getpid } from './native/libc.js';
import { SAMPLE_BATCH, newLatencyHistogram, now } from './measure/loop.js';
import { allocMessage } from './measure/message.js';
import { Pacer } from './measure/pacer.js';

const BATCH = 1000;
const COPY_SIZES_BYTES = [64, 65536];

const EMPTY_INTERVALS = 200_000;

/**
 * What an empty timed interval reads, the median over many: the part of two clock reads that
 * falls between the two readings, and so inside every latency sample.
 */
function emptyIntervalNs(): number {
  const intervals = new Float64Array(EMPTY_INTERVALS);
  for (let round = 0; round < 2; round++) {
    // The first round warms the loop up (JIT); the second is the one kept.
    for (let i = 0; i < EMPTY_INTERVALS; i++) {
      const t0 = now();
      intervals[i] = now() - t0;
    }
  }
  intervals.sort();
  return Math.round(intervals[EMPTY_INTERVALS >> 1]! * 1e6 * 10) / 10;
}

const STORES = 1_000_000;

/**
 * What keeping one sample costs inside the loop: the loop's own statements (store into the batch,
 * count, check for a full batch), timed over many in a row — a closure per store, as tinybench
 * tasks are, would cost more than the store.
 */
function sampleStoreNs(): number {
  const batch = new Float64Array(SAMPLE_BATCH);
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    let batched = 0;
    const t0 = now();
    for (let i = 0; i < STORES; i++) {
      batch[batched++] = i;
      if (batched === SAMPLE_BATCH) batched = 0;
    }
    best = Math.min(best, (now() - t0) / STORES);
  }
  return Math.round(best * 1e6 * 10) / 10;
}

const PACER_RATE_PER_SEC = 1000;
const PACER_WAITS = 200;

/**
 * The pacer with nothing to pace: how late its sends come (the floor of every send lag) and the
 * CPU time of one wait (the part of rate mode's initiator CPU left out of CPU per message).
 */
function pacerFloor(): NonNullable<HarnessFloor['pacer']> {
  const pacer = new Pacer(PACER_RATE_PER_SEC, 'uniform', 'queue', now());
  const lags = new Float64Array(PACER_WAITS);
  for (let i = 0; i < PACER_WAITS; i++) {
    const intended = pacer.due(now(), Infinity);
    pacer.waitUntil(intended);
    const t = now();
    pacer.take(t);
    lags[i] = t - intended;
  }
  lags.sort();
  const ns = (ms: number) => Math.round(ms * 1e6);
  return {
    sendLagP50Ns: ns(lags[PACER_WAITS >> 1]!),
    sendLagP99Ns: ns(lags[Math.floor(PACER_WAITS * 0.99)]!),
    cpuPerWaitNs: ns(pacer.cpuMs / PACER_WAITS),
    ratePerSec: PACER_RATE_PER_SEC,
  };
}

/**
 * Measures the floor; takes about `timeMs` per task, and 0.2 s more with `pacer` (a plan with
 * rate cases).
 */
export async function measureHarnessFloor(timeMs = 60, pacer = false): Promise<HarnessFloor> {
  const bench = new Bench({ time: timeMs, warmupTime: 10, iterations: 16 });
  const batched = (name: string, op: () => void) =>
    bench.add(name, () => {
      const t0 = bench.now();
      for (let i = 0; i < BATCH; i++) op();
      const elapsedMs = bench.now() - t0;
      return { overriddenDuration: elapsedMs / BATCH, overriddenIterationCost: elapsedMs };
    });
  let sink = 0;
  batched('clock', () => {
    sink += now();
  });
  const histogram = newLatencyHistogram();
  batched('record', () => histogram.recordValue(1234));
  batched('ffi', () => {
    sink += getpid();
  });
  for (const size of COPY_SIZES_BYTES) {
    const from = allocMessage(size).bytes;
    const to = allocMessage(size).bytes;
    batched(`copy-${size}`, () => to.set(from));
  }
  await bench.run();
  const meanNs = (name: string): number => {
    const result = bench.getTask(name)?.result;
    return result && 'latency' in result ? Math.round(result.latency.mean * 1e6 * 10) / 10 : -1;
  };
  if (sink === 0.5) console.error(sink); // keeps the clock reads from being optimised away
  return {
    clockReadNs: meanNs('clock'),
    emptyIntervalNs: emptyIntervalNs(),
    sampleStoreNs: sampleStoreNs(),
    histogramRecordNs: meanNs('record'),
    ffiCallNs: meanNs('ffi'),
    ...(pacer ? { pacer: pacerFloor() } : {}),
    payloadCopyNs: Object.fromEntries(COPY_SIZES_BYTES.map((size) => [String(size), meanNs(`copy-${size}`)])),
  };
}
