/**
 * What a protocol costs on top of the raw channel it rides on: every case of a channel whose
 * registry entry names `ridesOn` (http1 → tcp, h2-uds → uds …) beside that channel's case of the
 * same mode and size in the same run, which the planner adds when it was not asked for.
 *
 * Differences are taken repeat by repeat (repeat i of the protocol against repeat i of the raw
 * channel, run minutes apart at most) and shown with their spread over the repeats, so a
 * difference smaller than the noise reads as such instead of as a lone, possibly negative,
 * "added latency". Wire bytes are the responder's count (see agents/channels/http-exchange.ts).
 */
import { CHANNELS, channelInfo, type ChannelId } from '../agents/contract/channels.js';
import { MODES } from '../agents/contract/modes.js';
import type { CaseResult, ResultsDocument } from '../agents/contract/schema.js';
import { groupCases, median, type CaseGroup } from './case-groups.js';
import { formatCount, formatCpuUs, formatSize, formatUs, orDash } from './format.js';

/** A difference over the repeat pairs: its median, smallest and largest, and how many pairs. */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly pairs: number;
}

/** The percentiles compared, as the latency summary names them. */
export const COST_PERCENTILES = ['p50', 'p99', 'p999'] as const;
type Percentile = (typeof COST_PERCENTILES)[number];

/** One protocol case group beside its raw channel's. */
export interface ProtocolCost {
  readonly protocol: CaseGroup;
  /** The raw channel's group of the same mode and size; undefined when the run has none measured. */
  readonly raw: CaseGroup | undefined;
  readonly rawChannel: ChannelId;
  /** How the run drove the raw channel: blocking libc calls (the default) or Node's net.Socket. */
  readonly rawDriver: 'libc' | 'node';
  /** Latency modes: protocol − raw round trip at each percentile, nanoseconds. */
  readonly addedNs?: { readonly [p in Percentile]: Spread };
  /** Throughput modes: protocol messages/s ÷ raw messages/s. */
  readonly rateRatio?: Spread;
  /** CPU per message added on each side, microseconds. */
  readonly addedCpuUs?: { readonly initiator: Spread; readonly responder: Spread };
  /** Bytes on the wire per message as the responder read and wrote them (medians over the repeats). */
  readonly wireBytes?: { readonly request?: number; readonly answer?: number };
}

function spreadOf(values: readonly number[]): Spread | undefined {
  if (!values.length) return undefined;
  return { median: median(values)!, min: Math.min(...values), max: Math.max(...values), pairs: values.length };
}

/** Repeat i of `protocol` with repeat i of `raw`, both measured. */
function pairs(protocol: CaseGroup, raw: CaseGroup): [CaseResult, CaseResult][] {
  return protocol.ok.flatMap((p) => {
    const r = raw.ok.find((c) => c.repeat === p.repeat);
    return r ? [[p, r] as [CaseResult, CaseResult]] : [];
  });
}

/** A number from a case's details, if it is one. */
const detail = (c: CaseResult, key: string): number | undefined =>
  typeof c.details?.[key] === 'number' ? c.details[key] : undefined;

/** The responder's wire bytes per request and per answer, medians over the group's repeats. */
function wireBytes(g: CaseGroup): ProtocolCost['wireBytes'] {
  const of = (key: string) => median(g.ok.flatMap((c) => detail(c, key) ?? []));
  const request = of('responder.wireBytesInPerMessage');
  const answer = of('responder.wireBytesOutPerMessage');
  return request === undefined && answer === undefined ? undefined : { request, answer };
}

/** The difference between one protocol case and the raw one it is paired with. */
function differences(cases: readonly [CaseResult, CaseResult][]) {
  const latency = (p: Percentile) =>
    spreadOf(cases.flatMap(([a, b]) => (a.latencyNs && b.latencyNs ? [a.latencyNs[p] - b.latencyNs[p]] : [])));
  const rate = spreadOf(
    cases.flatMap(([a, b]) =>
      a.throughput && b.throughput && b.throughput.messagesPerSec > 0
        ? [a.throughput.messagesPerSec / b.throughput.messagesPerSec]
        : [],
    ),
  );
  const cpu = (side: 'initiator' | 'responder') =>
    spreadOf(cases.flatMap(([a, b]) => (a.cpu && b.cpu ? [a.cpu[side].perMessageUs - b.cpu[side].perMessageUs] : [])));
  const [p50, p99, p999] = COST_PERCENTILES.map(latency);
  const initiator = cpu('initiator');
  const responder = cpu('responder');
  return {
    ...(p50 && p99 && p999 ? { addedNs: { p50, p99, p999 } } : {}),
    ...(rate ? { rateRatio: rate } : {}),
    ...(initiator && responder ? { addedCpuUs: { initiator, responder } } : {}),
  };
}

