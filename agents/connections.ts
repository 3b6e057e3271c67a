/**
 * A case over several connections (`--connections N`), from each agent's main thread: it starts
 * one thread per connection (agents/connection-worker.ts), hands the responder's join parameters
 * across, and adds up what the threads measured into one outcome — counts and CPU time summed,
 * histograms merged, the longest timed part — so the case's result reads as a single
 * connection's does, with CPU per message still per message.
 */
import { Worker } from 'node:worker_threads';
import * as hdr from 'hdr-histogram-js';
import type { JoinParams } from './channels/channel.js';
import { agentEntry } from './agent-entry.js';
import type { CaseSpec } from './contract/schema.js';
import { channelInfo } from './contract/channels.js';
import type { ConnectionMessage, ConnectionWorkerData, PostedInitiatorOutcome } from './connection-worker.js';
import type { InitiatorOutcome, Pacing, ResponderOutcome } from './measure/loop.js';
import { mergedDetails, mergedInitiator, mergedResponder } from './outcome-merge.js';
import type { RunContext } from './run-context.js';

type Details = Record<string, number | string | boolean>;

/** How long a thread may take to answer beyond the case's own time. */
const THREAD_GRACE_MS = 2000;

/** One connection's thread and the two answers it gives: its join parameters, then its outcome. */
class ConnectionThread {
  private readonly worker: Worker;
  /** Responder: the parameters it hosted with. */
  readonly params: Promise<JoinParams>;
  /** What it measured, or why it failed. */
  readonly done: Promise<Extract<ConnectionMessage, { type: 'measured' }>>;

  constructor(
    data: ConnectionWorkerData,
    readonly connection: number,
  ) {
    // The agent's own entry point (main.ts, or the bundle) runs the connection worker on a thread.
    this.worker = new Worker(agentEntry(), { workerData: data });
    let gotParams!: (p: JoinParams) => void;
    let noParams!: (e: Error) => void;
    let finished!: (m: Extract<ConnectionMessage, { type: 'measured' }>) => void;
    let failed!: (e: Error) => void;
    this.params = new Promise((resolve, reject) => ((gotParams = resolve), (noParams = reject)));
    this.done = new Promise((resolve, reject) => ((finished = resolve), (failed = reject)));
    // Both may go unawaited when another connection fails first.
    this.params.catch(() => undefined);
    this.done.catch(() => undefined);
    const fail = (reason: string) => {
      const err = new Error(`connection ${connection + 1}: ${reason}`);
      noParams(err);
      failed(err);
    };
    this.worker.on('message', (m: ConnectionMessage) => {
      if (m.type === 'params') gotParams(m.params);
      else if (m.type === 'measured') finished(m);
      else fail(m.reason);
    });
    this.worker.on('error', (err) => fail(err.message));
    this.worker.on('exit', (code) => fail(`its thread ended (exit code ${code}) before it answered`));
  }

  /** Ends the thread; harmless once it has answered. */
  terminate(): void {
    void this.worker.terminate();
  }
}

/** Waits for `promise` at most `timeoutMs`. */
async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * How a case's connections are laid out: threads, each with its own instance of the channel,
 * and lanes (loops) per thread. A channel whose connections are streams (h2, grpc) has a thread
 * per session and its connections, times the requests each keeps in flight, as lanes on it;
 * every other channel a thread per connection, one lane each.
 */
export function connectionLayout(spec: CaseSpec): { threads: number; lanes: number } {
  const connections = spec.connections ?? 1;
  if (channelInfo(spec.channel).concurrency !== 'streams') return { threads: connections, lanes: 1 };
  const threads = spec.sessions ?? 1;
  if (threads > connections || connections % threads !== 0)
    throw new Error(`case ${spec.index}: ${connections} connections do not spread evenly over ${threads} sessions`);
  return { threads, lanes: (connections / threads) * (spec.inFlight ?? 1) };
}

/** Whether a case runs on connection threads (more than one connection, session or request in flight). */
export const runsOnThreads = (spec: CaseSpec): boolean =>
  spec.connections !== undefined || spec.sessions !== undefined || spec.inFlight !== undefined;

/** The words the initiator threads share (stop, warmed, go: see connection-worker.ts). */
const SHARED_BYTES = 3 * Int32Array.BYTES_PER_ELEMENT;

