/**
 * The one measurement loop every channel runs through. The initiator drives (round trips in
 * latency mode, a one-way stream in throughput mode); the responder echoes or counts. Buffers,
 * the histogram and the codec are made before timing; inside the timed part there is no
 * allocation, no logging and no await — only the clock, the channel and the verification (the
 * exceptions: `--driver node` sockets, which await the event loop by design, and the yield below,
 * which happens outside every timed round trip).
 *
 * Every {@link YIELD_EVERY_MS} the initiator yields to the event loop once, between two round
 * trips (never inside one), so that a signal stops the case within half a second; a stop ends
 * the case as its clock would, with the end flag, so the responder leaves its loop too. A yield
 * costs a few microseconds four times a second (under 0.01 % of a throughput case's time).
 *
 * Time is read with performance.now(), called through a bound copy ({@link now}): a double in
 * milliseconds that keeps nanosecond resolution for the lifetime of an agent and, unlike
 * process.hrtime.bigint(), allocates nothing. Every Node clock is a call from JavaScript into C++
 * (~55–80 ns here against ~25–40 ns for clock_gettime in C). The bound copy saves looking up
 * the `performance` global, which Node defines as an accessor: a getter call before every clock
 * read, and so inside every measured interval.
 *
 * Recording is deferred, not dropped: each round trip's time is stored in a preallocated batch
 * (one typed-array store) and the batch goes into the HDR histogram between round trips when it
 * is full. Every sample still lands in the histogram; only the histogram's own cost moves out of
 * the loop's critical path.
 */
import * as hdr from 'hdr-histogram-js';
import { MODES, type ModeId } from '../contract/modes.js';
import type { Endpoint } from '../channels/channel.js';
import { Flags, MessageCodec, Verdict, allocMessage } from './message.js';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { YIELD_EVERY_MS, type StopPoll } from '../stop-request.js';

/** The clock: performance.now() without the global's accessor call. Milliseconds, as a double. */
export const now: () => number = performance.now.bind(performance);

/** Round-trip times held back before they go into the histogram. */
export const SAMPLE_BATCH = 4096;

/** Records `count` round-trip times (ms) from `batch` into `histogram` (ns). */
export function flushSamples(histogram: hdr.Histogram, batch: Float64Array, count: number): void {
  for (let i = 0; i < count; i++) histogram.recordValue(Math.round(batch[i]! * 1e6));
}

/** Warm-up and timed durations of one case. */
export interface LoopTiming {
  readonly warmupMs: number;
  readonly durationMs: number;
}

/** What the side that verifies messages saw. */
export interface VerificationCounts {
  /** Timed messages received and verified. */
  messages: number;
  /** Payload bytes of the timed messages that verified. */
  bytes: number;
  /** Messages (warm-up included) that failed verification. */
  errors: number;
  /** The first failure, e.g. `checksum mismatch at seq 41`. */
  firstError?: string;
}

/** CPU time spent in the timed part, from process.cpuUsage(). */
export interface CpuSpent {
  userUs: number;
  systemUs: number;
}

/** The initiator's view of a case. */
export interface InitiatorOutcome extends VerificationCounts {
  /** Length of the timed part. */
  durationMs: number;
  /** Messages sent in the timed part (round trips in latency mode). */
  sent: number;
  cpu: CpuSpent;
  /** Round-trip times in nanoseconds (latency mode only). */
  histogram?: hdr.Histogram;
}

/** The responder's view of a case. */
export interface ResponderOutcome extends VerificationCounts {
  /** Time between the first and the last timed message received. */
  spanMs: number;
  cpu: CpuSpent;
}

const VERDICT_TEXT: Record<number, string> = {
  [Verdict.sequence]: 'sequence mismatch',
  [Verdict.length]: 'length mismatch',
  [Verdict.checksum]: 'checksum mismatch',
};

function describe(verdict: Verdict, seq: number): string {
  return `${VERDICT_TEXT[verdict]} at seq ${seq}`;
}

function cpuSince(start: NodeJS.CpuUsage): CpuSpent {
  const spent = process.cpuUsage(start);
  return { userUs: spent.user, systemUs: spent.system };
}

/** Makes the latency histogram: 3 significant digits, 1 ns to 10 s before it would resize. */
export function newLatencyHistogram(): hdr.Histogram {
  return hdr.build({
    bitBucketSize: 32,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 10_000_000_000,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
  });
}

/**
 * Runs the initiator's side of one case and tells the responder to stop at the end (or when
 * `stop` says so). Endpoints answer synchronously except the Node driver's sockets; the loop
 * awaits only a promise it actually gets, and otherwise leaves for the event loop only to yield.
 */
