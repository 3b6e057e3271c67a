/**
 * Rate mode in the reports: each channel and size's cases at rising target rates as one curve —
 * latency (from the intended send), service time and send lag against the rate achieved — and
 * its knee, the highest target rate that held within the latency limit. A rate that did not hold
 * is always shown as such, with what was achieved; it never stands in a table as if it held.
 */
import { MODES, RATE_DEFAULTS } from '../agents/contract/modes.js';
import type { CaseResult, LatencySummary, ResultsDocument } from '../agents/contract/schema.js';
import { groupCases, median, seriesName, type CaseGroup } from './case-groups.js';
import { formatCount, formatCpuUs, formatRate, formatSize, formatUs, orDash } from './format.js';

/** One target rate of a curve: medians over its ok repeats. */
export interface RatePoint {
  readonly group: CaseGroup;
  /** No repeat measured anything (every one failed or was interrupted): a miss with no figures. */
  readonly failed: boolean;
  readonly targetPerSec: number;
  /** Completed replies per second (the median over repeats). */
  readonly achievedPerSec: number;
  /** Whether every repeat held its rate. */
  readonly held: boolean;
  /** Whether the p99 latency stayed within the run's latency limit. */
  readonly withinLimit: boolean;
  readonly serviceNs: { readonly p50: number; readonly p99: number; readonly p999: number };
  readonly sendLagNs: { readonly p50: number; readonly p99: number };
  /** Over all repeats. */
  readonly late: number;
  readonly dropped: number;
}

/** One channel, size and connection count at every target rate of the run. */
export interface RateCurve {
  readonly channel: CaseResult['channel'];
  readonly sizeBytes: number;
  /** Parallel connections, when more than one (and for h2 and grpc, sessions and requests in flight). */
  readonly connections: number | undefined;
  readonly sessions: number | undefined;
  readonly inFlight: number | undefined;
  /** By target rate, ascending. */
  readonly points: readonly RatePoint[];
  /** The highest target rate that held within the limit (every lower one held too), if any did. */
  readonly knee: RatePoint | undefined;
  /** Why the curve has no knee, or why its knee is where it is: the first point that did not hold. */
  readonly limitedBy: RatePoint | undefined;
}

/** The run's latency limit (sweep), in milliseconds. */
export const latencyLimitMsOf = (doc: ResultsDocument): number =>
  doc.run.settings.latencyLimitMs ?? RATE_DEFAULTS.latencyLimitMs;

const medianOf = (cases: readonly CaseResult[], read: (c: CaseResult) => number | undefined): number =>
  median(cases.flatMap((c) => (c.rate ? [read(c) ?? 0] : []))) ?? 0;

/** A rate none of whose repeats measured anything: it did not hold, and has no figures. */
function failedPoint(g: CaseGroup, targetPerSec: number): RatePoint {
  return {
    group: g,
    failed: true,
    targetPerSec,
    achievedPerSec: 0,
    held: false,
    withinLimit: false,
    serviceNs: { p50: 0, p99: 0, p999: 0 },
    sendLagNs: { p50: 0, p99: 0 },
    late: 0,
    dropped: 0,
  };
}

/**
 * A group's point on its curve; undefined for one that was not run at all (skipped: a sweep's
 * steps above its end, a limit), which is no point of the curve.
 */
function pointOf(g: CaseGroup, limitMs: number): RatePoint | undefined {
  if (g.targetRatePerSec === undefined || g.cases.every((c) => c.status === 'skipped')) return undefined;
  const measured = g.ok.filter((c) => c.rate);
  if (!measured.length) return failedPoint(g, g.targetRatePerSec);
  const summary = (pick: (c: CaseResult) => LatencySummary, p: keyof LatencySummary) =>
    medianOf(measured, (c) => pick(c)[p]);
  const service = (c: CaseResult) => c.rate!.serviceNs;
  const lag = (c: CaseResult) => c.rate!.sendLagNs;
  return {
    group: g,
    failed: false,
    targetPerSec: g.targetRatePerSec,
    achievedPerSec: medianOf(measured, (c) => c.rate!.completedPerSec),
    held: measured.length === g.cases.length && measured.every((c) => c.rate!.held),
    withinLimit: (g.p99Ns ?? Infinity) <= limitMs * 1e6,
    serviceNs: { p50: summary(service, 'p50'), p99: summary(service, 'p99'), p999: summary(service, 'p999') },
    sendLagNs: { p50: summary(lag, 'p50'), p99: summary(lag, 'p99') },
    late: measured.reduce((n, c) => n + c.rate!.late, 0),
    dropped: measured.reduce((n, c) => n + c.rate!.dropped, 0),
  };
}

