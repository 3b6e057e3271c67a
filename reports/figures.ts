/**
 * How each summary field of the mode table (agents/contract/modes.ts) is read — from one case or
 * from a group of repeats — and shown, and which group is best at a mode's headline figure.
 * Renderers, `compare` and the progress line go through this table, so a new field or mode is an
 * entry here, never a branch in a renderer.
 */
import {
  FIGURES,
  MODES,
  MODE_IDS,
  primaryFigure,
  type FigureId,
  type ModeId,
  type SummaryFieldId,
} from '../agents/contract/modes.js';
import type { CaseResult } from '../agents/contract/schema.js';
import type { CaseGroup } from './case-groups.js';
import { formatCount, formatMBps, formatUs } from './format.js';

/** One summary field. */
export interface SummaryField {
  /** Column header, with the unit. */
  readonly header: string;
  /** The unit it is shown in. */
  readonly unit: string;
  /** The value of one case (ns, bytes/s or messages/s), when it has one. */
  readonly ofCase: (c: CaseResult) => number | undefined;
  /** The median over a group's ok repeats (the maximum for `max`). */
  readonly ofGroup: (g: CaseGroup) => number | undefined;
  /** A value converted to the unit, for charts. */
  readonly inUnit: (value: number) => number;
  /** The value as text in the unit. */
  readonly show: (value: number) => string;
  /** The value with its name or unit, for one-line summaries: `p50 1.23 µs`, `512.0 MB/s`. */
  readonly brief: (value: number) => string;
}

const percentile = (
  name: string,
  header: string,
  ofCase: SummaryField['ofCase'],
  ofGroup: SummaryField['ofGroup'],
): SummaryField => ({
  header,
  unit: 'µs',
  ofCase,
  ofGroup,
  inUnit: (ns) => ns / 1000,
  show: formatUs,
  brief: (ns) => `${name} ${formatUs(ns)} µs`,
});

/** Every summary field. */
export const SUMMARY_FIELDS: { readonly [id in SummaryFieldId]: SummaryField } = {
  p50: percentile(
    'p50',
    'p50 µs',
    (c) => c.latencyNs?.p50,
    (g) => g.p50Ns,
  ),
  p99: percentile(
    'p99',
    'p99 µs',
    (c) => c.latencyNs?.p99,
    (g) => g.p99Ns,
  ),
  p999: percentile(
    'p99.9',
    'p99.9 µs',
    (c) => c.latencyNs?.p999,
    (g) => g.p999Ns,
  ),
  max: percentile(
    'max',
    'max µs',
    (c) => c.latencyNs?.max,
    (g) => g.maxNs,
  ),
  bytesPerSec: {
    header: 'MB/s',
    unit: 'MB/s',
    ofCase: (c) => c.throughput?.bytesPerSec,
    ofGroup: (g) => g.bytesPerSec,
    inUnit: (bps) => bps / 1e6,
    show: formatMBps,
    brief: (bps) => `${formatMBps(bps)} MB/s`,
  },
  messagesPerSec: {
    header: 'msgs/s',
    unit: 'msgs/s',
    ofCase: (c) => c.throughput?.messagesPerSec,
    ofGroup: (g) => g.messagesPerSec,
    inUnit: (n) => n,
    show: formatCount,
    brief: (n) => `${formatCount(n)} msgs/s`,
  },
};

/** What the best case of a figure is called in a headline. */
const BEST: { readonly [id in FigureId]: string } = {
  p50: 'lowest round trip',
  p99: 'lowest p99 round trip',
  throughput: 'highest throughput',
};

/** A figure's summary field. */
export const figureField = (figure: FigureId): SummaryField => SUMMARY_FIELDS[FIGURES[figure].field];

/** Per size, the group with the best value of `figure`. */
function bestBySize(groups: readonly CaseGroup[], figure: FigureId): Map<number, CaseGroup> {
  const value = figureField(figure).ofGroup;
  const lowerIsBetter = FIGURES[figure].lowerIsBetter;
  const best = new Map<number, CaseGroup>();
  for (const g of groups) {
    const v = value(g);
    if (v === undefined) continue;
    const current = best.get(g.sizeBytes);
    const cv = current && value(current);
    if (cv === undefined || (lowerIsBetter ? v < cv : v > cv)) best.set(g.sizeBytes, g);
  }
  return best;
}

/** The best channels of a run: per mode and size, the group best at the mode's headline figure. */
export type Winners = ReadonlyMap<ModeId, ReadonlyMap<number, CaseGroup>>;

/** The modes with one best channel per size; a paced mode's best is its knee (reports/rate-curve.ts). */
const RANKED_MODES = MODE_IDS.filter((m) => !MODES[m].paced);

/** Finds the winners among `groups`. */
export function winners(groups: readonly CaseGroup[]): Winners {
  return new Map(
    RANKED_MODES.map((mode) => [
      mode,
      bestBySize(
        // One connection: the channel itself, as every headline names it.
        groups.filter((g) => g.mode === mode && !g.connections && !g.sessions && !g.inFlight),
        primaryFigure(mode),
      ),
    ]),
  );
}

/** Whether `g` is the best at its size in its mode. */
export const isWinner = (best: Winners, g: CaseGroup): boolean => best.get(g.mode)?.get(g.sizeBytes) === g;

/** One headline finding: `lowest round trip` at 64 B is `shm`, `p50 1.23 µs`. */
export interface Headline {
  readonly best: string;
  readonly sizeBytes: number;
  readonly channel: string;
  readonly figure: string;
}

/** The headline findings, mode by mode and size by size. */
export function headlines(best: Winners): Headline[] {
  return RANKED_MODES.flatMap((mode) => {
    const figure = primaryFigure(mode);
    const field = figureField(figure);
    return [...(best.get(mode) ?? new Map<number, CaseGroup>()).entries()].map(([sizeBytes, g]) => ({
      best: BEST[figure],
      sizeBytes,
      channel: g.channel,
      figure: field.brief(field.ofGroup(g)!),
    }));
  });
}
