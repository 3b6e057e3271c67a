/**
 * The one measurement loop every channel runs through. The initiator drives (round trips in
 * latency mode, a one-way stream in throughput mode); the responder echoes or counts. Buffers,
 * the histogram and the codec are made before timing; inside the timed part there is no
 * allocation, no logging and no await — only the clock, the channel and the verification (the
 * exceptions: `--driver node` sockets, which await the event loop by design, and the yield below,
 * which happens outside every timed round trip).
 *
 * The steps are chosen once per case by the endpoint's kind: over a blocking endpoint the loops
 * make plain calls, over one on the event loop (`--driver node`) they await; nothing in the loop
 * asks after every call what kind of answer it got. Both kinds share the state and bookkeeping
 * (InitiatorState, ResponderState), so the two sets of loops differ only in their awaits.
 *
 * The initiator runs in chunks of {@link YIELD_EVERY_MS} and yields to the event loop once
 * between two chunks (never inside a round trip), so that a signal stops the case within half a
 * second; a stop ends the case as its clock would, with the end flag, so the responder leaves its
 * loop too. A yield costs a few microseconds four times a second (under 0.01 % of a throughput
 * case's time).
 *
 * Time is read with performance.now() ({@link now}, see clock.ts). Every Node clock is a call
 * from JavaScript into C++ (~55–80 ns here against ~25–40 ns for clock_gettime in C).
 *
 * Rate mode (a paced mode) runs the same round trips open loop: each message waits for its
 * intended send time (the {@link Pacer}), and three times are kept per round trip — the latency
 * from the intended send (the headline histogram), the service time from the actual send, and
 * the send lag between the two. One message is in flight at a time, so a late reply delays the
 * sends behind it, and their latency says so.
 *
 * Recording is deferred, not dropped: each round trip's time is stored in a preallocated batch
 * (one typed-array store) and the batch goes into the HDR histogram between round trips when it
 * is full. Every sample still lands in the histogram; only the histogram's own cost moves out of
 * the loop's critical path.
 */
import * as hdr from 'hdr-histogram-js';
import { MODES, type ModeId } from '../contract/modes.js';
import type { BlockingEndpoint, Endpoint, EventLoopEndpoint, LossyEndpoint } from '../channels/channel.js';
import { Arrivals } from './arrivals.js';
import { now } from './clock.js';
import { Pacer } from './pacer.js';
import { Flags, MessageCodec, Verdict, allocMessage, type MessageBuffer } from './message.js';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { YIELD_EVERY_MS, type StopPoll } from '../stop-request.js';
import type { Arrival, OnLate } from '../contract/schema.js';

export { now };

/** Round-trip times held back before they go into the histogram. */
export const SAMPLE_BATCH = 4096;

/** Warm-up and timed durations of one case. */
export interface LoopTiming {
  readonly warmupMs: number;
  readonly durationMs: number;
}

/** What a case's initiator loop may be given besides its endpoint and timing. */
export interface InitiatorOptions {
  /** A paced mode's target rate and policies. */
  readonly pacing?: Pacing;
  /** Where CPU time is read [the process]. */
  readonly cpuClock?: CpuClock;
  /** Awaited between the warm-up and the timed part (the connections of a case start theirs together). */
  readonly beforeTimed?: () => void | Promise<void>;
}

/** How a paced mode's case paces its sends. */
export interface Pacing {
  readonly ratePerSec: number;
  readonly arrival: Arrival;
  readonly onLate: OnLate;
  /**
   * Where in the first interval the schedule starts, as a fraction of it (0 to 1): the
   * connections of a case, each pacing its share, are spread over the interval, so that together
   * they send at the target rate, not in bursts of one message each at the same instants.
   */
  readonly phase?: number;
}

