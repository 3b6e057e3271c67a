/**
 * Comparing runs: cases matched by channel, mode and size, the change of p50, p99 and throughput,
 * and a verdict that rests on the data, not on a fixed threshold alone.
 *
 * A change is significant when both hold:
 * - a Mann–Whitney U test says the two runs differ (p < 0.01): for latency over every recorded
 *   round trip (the repeats' histograms merged), for throughput over the per-repeat rates (exact
 *   test, p < 0.05, so it needs about four repeats a side to ever find a difference);
 * - the change exceeds the noise between repeats: the spread (max − min over median) of that
 *   figure across the repeats of either run.
 * With fewer than two repeats in either run there is no noise estimate, so no change is ever
 * called significant from a single sample.
 */
import * as hdr from 'hdr-histogram-js';
import { FIGURES, FIGURE_IDS, MODES, type FigureId } from '../agents/contract/modes.js';
import type { ResultsDocument } from '../agents/contract/schema.js';
import { groupCases, median, type CaseGroup, type CaseIdentity } from './case-groups.js';
import { figureField } from './figures.js';
import { binomial, mannWhitneyCounts, mannWhitneyExact } from './statistics.js';

/** The figures compared: the mode table's figures. */
export const METRICS: readonly FigureId[] = FIGURE_IDS;
export type Metric = FigureId;

/** Significance levels by what a figure's change is tested on (see FigureInfo.sample). */
const ALPHA = { 'round trips': 0.01, repeats: 0.05 } as const;
const MIN_REPEATS = 2;

/** One figure of one case, baseline against the other run. */
export interface MetricChange {
  readonly metric: Metric;
  readonly base: number;
  readonly other: number;
  /** (other − base) / base × 100. */
  readonly changePct: number;
  /** Whether the other run is worse on this figure (slower, or less throughput). */
  readonly worse: boolean;
  readonly significant: boolean;
  readonly pValue?: number;
  /** Relative spread between repeats, the noise floor (fraction). */
  readonly noise?: number;
  readonly note?: string;
}

export type Verdict = 'faster' | 'slower' | 'no significant change' | 'not enough repeats' | 'not comparable';

/** One matched case. */
export interface CaseChange extends CaseIdentity {
  readonly metrics: readonly MetricChange[];
  readonly verdict: Verdict;
  /** Why it is not comparable (missing or not ok in one run), or what else changed (a rate held or not). */
  readonly reason?: string;
  /** A rate case that held its rate in the baseline and not in the other run: a regression whatever its latency. */
  readonly rateLost?: boolean;
}

function spread(values: readonly number[]): number | undefined {
  if (values.length < MIN_REPEATS) return undefined;
  const mid = median(values)!;
  return mid > 0 ? (Math.max(...values) - Math.min(...values)) / mid : 0;
}

/** All round trips of a group's repeats, as value → count. */
function roundTrips(group: CaseGroup): Map<number, number> {
  const counts = new Map<number, number>();
  for (const c of group.ok) {
    if (!c.histogram) continue;
    // Decoding gives the JavaScript implementation, which has the bucket iterator.
    const it = (hdr.decodeFromCompressedBase64(c.histogram) as unknown as hdr.JsHistogram).recordedValuesIterator;
    it.reset();
    while (it.hasNext()) {
      const step = it.next();
      counts.set(step.valueIteratedTo, (counts.get(step.valueIteratedTo) ?? 0) + step.countAtValueIteratedTo);
    }
  }
  return counts;
}

function perRepeat(group: CaseGroup, metric: Metric): number[] {
  const ofCase = figureField(metric).ofCase;
  return group.ok.flatMap((c) => {
    const v = ofCase(c);
    return v === undefined ? [] : [v];
  });
}

