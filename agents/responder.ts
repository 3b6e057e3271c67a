/**
 * The responder: listens for the initiator, and for each case hosts the channel, hands over the
 * join parameters, runs its side of the loop and reports what it counted.
 */
import { channelFor } from './channels/registry.js';
import type { Endpoint, Hosted } from './channels/channel.js';
import { ControlConnection, type ControlMessage } from './control.js';
import { SCHEMA_VERSION, type CaseSpec } from './contract/schema.js';
import { hostConnections, runsOnThreads, type HostedConnections } from './connections.js';
import { runResponder, type EndSignal } from './measure/loop.js';
import { channelInfo } from './contract/channels.js';
import { MessageCodec } from './measure/message.js';
import { peakRssKiB } from './peak-memory.js';
import { startPlacement } from './placement.js';
import { reasonOf, type RunContext } from './run-context.js';

/** The channel of the case in progress, so a signal handler can remove it. */
let current: Hosted | undefined;

/** Removes the channel of the case in progress, if any (for signal handlers). */
export function disposeCurrentChannel(): void {
  current?.dispose();
  current = undefined;
}

/** Serves a case over several connections, each hosted and measured on a thread of its own. */
async function serveConnections(run: RunContext, control: ControlConnection, spec: CaseSpec): Promise<ControlMessage> {
  const index = spec.index;
  let hosted: HostedConnections;
  try {
    hosted = await hostConnections(run, spec);
  } catch (err) {
    return { type: 'failed', index, reason: `responder could not create the channel: ${reasonOf(err)}` };
  }
  current = {
    params: hosted.params[0]!,
    accept: () => Promise.reject(new Error('hosted on threads')),
    dispose: hosted.dispose,
  };
  try {
    const [first, ...more] = hosted.params;
    await control.send({ type: 'ready', index, params: first!, more });
    const placement = startPlacement();
    const { outcome, details } = await hosted.outcome();
    return {
      type: 'report',
      index,
      report: { ...outcome, placement: placement.finish(), details: { ...details, peakRssKiB: peakRssKiB() } },
    };
  } catch (err) {
    return { type: 'failed', index, reason: reasonOf(err) };
  } finally {
    disposeCurrentChannel();
  }
}

async function serveCase(run: RunContext, control: ControlConnection, index: number): Promise<ControlMessage> {
  const spec = run.plan.cases[index];
  if (!spec) return { type: 'failed', index, reason: `the plan has no case ${index}` };
  if (runsOnThreads(spec)) return serveConnections(run, control, spec);
  const ctx = run.channelContext(spec);
  try {
    current = await channelFor(spec.channel, run.plan.settings.driver).host(ctx);
  } catch (err) {
    return { type: 'failed', index, reason: `responder could not create the channel: ${reasonOf(err)}` };
  }
  let endpoint: Endpoint | undefined;
  let end: ReturnType<typeof awaitEnd> | undefined;
  try {
    await control.send({ type: 'ready', index, params: current.params });
    const placement = startPlacement();
    const accepted = (endpoint = await current.accept());
    end = channelInfo(spec.channel).lossy ? awaitEnd(control, index, run) : undefined;
    const codec = new MessageCodec(spec.sizeBytes, run.plan.settings.verify);
    const outcome = await runResponder(accepted, codec, spec.mode, end?.signal);
    return {
      type: 'report',
      index,
      report: {
        ...outcome,
        placement: placement.finish(),
        details: { ...endpoint.details(), peakRssKiB: peakRssKiB() },
      },
    };
  } catch (err) {
    return { type: 'failed', index, reason: reasonOf(err) };
  } finally {
    endpoint?.close();
    disposeCurrentChannel();
    // The end of a lossy case still comes on the control connection (the loop may have ended on
    // the end flag, or failed): it is this case's, and only one reader may wait on the connection.
    await end?.received;
  }
}

/**
 * A lossy channel's end of case on the control connection: the signal its loop reads, and a
 * promise that settles once the message came (or the connection ended), bounded.
 */
function awaitEnd(
  control: ControlConnection,
  index: number,
  run: RunContext,
): { signal: EndSignal; received: Promise<void> } {
  const signal: EndSignal = { sent: undefined, gone: undefined };
  const { peerTimeoutMs, warmupMs, durationMs } = run.plan.settings;
  const received = control.receiveFor(index, peerTimeoutMs + warmupMs + durationMs).then(
    (message) => {
      if (message.type === 'end') signal.sent = message.sent;
      else signal.gone = `it sent ${message.type} instead of the end of case ${index}`;
    },
    (err: unknown) => {
      signal.gone = reasonOf(err);
    },
  );
  return { signal, received };
}

/** Runs the responder until the initiator says bye; returns the exit code. */
export async function respond(run: RunContext): Promise<number> {
  const { settings, runId } = run.plan;
  const control = await ControlConnection.accept(
    run.controlPath,
    Date.now() + settings.connectTimeoutMs,
    settings.connectTimeoutMs,
  );
  try {
    const hello = await control.receive(settings.connectTimeoutMs);
    if (hello.type !== 'hello' || hello.runId !== runId || hello.schemaVersion !== SCHEMA_VERSION) {
      throw new Error(`the initiator belongs to another run or podbench version (got ${JSON.stringify(hello)})`);
    }
    await control.send({ type: 'hello', runId, schemaVersion: SCHEMA_VERSION });
    for (;;) {
      // Between cases the initiator only reports the last one; it sends the next "open" at once.
      const message = await control.receive(settings.connectTimeoutMs);
      if (message.type === 'bye') return 0;
      if (message.type === 'end') continue; // the end of a case this side had already given up on
      if (message.type !== 'open') throw new Error(`unexpected control message ${message.type}`);
      // A stop asked for during the case takes effect once the initiator has its answer.
      await run.stop.during(async () => control.send(await serveCase(run, control, message.index)));
    }
  } finally {
    control.close();
    run.journal.removeAll();
  }
}