/** What a paced case's schedule came to, and its two extra histograms (ns). */
export interface PacedOutcome {
  /** Slots whose intended send time fell in the timed part. */
  intended: number;
  dropped: number;
  late: number;
  /** CPU time the initiator spent waiting for send times. */
  pacerCpuUs: number;
  /** Reply − actual send. */
  service: hdr.Histogram;
  /** Actual − intended send. */
  sendLag: hdr.Histogram;
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

/** What a lossy channel's round trips came to (latency mode), as the initiator saw the replies. */
export interface RoundTripLosses {
  /** Round trips whose reply did not come within the loss timeout (not recorded as latencies). */
  lost: number;
  reordered: number;
  duplicated: number;
  timeoutMs: number;
}

/** The initiator's view of a case. */
export interface InitiatorOutcome extends VerificationCounts {
  /** Length of the timed part. */
  durationMs: number;
  /** Messages sent in the timed part (round trips in latency mode). */
  sent: number;
  /** A lossy channel: what became of the timed messages (round trips in latency mode). */
  losses?: RoundTripLosses;
  cpu: CpuSpent;
  /** Round-trip times in nanoseconds (modes that record round trips; a paced one: from the intended send). */
  histogram?: hdr.Histogram;
  /** A paced mode's schedule and its service-time and send-lag histograms. */
  paced?: PacedOutcome;
}

/** The responder's view of a case. */
export interface ResponderOutcome extends VerificationCounts {
  /** Time between the first and the last timed message received. */
  spanMs: number;
  cpu: CpuSpent;
  /** A lossy channel: timed messages that arrived out of order or again (`messages` counts each once). */
  arrivals?: { reordered: number; duplicated: number };
}

/**
 * The end of a lossy channel's case as the control connection brings it (its last datagram,
 * with the end flag, may be lost): set by the responder's control handler, read by its loop
 * whenever a receive comes back empty.
 */
export interface EndSignal {
  /** The timed messages the initiator sent, once it has said the case is over. */
  sent: number | undefined;
  /** Why the control connection ended, if it did. */
  gone: string | undefined;
}

const VERDICT_TEXT: Record<number, string> = {
  [Verdict.sequence]: 'sequence mismatch',
  [Verdict.length]: 'length mismatch',
  [Verdict.checksum]: 'checksum mismatch',
};

function describe(verdict: Verdict, seq: number): string {
  return `${VERDICT_TEXT[verdict]} at seq ${seq}`;
}

/**
 * Where CPU time is read: the whole process (one connection: the agent's main thread and its
 * helpers), or, when a case runs several connections each on a thread, the calling thread.
 */
export type CpuClock = () => CpuSpent;

/** The process's CPU time so far. */
export const processCpu: CpuClock = () => {
  const { user, system } = process.cpuUsage();
  return { userUs: user, systemUs: system };
};

function cpuSince(clock: CpuClock, start: CpuSpent): CpuSpent {
  const now = clock();
  return { userUs: now.userUs - start.userUs, systemUs: now.systemUs - start.systemUs };
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
 * Times (ms) on their way into a histogram (ns): stored in a preallocated batch inside the loop,
 * recorded when the batch is full, between round trips — or, in a paced case, a slice at a time
 * while the loop waits for the next send time (see {@link InitiatorState.flushBefore}).
 */
class SampleBatch {
  readonly histogram = newLatencyHistogram();
  private readonly batch = new Float64Array(SAMPLE_BATCH);
  /** Samples stored; those before `recorded` are in the histogram already. */
  private batched = 0;
  private recorded = 0;

  add(ms: number): void {
    this.batch[this.batched++] = ms;
    if (this.batched === SAMPLE_BATCH) this.flush();
  }

  /** Whether samples wait to be recorded. */
  get pending(): boolean {
    return this.recorded < this.batched;
  }

  /** Records up to `count` waiting samples. */
  flushSome(count: number): void {
    const end = Math.min(this.batched, this.recorded + count);
    for (let i = this.recorded; i < end; i++) this.histogram.recordValue(Math.round(this.batch[i]! * 1e6));
    this.recorded = end;
    if (end === this.batched) this.batched = this.recorded = 0;
  }

  flush(): void {
    this.flushSome(SAMPLE_BATCH);
  }
}

/** Samples recorded per slice while a paced loop waits, and the time a slice may take at most. */
const FLUSH_SLICE = 32;
const FLUSH_SLICE_MS = 0.02;

/** A paced case's pacer and the two histograms besides latency; made before timing starts. */
class PacedState {
  readonly service = new SampleBatch();
  readonly sendLag = new SampleBatch();
  constructor(readonly pacing: Pacing) {}
}

/** The initiator's state across the phases and chunks of one case; made before timing starts. */
class InitiatorState {
  readonly out: MessageBuffer;
  readonly back: MessageBuffer;
  readonly counts: VerificationCounts = { messages: 0, bytes: 0, errors: 0 };
  private readonly latency: SampleBatch | undefined;
  readonly paced: PacedState | undefined;
  /** The three batches of a paced case, made once (the loop must not allocate). */
  private readonly pacedBatches: readonly SampleBatch[];
  seq = 0;
  sent = 0;
  /** Round trips whose reply never came in time (lossy channels only). */
  lost = 0;
  /** Timed replies as they arrived (lossy channels only). */
  readonly arrivals = new Arrivals();

  constructor(
    readonly codec: MessageCodec,
    readonly echoes: boolean,
    recordsRoundTrips: boolean,
    pacing: Pacing | undefined,
  ) {
    this.out = allocMessage(codec.sizeBytes);
    this.back = allocMessage(codec.sizeBytes);
    codec.fill(this.out);
    this.latency = recordsRoundTrips ? new SampleBatch() : undefined;
    this.paced = pacing ? new PacedState(pacing) : undefined;
    this.pacedBatches = this.latency && this.paced ? [this.latency, this.paced.service, this.paced.sendLag] : [];
  }

  get histogram(): hdr.Histogram | undefined {
    return this.latency?.histogram;
  }

  /** The reply to message `seq` came back with `n` bytes: verify it (and count a timed one's bytes). */
  check(n: number, seq: number, timed: boolean): void {
    const verdict = this.codec.verify(this.back, n, seq);
    if (verdict === Verdict.ok) {
      if (timed) this.counts.bytes += n;
    } else {
      this.counts.errors++;
      this.counts.firstError ??= describe(verdict, seq);
    }
  }

  /** Keeps one timed round trip (ms); the batch goes into the histogram when it is full. */
  record(elapsedMs: number): void {
    this.latency!.add(elapsedMs);
  }

  /** Keeps one paced round trip: intended send, actual send and reply times (ms). */
  recordPaced(paced: PacedState, intendedMs: number, sentMs: number, replyMs: number): void {
    this.latency!.add(replyMs - intendedMs);
    paced.service.add(replyMs - sentMs);
    paced.sendLag.add(sentMs - intendedMs);
  }

  /**
   * Records waiting samples a slice at a time while there is time before `deadlineMs` (the next
   * send): a paced loop then never pays a whole batch's recording between two sends, which would
   * delay the sends behind it and show as their latency.
   */
  flushBefore(deadlineMs: number): void {
    for (const batch of this.pacedBatches) {
      while (batch.pending && now() + FLUSH_SLICE_MS < deadlineMs) batch.flushSome(FLUSH_SLICE);
    }
  }

  /**
   * A paced loop's step before each send, at clock reading `t`: stamps message `seq`, records
   * waiting samples while there is time, and waits for its send time. Returns that intended
   * time, or -1 when the chunk (or the schedule) ends before it.
   */
  awaitSendTime(pacer: Pacer, seq: number, t: number, untilMs: number): number {
    if (t >= untilMs) return -1;
    const intended = pacer.due(t, untilMs);
    if (intended >= untilMs) return -1;
    this.codec.stamp(this.out, seq, 0);
    this.flushBefore(intended);
    pacer.waitUntil(intended);
    return intended;
  }

  /** Puts what the batches hold into the histograms. */
  flush(): void {
    this.latency?.flush();
    this.paced?.service.flush();
    this.paced?.sendLag.flush();
  }
}

/**
 * The initiator's loops for one kind of endpoint. Each runs until the clock passes `untilMs`
 * and returns its last clock reading; the caller yields to the event loop between two calls.
 */
interface InitiatorSteps {
  /** Warm-up messages (round trips when the responder echoes), not timed. */
  warmUp(s: InitiatorState, untilMs: number): number | Promise<number>;
  /** Timed round trips, each recorded. */
  roundTrips(s: InitiatorState, untilMs: number): number | Promise<number>;
  /** A timed one-way stream. */
  stream(s: InitiatorState, untilMs: number): number | Promise<number>;
  /**
   * Timed round trips, each sent at its intended time (`pacer`) and recorded three ways, until
   * the schedule or the clock passes `untilMs` (a backlog of late sends must not stretch the
   * case). Returns no earlier than `untilMs`: when the next send is due later, it waits.
   */
  pacedRoundTrips(s: InitiatorState, paced: PacedState, pacer: Pacer, untilMs: number): number | Promise<number>;
  /** The message with the end flag, after the last. */
  end(s: InitiatorState): void | Promise<void>;
}

/** The loops over a blocking endpoint: no await anywhere. */
function blockingSteps(endpoint: BlockingEndpoint | LossyEndpoint): InitiatorSteps {
  return {
    warmUp(s, untilMs) {
      const { codec, out, back, echoes } = s;
      let seq = s.seq;
      let t: number;
      while ((t = now()) < untilMs) {
        codec.stamp(out, seq, Flags.warmup);
        endpoint.send(out);
        if (echoes) s.check(endpoint.receive(back), seq, false);
        seq++;
      }
      s.seq = seq;
      return t;
    },
    roundTrips(s, untilMs) {
      const { codec, out, back } = s;
      let seq = s.seq;
      let t = now();
      while (t < untilMs) {
        codec.stamp(out, seq, 0);
        const t0 = now();
        endpoint.send(out);
        const n = endpoint.receive(back);
        t = now();
        s.record(t - t0);
        s.check(n, seq, true);
        seq++;
      }
      s.sent += seq - s.seq;
      s.seq = seq;
      return t;
    },
    stream(s, untilMs) {
      const { codec, out } = s;
      let seq = s.seq;
      let t = now();
      while (t < untilMs) {
        codec.stamp(out, seq++, 0);
        endpoint.send(out);
        t = now();
      }
      s.sent += seq - s.seq;
      s.seq = seq;
      return t;
    },
    pacedRoundTrips(s, paced, pacer, untilMs) {
      const { out, back } = s;
      let seq = s.seq;
      let t = now();
      for (;;) {
        const intended = s.awaitSendTime(pacer, seq, t, untilMs);
        if (intended < 0) break;
        const t0 = now();
        pacer.take(t0);
        endpoint.send(out);
        const n = endpoint.receive(back);
        t = now();
        s.recordPaced(paced, intended, t0, t);
        s.check(n, seq, true);
        seq++;
      }
      s.sent += seq - s.seq;
      s.seq = seq;
      return Math.max(t, pacer.waitUntil(untilMs));
    },
    end(s) {
      s.codec.stamp(s.out, s.seq, Flags.end);
      endpoint.send(s.out);
    },
  };
}

/**
 * Waits for the reply to message `seq` over a lossy endpoint: replies to earlier messages (late,
 * or duplicated) are verified against their own number and passed over. Returns the reply's
 * length, or -1 when a receive found nothing within the loss timeout.
 */
function replyTo(endpoint: LossyEndpoint, s: InitiatorState, seq: number, timed: boolean): number {
  for (;;) {
    const n = endpoint.receive(s.back);
    if (n < 0) return -1;
    const got = MessageCodec.sequence(s.back);
    if (timed && (MessageCodec.flags(s.back) & Flags.warmup) === 0) s.arrivals.note(got);
    if (got === seq) return n;
    s.check(n, got, false);
  }
}

/**
 * The loops over a lossy endpoint (datagrams): a round trip whose reply does not come in time is
 * counted as lost and not recorded; the stream and the end flag are as over any blocking
 * endpoint (the end also travels on the control connection, as the initiator sends it).
 */
function lossySteps(endpoint: LossyEndpoint): InitiatorSteps {
  const plain = blockingSteps(endpoint);
  return {
    ...plain,
    warmUp(s, untilMs) {
      const { codec, out, echoes } = s;
      let seq = s.seq;
      let t: number;
      while ((t = now()) < untilMs) {
        codec.stamp(out, seq, Flags.warmup);
        endpoint.send(out);
        if (echoes) {
          const n = replyTo(endpoint, s, seq, false);
          if (n >= 0) s.check(n, seq, false);
        }
        seq++;
      }
      s.seq = seq;
      return t;
    },
    roundTrips(s, untilMs) {
      const { codec, out } = s;
      let seq = s.seq;
      let t = now();
      while (t < untilMs) {
        codec.stamp(out, seq, 0);
        const t0 = now();
        endpoint.send(out);
        const n = replyTo(endpoint, s, seq, true);
        t = now();
        if (n >= 0) {
          s.record(t - t0);
          s.check(n, seq, true);
        } else s.lost++;
        seq++;
      }
      s.sent += seq - s.seq;
      s.seq = seq;
      return t;
    },
    pacedRoundTrips(s, paced, pacer, untilMs) {
      const { out } = s;
      let seq = s.seq;
      let t = now();
      for (;;) {
        const intended = s.awaitSendTime(pacer, seq, t, untilMs);
        if (intended < 0) break;
        const t0 = now();
        pacer.take(t0);
        endpoint.send(out);
        const n = replyTo(endpoint, s, seq, true);
        t = now();
        if (n >= 0) {
          s.recordPaced(paced, intended, t0, t);
          s.check(n, seq, true);
        } else s.lost++;
        seq++;
      }
      s.sent += seq - s.seq;
      s.seq = seq;
      return Math.max(t, pacer.waitUntil(untilMs));
    },
  };
}

/** The same loops over an endpoint on the event loop: every receive is awaited, a send only when it says so. */
function eventLoopSteps(endpoint: EventLoopEndpoint): InitiatorSteps {
  let drained: Promise<void> | undefined;
  return {
    async warmUp(s, untilMs) {
      const { codec, out, back, echoes } = s;
      let seq = s.seq;
      let t: number;
      while ((t = now()) < untilMs) {
        codec.stamp(out, seq, Flags.warmup);
        if ((drained = endpoint.send(out))) await drained;
        if (echoes) s.check(await endpoint.receive(back), seq, false);
        seq++;
      }
      s.seq = seq;
      return t;
    },
    async roundTrips(s, untilMs) {
      const { codec, out, back } = s;
      let seq = s.seq;
      let t = now();
      while (t < untilMs) {
        codec.stamp(out, seq, 0);
        const t0 = now();
        if ((drained = endpoint.send(out))) await drained;
        const n = await endpoint.receive(back);
        t = now();
        s.record(t - t0);
        s.check(n, seq, true);
        seq++;
      }
      s.sent += seq - s.seq;
      s.seq = seq;
      return t;
    },
    async stream(s, untilMs) {
      const { codec, out } = s;
      let seq = s.seq;
      let t = now();
      while (t < untilMs) {
        codec.stamp(out, seq++, 0);
        if ((drained = endpoint.send(out))) await drained;
        t = now();
      }
      s.sent += seq - s.seq;
      s.seq = seq;
      return t;
    },
    // The wait blocks the event loop: with one message in flight nothing is pending on it then.
    async pacedRoundTrips(s, paced, pacer, untilMs) {
      const { out, back } = s;
      let seq = s.seq;
      let t = now();
      for (;;) {
        const intended = s.awaitSendTime(pacer, seq, t, untilMs);
        if (intended < 0) break;
        const t0 = now();
        pacer.take(t0);
        if ((drained = endpoint.send(out))) await drained;
        const n = await endpoint.receive(back);
        t = now();
        s.recordPaced(paced, intended, t0, t);
        s.check(n, seq, true);
        seq++;
      }
      s.sent += seq - s.seq;
      s.seq = seq;
      return Math.max(t, pacer.waitUntil(untilMs));
    },
    async end(s) {
      s.codec.stamp(s.out, s.seq, Flags.end);
      if ((drained = endpoint.send(s.out))) await drained;
    },
  };
}

/**
 * Runs `chunk` until `endMs`, yielding to the event loop once every {@link YIELD_EVERY_MS}
 * between two chunks, never inside one. Returns the last clock reading, and whether a stop was
 * asked for (the caller then ends the case as its clock would).
 */
async function inChunks(
  endMs: number,
  chunk: (untilMs: number) => number | Promise<number>,
  stop: StopPoll,
): Promise<{ t: number; stopped: boolean }> {
  let t = now();
  while (t < endMs) {
    t = await chunk(Math.min(endMs, t + YIELD_EVERY_MS));
    if (t >= endMs) break;
    await yieldToEventLoop();
    if (stop.signal !== undefined) return { t, stopped: true };
  }
  return { t, stopped: false };
}

/**
 * Runs the initiator's side of one case and tells the responder to stop at the end (or when
 * `stop` says so). The steps for the endpoint's kind are chosen here, once per case.
 */
export async function runInitiator(
  endpoint: Endpoint,
  codec: MessageCodec,
  mode: ModeId,
  timing: LoopTiming,
  stop: StopPoll,
  options: InitiatorOptions = {},
): Promise<InitiatorOutcome> {
  const { pacing, cpuClock = processCpu, beforeTimed } = options;
  const { responderEchoes, recordsRoundTrips, paced: modeIsPaced } = MODES[mode];
  if (modeIsPaced !== (pacing !== undefined))
    throw new Error(`${mode} mode ${modeIsPaced ? 'needs' : 'takes no'} pacing`);
  const s = new InitiatorState(codec, responderEchoes, recordsRoundTrips, pacing);
  const steps = !endpoint.blocking
    ? eventLoopSteps(endpoint)
    : endpoint.lossy
      ? lossySteps(endpoint)
      : blockingSteps(endpoint);

  const warmUp = await inChunks(now() + timing.warmupMs, (untilMs) => steps.warmUp(s, untilMs), stop);
  await beforeTimed?.();
  const cpuStart = cpuClock();
  const start = now();
  const paced = s.paced;
  // The schedule starts with the timed part.
  const pacer =
    paced &&
    new Pacer(
      paced.pacing.ratePerSec,
      paced.pacing.arrival,
      paced.pacing.onLate,
      start + (paced.pacing.phase ?? 0) * (1000 / paced.pacing.ratePerSec),
    );
  const endMs = start + timing.durationMs;
  const timed = warmUp.stopped
    ? { t: start, stopped: true }
    : await inChunks(
        endMs,
        // Paced round trips, round trips (recorded when the mode says so), or a stream.
        (untilMs) =>
          paced && pacer
            ? steps.pacedRoundTrips(s, paced, pacer, untilMs)
            : responderEchoes
              ? steps.roundTrips(s, untilMs)
              : steps.stream(s, untilMs),
        stop,
      );
  s.flush(); // the last batch's histogram records belong to the case's CPU time, as every other batch's do
  const durationMs = timed.t - start;
  const cpu = cpuSince(cpuClock, cpuStart);
  if (recordsRoundTrips) s.counts.messages = s.sent - s.lost;
  pacer?.finish(Math.min(endMs, timed.t));

  await steps.end(s);
  const losses =
    endpoint.blocking && endpoint.lossy && recordsRoundTrips
      ? {
          lost: s.lost,
          reordered: s.arrivals.reordered,
          duplicated: s.arrivals.duplicated,
          timeoutMs: endpoint.lossTimeoutMs,
        }
      : undefined;
  const pacedOutcome: PacedOutcome | undefined =
    paced && pacer
      ? {
          intended: pacer.intended,
          dropped: pacer.dropped,
          late: pacer.late,
          pacerCpuUs: pacer.cpuMs * 1000,
          service: paced.service.histogram,
          sendLag: paced.sendLag.histogram,
        }
      : undefined;
  return {
    ...s.counts,
    durationMs,
    sent: s.sent,
    cpu,
    histogram: s.histogram,
    ...(losses ? { losses } : {}),
    ...(pacedOutcome ? { paced: pacedOutcome } : {}),
  };
}

/** The responder's state for one case: what it has verified and counted. */
class ResponderState {
  readonly msg: MessageBuffer;
  readonly counts: VerificationCounts = { messages: 0, bytes: 0, errors: 0 };
  private expected = 0;
  private firstAt = 0;
  private lastAt = 0;
  private cpuStart: CpuSpent | undefined;

  /** A lossy channel's timed arrivals; undefined for the others. */
  readonly arrivals: Arrivals | undefined;

  constructor(
    private readonly codec: MessageCodec,
    readonly echoes: boolean,
    lossy: boolean,
    private readonly cpuClock: CpuClock,
  ) {
    this.msg = allocMessage(codec.sizeBytes);
    this.arrivals = lossy ? new Arrivals() : undefined;
  }

  /** Whether the message received carries the end flag. */
  ended(): boolean {
    return (MessageCodec.flags(this.msg) & Flags.end) !== 0;
  }

  /**
   * Verifies and counts the message received (`n` bytes), after any echo: like the initiator's,
   * the responder's verification is no part of the round trip (the echo carries the bytes as
   * received; nothing changes them before).
   */
  count(n: number): void {
    const msg = this.msg;
    const arrivals = this.arrivals;
    // A datagram may come out of order or twice: it is checked against its own number, and
    // counted once (the arrivals say what came out of order or again).
    const seq = arrivals ? MessageCodec.sequence(msg) : this.expected;
    const verdict = this.codec.verify(msg, n, seq);
    if (verdict !== Verdict.ok) {
      this.counts.errors++;
      this.counts.firstError ??= describe(verdict, seq);
    }
    // Resynchronise on the sender's numbering so one lost message counts once, not forever.
    this.expected = MessageCodec.sequence(msg) + 1;
    if ((MessageCodec.flags(msg) & Flags.warmup) !== 0) return;
    if (arrivals && !arrivals.note(seq)) return;
    if (this.cpuStart === undefined) {
      this.cpuStart = this.cpuClock();
      this.firstAt = now();
    }
    if (!this.echoes) this.lastAt = now();
    this.counts.messages++;
    if (verdict === Verdict.ok) this.counts.bytes += n;
  }

  outcome(): ResponderOutcome {
    return {
      ...this.counts,
      spanMs: this.echoes ? 0 : this.lastAt - this.firstAt, // the span is the throughput measure; an echo has none
      cpu: this.cpuStart ? cpuSince(this.cpuClock, this.cpuStart) : { userUs: 0, systemUs: 0 },
      ...(this.arrivals
        ? { arrivals: { reordered: this.arrivals.reordered, duplicated: this.arrivals.duplicated } }
        : {}),
    };
  }
}

/** The responder's loop over a blocking endpoint: no await anywhere. */
function serveBlocking(endpoint: BlockingEndpoint, s: ResponderState): void {
  const { msg, echoes } = s;
  for (;;) {
    const n = endpoint.receive(msg);
    if (s.ended()) return;
    if (echoes) endpoint.send(msg);
    s.count(n);
  }
}

/** The same loop over an endpoint on the event loop. */
async function serveOnEventLoop(endpoint: EventLoopEndpoint, s: ResponderState): Promise<void> {
  const { msg, echoes } = s;
  let drained: Promise<void> | undefined;
  for (;;) {
    const n = await endpoint.receive(msg);
    if (s.ended()) return;
    if (echoes && (drained = endpoint.send(msg))) await drained;
    s.count(n);
  }
}

/**
 * The loop over a lossy endpoint: as the blocking one, but a receive that finds nothing in time
 * yields to the event loop, where the control connection may have brought the end of the case.
 */
async function serveLossy(endpoint: LossyEndpoint, s: ResponderState, end: EndSignal): Promise<void> {
  const { msg, echoes } = s;
  for (;;) {
    const n = endpoint.receive(msg);
    if (n < 0) {
      await yieldToEventLoop();
      if (end.sent !== undefined) return;
      if (end.gone !== undefined) throw new Error(`the initiator is gone (${end.gone})`);
      continue;
    }
    if (s.ended()) return;
    if (echoes) endpoint.send(msg);
    s.count(n);
  }
}

/**
 * Runs the responder's side: echo each message when the mode says so, verify it; stop at the end
 * flag (or, over a lossy endpoint, when `end` says the initiator has finished).
 */
export async function runResponder(
  endpoint: Endpoint,
  codec: MessageCodec,
  mode: ModeId,
  end: EndSignal = { sent: undefined, gone: undefined },
  cpuClock: CpuClock = processCpu,
): Promise<ResponderOutcome> {
  const lossy = endpoint.blocking && endpoint.lossy === true;
  const s = new ResponderState(codec, MODES[mode].responderEchoes, lossy, cpuClock);
  if (!endpoint.blocking) await serveOnEventLoop(endpoint, s);
  else if (endpoint.lossy) await serveLossy(endpoint, s, end);
  else serveBlocking(endpoint, s);
  return s.outcome();
}
