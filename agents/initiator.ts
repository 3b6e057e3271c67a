/**
 * The initiator: meets the responder, runs every case of the plan in order and prints one tagged
 * line per event on stdout (see {@link EVENT_TAG}) for the orchestrator.
 */
import { emptyResult, measuredResult } from './case-result.js';
import { channelFor } from './channels/registry.js';
import { channelInfo } from './contract/channels.js';
import type { Endpoint } from './channels/channel.js';
import { ControlConnection, type ControlMessage } from './control.js';
import {
  EVENT_TAG,
  SCHEMA_VERSION,
  type AgentEvent,
  type CaseResult,
  type CaseSpec,
  type RunSettings,
} from './contract/schema.js';
import { collectEnvironment } from './environment.js';
import { measureHarnessFloor } from './harness-floor.js';
import { runInitiator, type InitiatorOutcome, type Pacing } from './measure/loop.js';
import { MODES, RATE_DEFAULTS } from './contract/modes.js';
import { RateSweeps } from './rate-sweep.js';
import { initiateConnections, runsOnThreads } from './connections.js';
import { MessageCodec } from './measure/message.js';
import { peakRssKiB } from './peak-memory.js';
import { startPlacement } from './placement.js';
import { reasonOf, type RunContext } from './run-context.js';

/** Prints one event line; stdout to a pipe is synchronous on Linux, so lines are never torn. */
export function emit(event: AgentEvent): void {
  process.stdout.write(`${EVENT_TAG}${JSON.stringify(event)}\n`);
}

/** How a paced mode's case paces its sends; undefined for other modes. */
function pacingOf(spec: CaseSpec, settings: RunSettings): Pacing | undefined {
  if (!MODES[spec.mode].paced) return undefined;
  if (spec.targetRatePerSec === undefined) throw new Error(`case ${spec.index} (${spec.mode} mode) has no target rate`);
  return {
    ratePerSec: spec.targetRatePerSec,
    arrival: settings.arrival ?? 'uniform',
    onLate: settings.onLate ?? 'queue',
  };
}

/** Slack on top of the case itself before the responder's report is overdue. */
const REPORT_GRACE_MS = 2000;

async function runCase(
  run: RunContext,
  control: ControlConnection,
  spec: CaseSpec,
  pinNote: string | undefined,
): Promise<CaseResult> {
  // Settles once the case is over on both sides: the threads of a case with several
  // connections live until then (see initiateConnections).
  let over!: () => void;
  const answered = new Promise<void>((resolve) => (over = resolve));
  try {
    return await measureCase(run, control, spec, pinNote, answered);
  } finally {
    over();
  }
}