/** The rate curves of a run, in plan order. */
export function rateCurves(doc: ResultsDocument): RateCurve[] {
  const limitMs = latencyLimitMsOf(doc);
  type Curve = Pick<RateCurve, 'channel' | 'sizeBytes' | 'connections' | 'sessions' | 'inFlight'> & {
    groups: CaseGroup[];
  };
  const byCurve = new Map<string, Curve>();
  for (const g of groupCases(doc)) {
    if (!MODES[g.mode].paced) continue;
    const key = `${g.channel}/${g.sizeBytes}/${seriesName(g)}`;
    const curve = byCurve.get(key) ?? {
      channel: g.channel,
      sizeBytes: g.sizeBytes,
      connections: g.connections,
      sessions: g.sessions,
      inFlight: g.inFlight,
      groups: [],
    };
    curve.groups.push(g);
    byCurve.set(key, curve);
  }
  return [...byCurve.values()].flatMap(({ groups, ...identity }) => {
    const points = groups.flatMap((g) => pointOf(g, limitMs) ?? []).sort((a, b) => a.targetPerSec - b.targetPerSec);
    if (!points.length) return [];
    const firstMiss = points.findIndex((p) => !p.held || !p.withinLimit);
    const knee = firstMiss < 0 ? points.at(-1) : points[firstMiss - 1];
    return [{ ...identity, points, knee, limitedBy: firstMiss < 0 ? undefined : points[firstMiss] }];
  });
}

/** A curve's channel, with its connections when more than one: `tcp ×4`. */
export const curveName = (c: Pick<RateCurve, 'channel' | 'connections' | 'sessions' | 'inFlight'>): string =>
  seriesName({ channel: c.channel, connections: c.connections, sessions: c.sessions, inFlight: c.inFlight });

/** Whether a point held, in a word or two: `held`, `not held`, `over limit`. */
export function heldWord(p: Pick<RatePoint, 'held' | 'withinLimit' | 'failed'>): string {
  if (p.failed) return 'failed';
  return !p.held ? 'not held' : p.withinLimit ? 'held' : 'over limit';
}

/** The knee in words: `20k/s (p99 84.1 µs)`, or why there is none. */
export function describeKnee(curve: RateCurve, limitMs: number): string {
  const miss = curve.limitedBy;
  const missed =
    miss &&
    (miss.failed
      ? 'failed'
      : miss.held
        ? `passed the ${limitMs} ms p99 limit`
        : `did not hold (${formatCount(miss.achievedPerSec)}/s achieved)`);
  const why = miss ? `; ${formatRate(miss.targetPerSec)} ${missed}` : '; the highest rate run held';
  if (!curve.knee) return `none: below ${formatRate(curve.points[0]!.targetPerSec)}${why}`;
  return `${formatRate(curve.knee.targetPerSec)} (p99 ${orDash(curve.knee.group.p99Ns, formatUs)} µs)${why}`;
}

/** The rate table's columns. */
export const RATE_HEADERS = [
  'channel',
  'size',
  'target',
  'achieved /s',
  'held',
  'latency p50 µs',
  'p99',
  'p99.9',
  'service p50 µs',
  'p99',
  'p99.9',
  'send lag p50 µs',
  'p99',
  'late',
  'dropped',
  'CPU µs/msg i / r',
] as const;

/** The rate table's rows: every point of every curve. */
export function rateRows(curves: readonly RateCurve[]): string[][] {
  return curves.flatMap((curve) =>
    curve.points.map((p) =>
      p.failed
        ? failedRow(curve, p)
        : [
            `${curveName(curve)}${curve.knee === p ? ' (knee)' : ''}`,
            formatSize(curve.sizeBytes),
            formatRate(p.targetPerSec),
            formatCount(p.achievedPerSec),
            heldWord(p),
            orDash(p.group.p50Ns, formatUs),
            orDash(p.group.p99Ns, formatUs),
            orDash(p.group.p999Ns, formatUs),
            formatUs(p.serviceNs.p50),
            formatUs(p.serviceNs.p99),
            formatUs(p.serviceNs.p999),
            formatUs(p.sendLagNs.p50),
            formatUs(p.sendLagNs.p99),
            formatCount(p.late),
            formatCount(p.dropped),
            p.group.cpuUs ? `${formatCpuUs(p.group.cpuUs.initiator)} / ${formatCpuUs(p.group.cpuUs.responder)}` : '–',
          ],
    ),
  );
}

/** The row of a rate that measured nothing: its name and `failed`, no figures. */
function failedRow(curve: RateCurve, p: RatePoint): string[] {
  const row = [curveName(curve), formatSize(curve.sizeBytes), formatRate(p.targetPerSec), '–', heldWord(p)];
  return [...row, ...Array.from({ length: RATE_HEADERS.length - row.length }, () => '–')];
}

/** What the rate figures mean, under every rate table. */
export const RATE_NOTE =
  'Open loop: each message has an intended send time (target rate, one in flight per connection). ' +
  'Latency is reply − intended send, so a late reply also counts against the messages it held up ' +
  '(corrected for coordinated omission); service time is reply − actual send, what a closed-loop tool reports; ' +
  'send lag is actual − intended send. A rate held when 99 % of the intended messages completed; ' +
  'the knee is the highest target rate that held with p99 latency within the limit. ' +
  "CPU per message leaves out the initiator's waits for send times.";

/** A rate case's note for the terminal table: held or not, service time and send lag at p99. */
export function rateCaseNote(c: CaseResult): string | undefined {
  const r = c.rate;
  if (!r) return undefined;
  const held = r.held ? 'held' : `NOT HELD (${formatCount(r.completedPerSec)}/s achieved)`;
  const counts = `${r.late ? `, ${formatCount(r.late)} late` : ''}${r.dropped ? `, ${formatCount(r.dropped)} dropped` : ''}`;
  return `${held}; service p99 ${formatUs(r.serviceNs.p99)} µs, send lag p99 ${formatUs(r.sendLagNs.p99)} µs${counts}`;
}