/** The raw channel a channel rides on, if it is a protocol. */
export const rawChannelOf = (channel: string): ChannelId | undefined =>
  Object.hasOwn(CHANNELS, channel) ? channelInfo(channel as ChannelId).ridesOn : undefined;

/** Every measured protocol case group of a run beside its raw channel's, in plan order. */
export function protocolCosts(doc: ResultsDocument): ProtocolCost[] {
  const groups = groupCases(doc);
  const rawDriver = doc.run.settings.driver ?? 'libc';
  return groups.flatMap((protocol) => {
    const rawChannel = rawChannelOf(protocol.channel);
    // Paced cases are weighed against rates (the rate report), not against the raw channel's.
    if (!rawChannel || !protocol.ok.length || MODES[protocol.mode].paced) return [];
    const raw = groups.find(
      (g) =>
        g.channel === rawChannel &&
        g.mode === protocol.mode &&
        g.sizeBytes === protocol.sizeBytes &&
        g.connections === protocol.connections &&
        !protocol.inFlight && // the raw channel keeps one request in flight per connection
        g.ok.length,
    );
    return [
      {
        protocol,
        raw,
        rawChannel,
        rawDriver,
        wireBytes: wireBytes(protocol),
        ...(raw ? differences(pairs(protocol, raw)) : {}),
      },
    ];
  });
}

/**
 * A difference in words, never a lone negative: `+221.3 µs (198.0 to 240.1 over 3 repeats)`;
 * `no difference beyond the spread of 3 repeats (−4.1 to 6.0 µs)`; with one repeat, a value
 * below zero reads as `none measured (−2.1 µs, one repeat)`.
 */
export function describeSpread(s: Spread, show: (v: number) => string, unit: string): string {
  const signed = (v: number) => (v < 0 ? `−${show(-v)}` : `+${show(v)}`);
  if (s.pairs === 1)
    return s.median > 0 ? `${signed(s.median)} ${unit}` : `none measured (${signed(s.median)} ${unit})`;
  const range = `${signed(s.min)} to ${signed(s.max)} ${unit}`;
  if (s.min > 0) return `${signed(s.median)} ${unit} (${range} over ${s.pairs} repeats)`;
  if (s.max < 0) return `${signed(s.median)} ${unit}: less than the raw channel in all ${s.pairs} repeats (${range})`;
  return `no difference beyond the spread of ${s.pairs} repeats (${range})`;
}

/** Nanoseconds as `µs` figures in a difference. */
export const describeAddedNs = (s: Spread): string => describeSpread(s, formatUs, 'µs');
/** CPU microseconds per message in a difference. */
export const describeAddedCpu = (s: Spread): string => describeSpread(s, formatCpuUs, 'µs');

/** `193 B / 187 B`: request and answer bytes on the wire per message. */
export function describeWire(w: ProtocolCost['wireBytes']): string | undefined {
  if (!w) return undefined;
  const bytes = (b: number | undefined) => (b === undefined ? '–' : `${formatCount(b)} B`);
  return `${bytes(w.request)} / ${bytes(w.answer)}`;
}

/**
 * The table's note for one protocol case against the raw case of the same repeat: its wire
 * bytes and, with the raw case there, the raw case's p50 (or rate) and CPU beside the protocol's
 * own columns: both values, not a one-repeat difference that noise could turn negative.
 */
export function protocolCaseNote(c: CaseResult, doc: ResultsDocument): string | undefined {
  const rawChannel = rawChannelOf(c.channel);
  if (!rawChannel || c.status !== 'ok') return undefined;
  const parts: string[] = [];
  const request = detail(c, 'responder.wireBytesInPerMessage');
  const answer = detail(c, 'responder.wireBytesOutPerMessage');
  if (request !== undefined) parts.push(`wire ${formatCount(request)}/${formatCount(answer ?? 0)} B per msg`);
  // A paced case stands on its own rate figures (the rate report), not beside the raw channel's.
  if (MODES[c.mode].paced) return parts.join(', ') || undefined;
  const raw = doc.cases.find(
    (r) =>
      r.channel === rawChannel &&
      r.mode === c.mode &&
      r.sizeBytes === c.sizeBytes &&
      r.connections === c.connections &&
      !c.inFlight &&
      r.repeat === c.repeat &&
      r.status === 'ok',
  );
  if (raw) {
    if (c.latencyNs && raw.latencyNs)
      parts.push(`p50 ${formatUs(c.latencyNs.p50)} vs ${rawChannel} ${formatUs(raw.latencyNs.p50)} µs`);
    if (c.throughput && raw.throughput)
      parts.push(
        `${formatCount(c.throughput.messagesPerSec)} vs ${rawChannel} ${formatCount(raw.throughput.messagesPerSec)} msgs/s`,
      );
    if (raw.cpu)
      parts.push(
        `${rawChannel} cpu ${formatCpuUs(raw.cpu.initiator.perMessageUs)}/${formatCpuUs(raw.cpu.responder.perMessageUs)} µs/msg`,
      );
  } else parts.push(`no ${rawChannel} case to compare`);
  return parts.join(', ');
}

