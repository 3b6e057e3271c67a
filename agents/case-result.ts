/**
 * Turns what both agents measured in one case into the contract's CaseResult: the latency
 * summary and encoded histogram, throughput as the receiver counted it, CPU per message on each
 * side, placement, and a status with its reason.
 */
import * as hdr from 'hdr-histogram-js';
import { channelInfo } from './contract/channels.js';
import { MODES } from './contract/modes.js';
import type { CaseResult, CaseSpec, CpuCost, Loss, Placement, RunSettings } from './contract/schema.js';
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

function cpuCost(spent: CpuSpent, messages: number): CpuCost {
  const totalUs = spent.userUs + spent.systemUs;
  return { userUs: spent.userUs, systemUs: spent.systemUs, perMessageUs: messages > 0 ? totalUs / messages : 0 };
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
      initiator: cpuCost(initiator.cpu, lossy ? initiator.sent : messages),
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
    const h = initiator.histogram;
    const p999 = h.getValueAtPercentile(99.9);
    result.latencyNs = {
      p50: h.getValueAtPercentile(50),
      p90: h.getValueAtPercentile(90),
      p99: h.getValueAtPercentile(99),
      p999,
      // Percentiles report the top of their bucket and the maximum may not: keep p99.9 <= max.
      max: Math.max(h.maxValue, p999),
      mean: round(h.mean, 1),
      count: h.totalCount,
    };
    result.histogram = hdr.encodeIntoCompressedBase64(h);
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
