/**
 * Turns what both agents measured in one case into the contract's CaseResult: the latency
 * summary and encoded histogram, throughput as the receiver counted it, CPU per message on each
 * side, placement, and a status with its reason.
 */
import * as hdr from 'hdr-histogram-js';
import { channelInfo } from './contract/channels.js';
import { MODES, RATE_DEFAULTS } from './contract/modes.js';
import type {
  CaseResult,
  CaseSpec,
  CpuCost,
  LatencySummary,
  Loss,
  Placement,
  Rate,
  RunSettings,
} from './contract/schema.js';
import type { ResponderReport } from './control.js';
import type { CpuSpent, InitiatorOutcome } from './measure/loop.js';

type Details = Record<string, number | string | boolean>;

/** A result with nothing measured, for skipped, failed and interrupted cases. */
export function emptyResult(
  spec: CaseSpec,
  settings: RunSettings,
  status: Exclude<CaseResult['status'], 'ok'>,
  reason: string,
  details: Details = {},
): CaseResult {
  return { ...spec, status, reason, durationMs: 0, messages: 0, bytes: 0, errors: 0, verify: settings.verify, details };
}

/** CPU per message; `excludedUs` (the pacer's waits) is left out of it, not out of user and system. */
function cpuCost(spent: CpuSpent, messages: number, excludedUs = 0): CpuCost {
  const totalUs = Math.max(0, spent.userUs + spent.systemUs - excludedUs);
  return { userUs: spent.userUs, systemUs: spent.systemUs, perMessageUs: messages > 0 ? totalUs / messages : 0 };
}

/** A histogram's summary (ns). */
function summaryOf(h: hdr.Histogram): LatencySummary {
  const p999 = h.getValueAtPercentile(99.9);
  return {
    p50: h.getValueAtPercentile(50),
    p90: h.getValueAtPercentile(90),
    p99: h.getValueAtPercentile(99),
    p999,
    // Percentiles report the top of their bucket and the maximum may not: keep p99.9 <= max.
    max: Math.max(h.maxValue, p999),
    mean: round(h.mean, 1),
    count: h.totalCount,
  };
}

/** The share of the intended rate a paced case must achieve to have held its rate. */
export const HELD_SHARE = 0.99;

/**
 * What a paced case's schedule came to. The rates are over the timed part as it ran. A rate held
 * when the replies completed came to 99 % of the messages the schedule intended: with uniform
 * arrival that is the target itself (within one message); with Poisson arrival the schedule's own
 * count, which differs from the target by chance (±1/√n).
 */
function rateOf(spec: CaseSpec, settings: RunSettings, initiator: InitiatorOutcome): Rate | undefined {
  const paced = initiator.paced;
  if (!paced || spec.targetRatePerSec === undefined) return undefined;
  const seconds = initiator.durationMs / 1000;
  const perSec = (n: number) => (seconds > 0 ? round(n / seconds, 1) : 0);
  const completed = initiator.messages;
  return {
    targetPerSec: spec.targetRatePerSec,
    arrival: settings.arrival ?? RATE_DEFAULTS.arrival,
    onLate: settings.onLate ?? RATE_DEFAULTS.onLate,
    intended: paced.intended,
    sent: initiator.sent,
    completed,
    late: paced.late,
    dropped: paced.dropped,
    intendedPerSec: perSec(paced.intended),
    sentPerSec: perSec(initiator.sent),
    completedPerSec: perSec(completed),
    held: paced.intended > 0 && completed >= HELD_SHARE * paced.intended,
    serviceNs: summaryOf(paced.service),
    serviceHistogram: hdr.encodeIntoCompressedBase64(paced.service),
    sendLagNs: summaryOf(paced.sendLag),
    sendLagHistogram: hdr.encodeIntoCompressedBase64(paced.sendLag),
    pacerCpuUs: Math.round(paced.pacerCpuUs),
  };
}

function prefixed(prefix: string, details: Details): Details {
  return Object.fromEntries(Object.entries(details).map(([k, v]) => [`${prefix}.${k}`, v]));
}

const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * A lossy channel's losses: round trips as the initiator saw them (latency mode), or messages as
 * the responder received them (throughput mode). Undefined for other channels.
 */
