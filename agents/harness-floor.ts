/**
 * The harness floor: what measuring costs by itself, in the agent, with tinybench. Each task
 * times a batch of calls and reports the mean per call (`overriddenDuration`), because one
 * clock read is too short to time on its own.
 */
import { Bench } from 'tinybench';
import type { HarnessFloor } from './contract/schema.js';
import { getpid } from './native/libc.js';
import { newLatencyHistogram } from './measure/loop.js';
import { allocMessage } from './measure/message.js';

const BATCH = 1000;
const COPY_SIZES_BYTES = [64, 65536];

/** Measures the floor; takes about `timeMs` per task. */
export async function measureHarnessFloor(timeMs = 60): Promise<HarnessFloor> {
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
    sink += performance.now();
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
    histogramRecordNs: meanNs('record'),
    ffiCallNs: meanNs('ffi'),
    payloadCopyNs: Object.fromEntries(COPY_SIZES_BYTES.map((size) => [String(size), meanNs(`copy-${size}`)])),
  };
}