/** A table of protocol costs, as text cells (renderers escape and lay them out). */
export interface CostTable {
  readonly title: string;
  readonly headers: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

/**
 * The protocol-cost tables every report shows: one for the cases that time round trips (the
 * added latency at p50, p99 and p99.9), one for the others (the rate against the raw channel's),
 * each with the wire bytes and the CPU added per message on each side.
 */
export function costTables(costs: readonly ProtocolCost[]): CostTable[] {
  const cpu = (c: ProtocolCost, side: 'initiator' | 'responder') =>
    c.addedCpuUs ? describeAddedCpu(c.addedCpuUs[side]) : '–';
  const over = (c: ProtocolCost) =>
    c.raw ? `${c.rawChannel} (${c.rawDriver})` : `${c.rawChannel} (no measured case in this run)`;
  const common = (c: ProtocolCost) => [
    c.protocol.channel,
    over(c),
    formatSize(c.protocol.sizeBytes),
    describeWire(c.wireBytes) ?? '–',
  ];
  const latency = costs.filter((c) => c.protocol.p50Ns !== undefined);
  const rate = costs.filter((c) => c.protocol.messagesPerSec !== undefined);
  const tables: CostTable[] = [];
  if (latency.length)
    tables.push({
      title: 'Round trip',
      headers: [
        'protocol',
        'over',
        'size',
        'wire B request / answer',
        'p50 µs protocol / raw',
        'added p50',
        'added p99',
        'added p99.9',
        'added CPU µs/msg, initiator',
        'responder',
      ],
      rows: latency.map((c) => [
        ...common(c),
        `${orDash(c.protocol.p50Ns, formatUs)} / ${orDash(c.raw?.p50Ns, formatUs)}`,
        ...COST_PERCENTILES.map((p) => (c.addedNs ? describeAddedNs(c.addedNs[p]) : '–')),
        cpu(c, 'initiator'),
        cpu(c, 'responder'),
      ]),
    });
  if (rate.length)
    tables.push({
      title: 'Throughput',
      headers: [
        'protocol',
        'over',
        'size',
        'wire B request / answer',
        'msgs/s protocol / raw',
        'protocol ÷ raw',
        'added CPU µs/msg, initiator',
        'responder',
      ],
      rows: rate.map((c) => [
        ...common(c),
        `${orDash(c.protocol.messagesPerSec, formatCount)} / ${orDash(c.raw?.messagesPerSec, formatCount)}`,
        c.rateRatio ? describeRatio(c.rateRatio) : '–',
        cpu(c, 'initiator'),
        cpu(c, 'responder'),
      ]),
    });
  return tables;
}

/** A ratio with its spread over the repeats: `0.04×` or `0.04× (0.03–0.05, 3 repeats)`. */
function describeRatio(s: Spread): string {
  const x = (v: number) => `${v.toFixed(v < 0.1 ? 3 : 2)}×`;
  return s.pairs === 1 ? x(s.median) : `${x(s.median)} (${x(s.min)}–${x(s.max)}, ${s.pairs} repeats)`;
}

/** What the protocol-cost section says about how to read it. */
export const COST_NOTE =
  'Each protocol case beside the raw channel it rides on, same mode and size, same run. ' +
  'Differences are taken repeat by repeat and shown with their spread; one within the spread reads as none. ' +
  'Wire bytes are what the responder read per request and wrote per answer: headers, framing and flow control included. ' +
  'The protocols run on Node’s event loop; the raw channel runs as the run’s --driver says (in brackets): with libc, ' +
  'the default, the added figures include the event loop’s own cost, and --driver node compares with Node’s net.Socket. ' +
  'In throughput mode HTTP/1.1 and HTTP/2 wait for each 204 while the raw channel streams: ' +
  'the ratio is one request in flight against a stream.';