async function measureCase(
  run: RunContext,
  control: ControlConnection,
  spec: CaseSpec,
  pinNote: string | undefined,
  answered: Promise<void>,
): Promise<CaseResult> {
  const { settings } = run.plan;
  const ctx = run.channelContext(spec);
  const channel = channelFor(spec.channel, settings.driver);
  const feasibility = channel.feasibility(ctx);
  if ('skip' in feasibility) return emptyResult(spec, settings, 'skipped', feasibility.skip);
  const plannedDetails = pinNote ? { ...feasibility.details, pin: pinNote } : feasibility.details;

  await control.send({ type: 'open', index: spec.index });
  let ready: ControlMessage;
  try {
    ready = await control.receiveFor(spec.index, settings.peerTimeoutMs + settings.connectTimeoutMs);
  } catch (err) {
    // A stopped or slow responder fails this case; the run goes on (a gone one ends it below).
    return emptyResult(
      spec,
      settings,
      'failed',
      `the responder did not open the case: ${reasonOf(err)}`,
      plannedDetails,
    );
  }
  if (ready.type === 'failed') return emptyResult(spec, settings, 'failed', ready.reason, plannedDetails);
  if (ready.type !== 'ready' || ready.index !== spec.index)
    throw new Error(`unexpected control message ${ready.type} while opening case ${spec.index}`);

  const placement = startPlacement();
  let endpoint: Endpoint | undefined;
  let outcome: InitiatorOutcome | undefined;
  let loopError: unknown;
  let initiatorDetails = {};
  try {
    const pacing = pacingOf(spec, settings);
    if (runsOnThreads(spec)) {
      const params = [ready.params, ...(ready.more ?? [])];
      const measured = await run.stop.during(() => initiateConnections(run, spec, params, pacing, answered));
      outcome = measured.outcome;
      initiatorDetails = { ...measured.details, peakRssKiB: peakRssKiB() };
    } else {
      endpoint = await channel.join(ctx, ready.params);
      const codec = new MessageCodec(spec.sizeBytes, settings.verify);
      outcome = await run.stop.during(() => runInitiator(endpoint!, codec, spec.mode, settings, run.stop, { pacing }));
      initiatorDetails = { ...endpoint.details(), peakRssKiB: peakRssKiB() };
    }
  } catch (err) {
    loopError = err;
  } finally {
    endpoint?.close();
  }
  // A lossy channel's end flag may be lost: the end of the case also goes on the control
  // connection, also after a failed loop, so the responder's loop ends and it reads nothing else.
  if (channelInfo(spec.channel).lossy && !control.closed)
    await control.send({ type: 'end', index: spec.index, sent: outcome?.sent ?? 0 }).catch(() => undefined);
  const initiatorPlacement = placement.finish();

  // The responder always answers for the case (a report, or why it failed) unless it is gone.
  let answer: ControlMessage;
  try {
    answer = await control.receiveFor(
      spec.index,
      settings.peerTimeoutMs + settings.warmupMs + settings.durationMs + REPORT_GRACE_MS,
    );
  } catch (err) {
    const why = loopError ? `${reasonOf(loopError)}; ` : '';
    return emptyResult(spec, settings, 'failed', `${why}${reasonOf(err)}`, plannedDetails);
  }
  if (loopError || !outcome) {
    const responderSide = answer.type === 'failed' ? ` (responder: ${answer.reason})` : '';
    return emptyResult(spec, settings, 'failed', `${reasonOf(loopError)}${responderSide}`, plannedDetails);
  }
  if (answer.type === 'failed')
    return emptyResult(spec, settings, 'failed', `responder: ${answer.reason}`, plannedDetails);
  if (answer.type !== 'report' || answer.index !== spec.index)
    throw new Error(`unexpected control message ${answer.type} after case ${spec.index}`);
  return measuredResult({
    spec,
    settings,
    initiator: outcome,
    initiatorPlacement,
    initiatorDetails,
    responder: answer.report,
    plannedDetails,
  });
}

/** Runs the whole plan; returns the exit code (0 when every case got a result). */
export async function initiate(run: RunContext, pinNote: string | undefined): Promise<number> {
  const { plan } = run;
  const { settings } = plan;
  emit({ type: 'hello', schemaVersion: SCHEMA_VERSION, runId: plan.runId });
  emit({
    type: 'environment',
    environment: collectEnvironment(run.limits, { disk: run.dirs.disk, tmpfs: run.dirs.tmpfs }),
  });
  const paced = plan.cases.some((c) => MODES[c.mode].paced);
  emit({ type: 'floor', floor: await measureHarnessFloor(undefined, paced) });

  const control = await ControlConnection.connect(
    run.controlPath,
    Date.now() + settings.connectTimeoutMs,
    settings.connectTimeoutMs,
  );
  try {
    await control.send({ type: 'hello', runId: plan.runId, schemaVersion: SCHEMA_VERSION });
    const hello = await control.receive(settings.connectTimeoutMs);
    if (hello.type !== 'hello' || hello.runId !== plan.runId || hello.schemaVersion !== SCHEMA_VERSION) {
      throw new Error(`the responder belongs to another run or podbench version (got ${JSON.stringify(hello)})`);
    }

    const sweeps = new RateSweeps(settings.latencyLimitMs ?? RATE_DEFAULTS.latencyLimitMs);
    for (const spec of plan.cases) {
      emit({ type: 'case-start', case: spec });
      const skip = sweeps.skipReason(spec);
      const result = skip ? emptyResult(spec, settings, 'skipped', skip) : await runCase(run, control, spec, pinNote);
      sweeps.note(result);
      emit({ type: 'case', result });
      if (control.closed) {
        const left = plan.cases.length - spec.index - 1;
        if (left === 0) break;
        emit({ type: 'fatal', message: `the responder is gone (${control.closed}); ${left} case(s) not run` });
        return 1;
      }
    }
    if (!control.closed) await control.send({ type: 'bye' });
    emit({ type: 'done' });
    return 0;
  } finally {
    control.close();
    run.journal.removeAll();
  }
}