export async function runInitiator(
  endpoint: Endpoint,
  codec: MessageCodec,
  mode: ModeId,
  timing: LoopTiming,
  stop: StopPoll,
): Promise<InitiatorOutcome> {
  const out = allocMessage(codec.sizeBytes);
  const back = allocMessage(codec.sizeBytes);
  codec.fill(out);
  const { responderEchoes, recordsRoundTrips } = MODES[mode];
  const histogram = recordsRoundTrips ? newLatencyHistogram() : undefined;
  const counts: VerificationCounts = { messages: 0, bytes: 0, errors: 0 };
  let seq = 0;
  let sending: void | Promise<void>;
  let receiving: number | Promise<number>;

  let t = now();
  let yieldAt = t + YIELD_EVERY_MS;
  /** Yields once the time has come; true when a stop was asked for meanwhile. */
  const stopAsked = async (): Promise<boolean> => {
    await yieldToEventLoop();
    yieldAt = now() + YIELD_EVERY_MS;
    return stop.signal !== undefined;
  };

  const warmupEnd = t + timing.warmupMs;
  let stopped = false;
  while ((t = now()) < warmupEnd) {
    if (t >= yieldAt && (stopped = await stopAsked())) break;
    codec.stamp(out, seq, Flags.warmup);
    if ((sending = endpoint.send(out)) !== undefined) await sending;
    if (responderEchoes) {
      const n = typeof (receiving = endpoint.receive(back)) === 'number' ? receiving : await receiving;
      const verdict = codec.verify(back, n, seq);
      if (verdict !== Verdict.ok) {
        counts.errors++;
        counts.firstError ??= describe(verdict, seq);
      }
    }
    seq++;
  }

  let sent = 0;
  const cpuStart = process.cpuUsage();
  const start = now();
  const end = stopped ? start : start + timing.durationMs;
  t = start;
  if (histogram) {
    const batch = new Float64Array(SAMPLE_BATCH);
    let batched = 0;
    while (t < end) {
      codec.stamp(out, seq, 0);
      const t0 = now();
      if ((sending = endpoint.send(out)) !== undefined) await sending;
      const n = typeof (receiving = endpoint.receive(back)) === 'number' ? receiving : await receiving;
      t = now();
      batch[batched++] = t - t0;
      if (batched === SAMPLE_BATCH) {
        flushSamples(histogram, batch, batched);
        batched = 0;
      }
      const verdict = codec.verify(back, n, seq);
      if (verdict === Verdict.ok) counts.bytes += n;
      else {
        counts.errors++;
        counts.firstError ??= describe(verdict, seq);
      }
      seq++;
      sent++;
      if (t >= yieldAt && (await stopAsked())) break;
    }
    flushSamples(histogram, batch, batched);
    counts.messages = sent;
  } else {
    while (t < end) {
      codec.stamp(out, seq++, 0);
      if ((sending = endpoint.send(out)) !== undefined) await sending;
      sent++;
      t = now();
      if (t >= yieldAt && (await stopAsked())) break;
    }
  }
  const durationMs = t - start;
  const cpu = cpuSince(cpuStart);

  codec.stamp(out, seq, Flags.end);
  if ((sending = endpoint.send(out)) !== undefined) await sending;
  return { ...counts, durationMs, sent, cpu, histogram };
}

/** Runs the responder's side: echo each message in latency mode, then verify it; stop at the end flag. */
export async function runResponder(endpoint: Endpoint, codec: MessageCodec, mode: ModeId): Promise<ResponderOutcome> {
  const msg = allocMessage(codec.sizeBytes);
  const echo = MODES[mode].responderEchoes;
  const counts: VerificationCounts = { messages: 0, bytes: 0, errors: 0 };
  let expected = 0;
  let firstAt = 0;
  let lastAt = 0;
  let cpuStart: NodeJS.CpuUsage | undefined;
  let sending: void | Promise<void>;
  let receiving: number | Promise<number>;

  for (;;) {
    const n = typeof (receiving = endpoint.receive(msg)) === 'number' ? receiving : await receiving;
    const flags = MessageCodec.flags(msg);
    if ((flags & Flags.end) !== 0) break;
    // Answer first, check after: like the initiator's, the responder's verification is no part
    // of the round trip (the echo carries the bytes as received; nothing changes them before).
    if (echo && (sending = endpoint.send(msg)) !== undefined) await sending;
    const verdict = codec.verify(msg, n, expected);
    if (verdict !== Verdict.ok) {
      counts.errors++;
      counts.firstError ??= describe(verdict, expected);
    }
    // Resynchronise on the sender's numbering so one lost message counts once, not forever.
    expected = MessageCodec.sequence(msg) + 1;
    if ((flags & Flags.warmup) === 0) {
      if (cpuStart === undefined) {
        cpuStart = process.cpuUsage();
        firstAt = now();
      }
      if (!echo) lastAt = now();
      counts.messages++;
      if (verdict === Verdict.ok) counts.bytes += n;
    }
  }
  return {
    ...counts,
    spanMs: echo ? 0 : lastAt - firstAt, // the span is the throughput measure; an echo has none
    cpu: cpuStart ? cpuSince(cpuStart) : { userUs: 0, systemUs: 0 },
  };
}