function lossOf(m: MeasuredCase, lossTimeoutMs: number): Loss | undefined {
  if (!channelInfo(m.spec.channel).lossy) return undefined;
  const { initiator, responder } = m;
  const sent = initiator.sent;
  const counted = initiator.losses
    ? initiator.losses
    : {
        lost: Math.max(0, sent - responder.messages),
        reordered: responder.arrivals?.reordered ?? 0,
        duplicated: responder.arrivals?.duplicated ?? 0,
      };
  return {
    sent,
    lost: counted.lost,
    reordered: counted.reordered,
    duplicated: counted.duplicated,
    lossRate: sent > 0 ? round(counted.lost / sent, 6) : 0,
    timeoutMs: initiator.losses?.timeoutMs ?? lossTimeoutMs,
  };
}

/** Everything measured in a case that ran to its end. */
export interface MeasuredCase {
  readonly spec: CaseSpec;
  readonly settings: RunSettings;
  readonly initiator: InitiatorOutcome;
  readonly initiatorPlacement: Placement;
  readonly initiatorDetails: Details;
  readonly responder: ResponderReport;
  /** Facts the channel decided before the case (e.g. queue depth). */
  readonly plannedDetails: Details;
}

/** Builds the result of a case that ran; it fails when any message failed verification. */
export function measuredResult(m: MeasuredCase): CaseResult {
  const { spec, initiator, responder } = m;
  const mode = MODES[spec.mode];
  const messages = mode.countedBy === 'initiator' ? initiator.messages : responder.messages;
  const errors = initiator.errors + responder.errors;
  const lossy = channelInfo(spec.channel).lossy === true;
  const result: CaseResult = {
    ...spec,
    status: 'ok',
    durationMs: round(initiator.durationMs),
    messages,
    bytes: initiator.bytes + responder.bytes,
    errors,
    verify: m.settings.verify,
    // A lossy channel's initiator spent its CPU on every message it sent, delivered or not.
    cpu: {
      initiator: cpuCost(initiator.cpu, lossy ? initiator.sent : messages, initiator.paced?.pacerCpuUs),
      responder: cpuCost(responder.cpu, messages),
    },
    placement: { initiator: m.initiatorPlacement, responder: responder.placement },
    details: {
      ...m.plannedDetails,
      ...prefixed('initiator', m.initiatorDetails),
      ...prefixed('responder', responder.details),
    },
  };
  const loss = lossOf(m, Number(m.plannedDetails.lossTimeoutMs ?? 0));
  if (loss) result.loss = loss;
  if (mode.recordsRoundTrips && initiator.histogram) {
    result.latencyNs = summaryOf(initiator.histogram);
    result.histogram = hdr.encodeIntoCompressedBase64(initiator.histogram);
    const rate = rateOf(spec, m.settings, initiator);
    if (rate) {
      result.rate = rate;
      // The achieved rate, as throughput mode gives its rate: completed messages each way.
      result.throughput = {
        messagesPerSec: rate.completedPerSec,
        bytesPerSec: Math.round(rate.completedPerSec * spec.sizeBytes),
      };
    }
  } else if (mode.countedBy === 'responder') {
    // The receiver's rate between its first and last timed message: n-1 intervals.
    const messagesPerSec =
      responder.messages > 1 && responder.spanMs > 0 ? ((responder.messages - 1) * 1000) / responder.spanMs : 0;
    result.throughput = {
      messagesPerSec: round(messagesPerSec, 1),
      bytesPerSec: Math.round(messagesPerSec * spec.sizeBytes),
    };
    if (responder.messages < 2) {
      result.status = 'failed';
      result.reason = `only ${responder.messages} timed message(s) reached the responder; use a longer --duration`;
    } else if (!loss && responder.messages !== initiator.sent) {
      result.status = 'failed';
      result.reason = `the initiator sent ${initiator.sent} timed messages but the responder received ${responder.messages}`;
    }
  }
  if (errors > 0) {
    result.status = 'failed';
    result.reason = `${errors} message(s) failed verification (first: ${initiator.firstError ?? responder.firstError})`;
  }
  return result;
}
