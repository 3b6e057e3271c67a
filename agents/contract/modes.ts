/**
 * The table of measurement modes: what each measures, how the agents run it, and which of its
 * figures the reports lead with and compare. Part of the contract, so the agents, the
 * orchestrator and every renderer read the same table; nothing else tells modes apart.
 */

/** A figure a case can be judged by. `p50`/`p99`: round trip in ns; `throughput`: bytes per second. */
export type FigureId = 'p50' | 'p99' | 'throughput';

/**
 * A summary field of a case, as the reports show it: round-trip percentiles in ns, or the
 * receiver's rate. Every figure is also a summary field.
 */
export type SummaryFieldId = 'p50' | 'p99' | 'p999' | 'max' | 'bytesPerSec' | 'messagesPerSec';

/** One figure's meaning. */
export interface FigureInfo {
  /** The summary field that holds it. */
  readonly field: SummaryFieldId;
  /** Whether a lower value is better (latency) or a higher one (throughput). */
  readonly lowerIsBetter: boolean;
  /**
   * What a change is tested on: every recorded round trip (the repeats' histograms merged), or
   * the per-repeat values (a rate has one value per repeat).
   */
  readonly sample: 'round trips' | 'repeats';
}

/** Every figure `compare` can judge (and `--fail-on-regression` can name). */
export const FIGURES: { readonly [id in FigureId]: FigureInfo } = {
  p50: { field: 'p50', lowerIsBetter: true, sample: 'round trips' },
  p99: { field: 'p99', lowerIsBetter: true, sample: 'round trips' },
  throughput: { field: 'bytesPerSec', lowerIsBetter: false, sample: 'repeats' },
};
/** The figures, in table order. */
export const FIGURE_IDS = Object.keys(FIGURES) as FigureId[];

/** A mode, described once. */
export interface ModeInfo {
  /** What the mode measures, in a few words (--help and the reports). */
  readonly measures: string;
  /** The section title of its cases in the reports. */
  readonly title: string;
  /** What its charts show: `Round trip` (at a size), `Throughput` (against size). */
  readonly chartTitle: string;
  /** Whether the responder sends every message back (round trips), or only counts them. */
  readonly responderEchoes: boolean;
  /** Whether the initiator times every round trip into a latency histogram. */
  readonly recordsRoundTrips: boolean;
  /** Which side's count of timed messages is the case's: the one that saw them complete. */
  readonly countedBy: 'initiator' | 'responder';
  /** The figures compared between runs, the headline first. */
  readonly figures: readonly [FigureId, ...FigureId[]];
  /** The summary fields its report tables show, in order; the first two are its progress line. */
  readonly summary: readonly [SummaryFieldId, SummaryFieldId, ...SummaryFieldId[]];
}

/** The modes, in the order reports list them. */
export const MODES = {
  latency: {
    measures: 'round trips: the initiator sends a message, the responder echoes it',
    title: 'Round trip (latency mode)',
    chartTitle: 'Round trip',
    responderEchoes: true,
    recordsRoundTrips: true,
    countedBy: 'initiator',
    figures: ['p50', 'p99'],
    summary: ['p50', 'p99', 'p999', 'max'],
  },
  throughput: {
    measures: 'a one-way stream, as fast as the channel takes it, counted by the receiver',
    title: 'One-way stream (throughput mode)',
    chartTitle: 'Throughput',
    responderEchoes: false,
    recordsRoundTrips: false,
    countedBy: 'responder',
    figures: ['throughput'],
    summary: ['bytesPerSec', 'messagesPerSec'],
  },
} as const satisfies Record<string, ModeInfo>;

/** A measurement mode. */
export type ModeId = keyof typeof MODES;
/** The measurement modes, in table order. */
export const MODE_IDS = Object.keys(MODES) as ModeId[];

/** The headline figure of a mode. */
export const primaryFigure = (mode: ModeId): FigureId => MODES[mode].figures[0];

/** Every summary field some mode shows, in table order: the columns of a table of all cases. */
export const ALL_SUMMARY_FIELDS: readonly SummaryFieldId[] = [...new Set(MODE_IDS.flatMap((m) => MODES[m].summary))];