function compareMetric(
  metric: Metric,
  a: CaseGroup,
  b: CaseGroup,
  roundTripTest: () => number,
): MetricChange | undefined {
  const av = perRepeat(a, metric);
  const bv = perRepeat(b, metric);
  if (!av.length || !bv.length) return undefined;
  const base = median(av)!;
  const other = median(bv)!;
  const change = base > 0 ? (other - base) / base : 0;
  const { lowerIsBetter, sample } = FIGURES[metric];
  const worse = lowerIsBetter ? change > 0 : change < 0;
  const noiseA = spread(av);
  const noiseB = spread(bv);
  const common = { metric, base, other, changePct: Math.round(change * 1000) / 10, worse };
  if (noiseA === undefined || noiseB === undefined) {
    return { ...common, significant: false, note: `needs --repeat ${MIN_REPEATS} or more in both runs` };
  }
  const noise = Math.max(noiseA, noiseB);
  const alpha = ALPHA[sample];
  // The exact test's smallest two-sided p is 2 / C(m+n, m): below it nothing can be significant.
  if (sample === 'repeats' && 2 / binomial(av.length + bv.length, av.length) >= alpha) {
    return {
      ...common,
      significant: false,
      noise,
      note: `${av.length} vs ${bv.length} repeats cannot show a significant ${metric} change; use --repeat 4 or more`,
    };
  }
  const pValue = sample === 'repeats' ? mannWhitneyExact(av, bv).p : roundTripTest();
  return { ...common, significant: pValue < alpha && Math.abs(change) > noise, pValue, noise };
}

/** Compares `other` against `base`, case by case. */
export function compareRuns(base: ResultsDocument, other: ResultsDocument): CaseChange[] {
  const others = new Map(groupCases(other).map((g) => [g.key, g]));
  const changes: CaseChange[] = [];
  for (const a of groupCases(base)) {
    const b = others.get(a.key);
    const id = {
      key: a.key,
      channel: a.channel,
      mode: a.mode,
      sizeBytes: a.sizeBytes,
      targetRatePerSec: a.targetRatePerSec,
      connections: a.connections,
      sessions: a.sessions,
      inFlight: a.inFlight,
    };
    if (!b) {
      changes.push({ ...id, metrics: [], verdict: 'not comparable', reason: 'not in the other run' });
      continue;
    }
    if (!a.ok.length || !b.ok.length) {
      changes.push({
        ...id,
        metrics: [],
        verdict: 'not comparable',
        reason: `${!a.ok.length ? 'baseline' : 'other run'}: ${(a.ok.length ? b : a).cases[0]!.status}`,
      });
      continue;
    }
    let roundTripP: number | undefined;
    const roundTripTest = () => (roundTripP ??= mannWhitneyCounts(roundTrips(a), roundTrips(b)).p);
    const metrics = MODES[a.mode].figures
      .map((m) => compareMetric(m, a, b, roundTripTest))
      .filter((m): m is MetricChange => m !== undefined);
    const primary = metrics[0];
    // A rate case whose rate did not hold measured latency at a lower rate than its key says (with
    // --on-late drop, a lower one): whether it held decides before any latency does.
    const held = [a, b].map((g) => g.ok.every((c) => !c.rate || c.rate.held));
    const heldReason =
      held[0] && !held[1]
        ? 'the rate no longer held in the other run'
        : !held[0] && held[1]
          ? 'the rate did not hold in the baseline and holds in the other run'
          : !held[0] && !held[1]
            ? 'the rate did not hold in both runs'
            : undefined;
    const verdict: Verdict =
      held[0] !== held[1]
        ? held[0]
          ? 'slower'
          : 'faster'
        : !primary
          ? 'not comparable'
          : primary.note
            ? 'not enough repeats'
            : !primary.significant
              ? 'no significant change'
              : primary.worse
                ? 'slower'
                : 'faster';
    changes.push({
      ...id,
      metrics,
      verdict,
      ...(heldReason ? { reason: heldReason } : {}),
      ...(held[0] && !held[1] ? { rateLost: true } : {}),
    });
  }
  return changes;
}

/** A `--fail-on-regression` rule: a figure got significantly worse by more than `thresholdPct`. */
export interface RegressionRule {
  readonly metric: Metric;
  readonly thresholdPct: number;
}

/** The cases that break a rule, as "shm latency 64 B: p99 +23.4 %". */
export function regressions(
  changes: readonly CaseChange[],
  rules: readonly RegressionRule[],
  label: (c: CaseChange) => string,
): string[] {
  const found: string[] = [];
  for (const c of changes) {
    // A rate lost fails every latency rule: its latency was measured at a rate it could not hold.
    if (c.rateLost && rules.some((r) => FIGURES[r.metric].sample === 'round trips')) {
      found.push(`${label(c)}: the rate no longer held`);
      continue;
    }
    for (const rule of rules) {
      const m = c.metrics.find((x) => x.metric === rule.metric);
      if (m && m.significant && m.worse && Math.abs(m.changePct) > rule.thresholdPct) {
        found.push(`${label(c)}: ${m.metric} ${m.changePct > 0 ? '+' : ''}${m.changePct} %`);
      }
    }
  }
  return found;
}
