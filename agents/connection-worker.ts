/**
 * One connection of a case that runs several (`--connections N`), on a worker thread of its own:
 * it hosts (responder) or joins (initiator) its own instance of the channel and runs the one
 * measurement loop over it, exactly as a single-connection case runs on the main thread. Blocking
 * calls can then wait on N connections at once, and an event-loop channel gets an event loop per
 * connection. CPU time is the thread's own (getrusage), so the connections' times add up.
 *
 * The thread talks to its agent's main thread (agents/connections.ts) in messages: the join
 * parameters once hosted, then what it measured — or why it failed. It posts its last message
 * only after it has closed what it opened.
 */
import { parentPort } from 'node:worker_threads';
import * as hdr from 'hdr-histogram-js';
import { channelFor } from './channels/registry.js';
import type { Endpoint, Hosted, JoinParams } from './channels/channel.js';
import type { Plan } from './contract/schema.js';
import type { KernelLimits } from './kernel-limits.js';
import {
  runInitiator,
  runResponder,
  type CpuClock,
  type CpuSpent,
  type InitiatorOutcome,
  type Pacing,
  type ResponderOutcome,
} from './measure/loop.js';
import { MessageCodec } from './measure/message.js';
import { threadCpuUsage } from './native/libc.js';
import { mergedInitiator, mergedResponder } from './outcome-merge.js';
import { RunContext, reasonOf, type SharedDirs } from './run-context.js';
import type { StopPoll } from './stop-request.js';

/** What a connection's thread is given. */
export interface ConnectionWorkerData {
  readonly role: 'initiator' | 'responder';
  readonly plan: Plan;
  readonly dirs: SharedDirs;
  readonly limits: KernelLimits;
  /** The case's index in the plan. */
  readonly index: number;
  /** Which connection, from 0. */
  readonly connection: number;
  /** Initiator: the parameters its responder thread hosted with. */
  readonly params?: JoinParams;
  /** Initiator: this connection's share of the target rate. */
  readonly pacing?: Pacing;
  /**
   * Shared by the case's initiator threads: [0] is set to 1 by the main thread when a signal asks
   * the case to stop; [1] counts the threads done with their warm-up, [2] lets them all go.
   */
  readonly stopFlag: SharedArrayBuffer;
  /** How many threads (channel instances) the case has. */
  readonly threads: number;
  /** Lanes on this thread's instance: loops, each with its own endpoint (HTTP/2 streams on one session). */
  readonly lanes: number;
}

const WARMED = 1;
const GO = 2;

/**
 * Holds this thread after its warm-up until every connection's thread is done with its own (the
 * last to arrive lets them all go), so that their timed parts run together: threads start and
 * join at different times, and a timed part that ran partly alone would be less loaded. A thread
 * that never arrives (failed) holds the others no longer than `timeoutMs`.
 */
function startTogether(shared: Int32Array, connections: number, timeoutMs: number): void {
  if (Atomics.add(shared, WARMED, 1) + 1 >= connections) {
    Atomics.store(shared, GO, 1);
    Atomics.notify(shared, GO);
    return;
  }
  Atomics.wait(shared, GO, 0, timeoutMs);
}

/** An initiator's outcome as a message: its histograms encoded (HdrHistogram's compressed form). */
export type PostedInitiatorOutcome = Omit<InitiatorOutcome, 'histogram' | 'paced'> & {
  histogram?: string;
  paced?: Omit<NonNullable<InitiatorOutcome['paced']>, 'service' | 'sendLag'> & { service: string; sendLag: string };
};

/** What a connection's thread posts. */
export type ConnectionMessage =
  | { readonly type: 'params'; readonly params: JoinParams }
  | {
      readonly type: 'measured';
      readonly initiator?: PostedInitiatorOutcome;
      readonly responder?: ResponderOutcome;
      readonly details: Record<string, number | string | boolean>;
    }
  | { readonly type: 'failed'; readonly reason: string };

const encode = (h: hdr.Histogram) => hdr.encodeIntoCompressedBase64(h);

function posted(outcome: InitiatorOutcome): PostedInitiatorOutcome {
  const { histogram, paced, ...rest } = outcome;
  return {
    ...rest,
    ...(histogram ? { histogram: encode(histogram) } : {}),
    ...(paced ? { paced: { ...paced, service: encode(paced.service), sendLag: encode(paced.sendLag) } } : {}),
  };
}

