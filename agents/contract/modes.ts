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
  /**
   * Whether the initiator paces its sends to a target rate (open loop) instead of sending each
   * message as soon as the last one is done: its cases carry a target rate, and its round trips
   * are timed from when each message should have been sent.
   */
  readonly paced: boolean;
  /** Whether a run without `--modes` includes it (a rate sweep is long, so it is asked for). */
  readonly byDefault: boolean;
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
    paced: false,
    byDefault: true,
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
    paced: false,
    byDefault: true,
  },
  rate: {
    measures:
      'open loop: requests sent at a target rate, each timed from when it should have been sent (corrected for coordinated omission)',
    title: 'Open loop at a target rate (rate mode)',
    chartTitle: 'Latency at rate',
    responderEchoes: true,
    recordsRoundTrips: true,
    countedBy: 'initiator',
    figures: ['p99', 'p50'],
    summary: ['p99', 'messagesPerSec', 'p50', 'p999', 'max'],
    paced: true,
    byDefault: false,
  },
} as const satisfies Record<string, ModeInfo>;

/** A measurement mode. */
export type ModeId = keyof typeof MODES;
/** The measurement modes, in table order. */
export const MODE_IDS = Object.keys(MODES) as ModeId[];

/**
 * Rate mode's defaults, for a plan that leaves them out: evenly spaced sends, a late message
 * queued (sent as soon as it can be, so its latency counts the wait), and a sweep that stops when
 * p99 passes 1 ms — a sidecar hop on one node that adds more than a millisecond at p99 is one
 * an application notices.
 */
export const RATE_DEFAULTS = { arrival: 'uniform', onLate: 'queue', latencyLimitMs: 1 } as const;

/** The modes a run measures when `--modes` is not given. */
export const DEFAULT_MODE_IDS = MODE_IDS.filter((m) => MODES[m].byDefault);

/** The headline figure of a mode. */
export const primaryFigure = (mode: ModeId): FigureId => MODES[mode].figures[0];

/** Every summary field some mode shows, in table order: the columns of a table of all cases. */
export const ALL_SUMMARY_FIELDS: readonly SummaryFieldId[] = [...new Set(MODE_IDS.flatMap((m) => MODES[m].summary))];