function threadData(
  run: RunContext,
  spec: CaseSpec,
  connection: number,
  stopFlag = new SharedArrayBuffer(SHARED_BYTES),
): Omit<ConnectionWorkerData, 'role'> {
  const { threads, lanes } = connectionLayout(spec);
  return {
    plan: run.plan,
    dirs: run.dirs,
    limits: run.limits,
    index: spec.index,
    connection,
    threads,
    lanes,
    stopFlag,
  };
}

const caseTimeMs = (run: RunContext) => {
  const { peerTimeoutMs, warmupMs, durationMs } = run.plan.settings;
  return peerTimeoutMs + warmupMs + durationMs + THREAD_GRACE_MS;
};

/** A thread's posted outcome with its histograms decoded. */
function decoded(o: PostedInitiatorOutcome): InitiatorOutcome {
  const { histogram, paced, ...rest } = o;
  const decode = (e: string) => hdr.decodeFromCompressedBase64(e);
  return {
    ...rest,
    ...(histogram ? { histogram: decode(histogram) } : {}),
    ...(paced ? { paced: { ...paced, service: decode(paced.service), sendLag: decode(paced.sendLag) } } : {}),
  };
}

/** Waits for every thread's outcome; the first failure fails them all. */
async function outcomesOf(threads: readonly ConnectionThread[], timeoutMs: number) {
  return within(Promise.all(threads.map((t) => t.done)), timeoutMs, 'not every connection finished');
}

/** The responder's connections, hosted: their join parameters, and their outcome to come. */
export interface HostedConnections {
  readonly params: readonly JoinParams[];
  /** The merged outcome, with the first connection's details and the count. */
  outcome(): Promise<{ outcome: ResponderOutcome; details: Details }>;
  /** Ends every thread (each has closed its channel once it answered; a signal's exit needs no more). */
  dispose(): void;
}

/** Responder: hosts the case's instances of the channel, one thread each (see {@link connectionLayout}). */
export async function hostConnections(run: RunContext, spec: CaseSpec): Promise<HostedConnections> {
  const n = connectionLayout(spec).threads;
  const threads = Array.from(
    { length: n },
    (_, i) => new ConnectionThread({ ...threadData(run, spec, i), role: 'responder' }, i),
  );
  const dispose = () => threads.forEach((t) => t.terminate());
  try {
    const params = await within(
      Promise.all(threads.map((t) => t.params)),
      run.plan.settings.connectTimeoutMs,
      'not every connection was hosted',
    );
    return {
      params,
      async outcome() {
        const done = await outcomesOf(threads, caseTimeMs(run));
        return {
          outcome: mergedResponder(done.map((d) => d.responder!)),
          details: mergedDetails(done.map((d) => d.details)),
        };
      },
      dispose,
    };
  } catch (err) {
    dispose();
    throw err;
  }
}

/**
 * Initiator: joins each hosted connection on a thread of its own and runs them together, each
 * with its share of the target rate; a stop asked for on the main thread reaches every thread.
 * The threads outlive their answer until `release` (the caller's, once the responder has
 * answered too): a protocol client closes after its last call is answered, on its thread's event
 * loop, and ending the thread sooner would cut that call off.
 */
export async function initiateConnections(
  run: RunContext,
  spec: CaseSpec,
  params: readonly JoinParams[],
  pacing: Pacing | undefined,
  release: Promise<unknown>,
): Promise<{ outcome: InitiatorOutcome; details: Details }> {
  const layout = connectionLayout(spec);
  if (params.length !== layout.threads)
    throw new Error(`the responder hosted ${params.length} of ${layout.threads} connections`);
  const stopFlag = new SharedArrayBuffer(SHARED_BYTES);
  // Every lane paces its own share of the target rate.
  const share = pacing && { ...pacing, ratePerSec: pacing.ratePerSec / (layout.threads * layout.lanes) };
  const threads = params.map(
    (p, i) =>
      new ConnectionThread(
        {
          ...threadData(run, spec, i, stopFlag),
          role: 'initiator',
          params: p,
          ...(share ? { pacing: { ...share, phase: i / layout.threads } } : {}),
        },
        i,
      ),
  );
  // Signal handlers run on this thread's event loop; the threads read the flag between chunks.
  const watch = setInterval(() => {
    if (run.stop.signal !== undefined) Atomics.store(new Int32Array(stopFlag), 0, 1);
  }, 50);
  try {
    const done = await outcomesOf(threads, caseTimeMs(run));
    return {
      outcome: mergedInitiator(done.map((d) => decoded(d.initiator!))),
      details: mergedDetails(done.map((d) => d.details)),
    };
  } finally {
    clearInterval(watch);
    void release.finally(() => threads.forEach((t) => t.terminate()));
  }
}