/**
 * The CPU time of a thread's lanes together: their loops run at once on this thread, so each
 * loop's own reading of the thread's clock would count the others' time too. Each loop reads the
 * clock twice, where its timed part starts and where it ends: the first reading of all opens
 * the window, the last closes it — where a single loop's own readings would be.
 */
class CpuWindow {
  private start: CpuSpent | undefined;
  private end: CpuSpent | undefined;
  private readings = 0;

  constructor(private readonly lanes: number) {}

  /** The clock the loops read: it opens and closes the window and reads nothing for them. */
  readonly clock: CpuClock = () => {
    this.readings++;
    if (!this.start) this.start = threadCpuUsage();
    else if (this.readings === 2 * this.lanes) this.end = threadCpuUsage();
    return { userUs: 0, systemUs: 0 };
  };

  /** The window's CPU time; a window a lane never closed (it failed, or saw no timed message) ends now. */
  total(): CpuSpent {
    if (!this.start) return { userUs: 0, systemUs: 0 };
    const end = this.end ?? threadCpuUsage();
    return { userUs: end.userUs - this.start.userUs, systemUs: end.systemUs - this.start.systemUs };
  }
}

/** Resolves every caller's promise once `count` have called; the last runs `then` first. */
function barrier(count: number, then: () => void): () => Promise<void> {
  let arrived = 0;
  let release!: () => void;
  const all = new Promise<void>((resolve) => (release = resolve));
  return () => {
    if (++arrived === count) {
      then();
      release();
    }
    return all;
  };
}

async function measure(data: ConnectionWorkerData, post: (m: ConnectionMessage) => void): Promise<ConnectionMessage> {
  const run = new RunContext(data.plan, data.dirs, data.limits);
  const spec = data.plan.cases[data.index]!;
  const { settings } = data.plan;
  const ctx = run.channelContext(spec, data.connection);
  const channel = channelFor(spec.channel, settings.driver);
  const codec = () => new MessageCodec(spec.sizeBytes, settings.verify);
  const lanes = data.lanes > 1 ? channel.lanes : undefined;
  if (data.lanes > 1 && !lanes) throw new Error(`${spec.channel} carries one request at a time on a connection`);
  const cpu = new CpuWindow(data.lanes);
  let hosted: Hosted | undefined;
  let endpoints: Endpoint[] = [];
  try {
    if (data.role === 'responder') {
      const hostedLanes = lanes ? await lanes.hostLanes(ctx, data.lanes) : undefined;
      hosted = hostedLanes ?? (await channel.host(ctx));
      post({ type: 'params', params: hosted.params });
      endpoints = hostedLanes ? await hostedLanes.acceptLanes() : [await hosted.accept()];
      const outcomes = await Promise.all(
        endpoints.map((e) => runResponder(e, codec(), spec.mode, undefined, cpu.clock)),
      );
      const responder = { ...mergedResponder(outcomes), cpu: cpu.total() };
      return { type: 'measured', responder, details: endpoints[0]!.details() };
    }
    const flag = new Int32Array(data.stopFlag);
    const stop: StopPoll = {
      get signal() {
        return Atomics.load(flag, 0) !== 0 ? 'SIGTERM' : undefined;
      },
    };
    const params = data.params ?? {};
    endpoints = lanes ? await lanes.joinLanes(ctx, params, data.lanes) : [await channel.join(ctx, params)];
    // Every lane's warm-up ends, then every thread's, before any timed part starts.
    const warmed = barrier(endpoints.length, () => startTogether(flag, data.threads, settings.peerTimeoutMs));
    const outcomes = await Promise.all(
      endpoints.map((e) =>
        runInitiator(e, codec(), spec.mode, settings, stop, {
          pacing: data.pacing,
          cpuClock: cpu.clock,
          beforeTimed: warmed,
        }),
      ),
    );
    const initiator = { ...mergedInitiator(outcomes), cpu: cpu.total() };
    return { type: 'measured', initiator: posted(initiator), details: endpoints[0]!.details() };
  } finally {
    for (const e of endpoints) e.close();
    hosted?.dispose();
  }
}

/** The thread's work: measure, then post the outcome or the failure (after closing everything). */
export async function runConnectionWorker(data: ConnectionWorkerData): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('a connection worker runs on a worker thread');
  const post = (m: ConnectionMessage) => port.postMessage(m);
  let last: ConnectionMessage;
  try {
    last = await measure(data, post);
  } catch (err) {
    last = { type: 'failed', reason: reasonOf(err) };
  }
  post(last);
}
