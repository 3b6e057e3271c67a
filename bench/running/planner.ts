/**
 * The planner: what to measure → the list of cases both agents run. It plans only what each
 * channel supports (its registry entry's modes and largest size) and lists what it left out and
 * why. Repeats are the outer loop, so repetitions of a case are spread over the run rather than
 * back to back (drift and noise then show up as spread between repeats instead of hiding in one
 * block).
 */
import { randomBytes } from 'node:crypto';
import { CHANNELS, type ChannelId, type ChannelInfo } from '../../agents/contract/channels.js';
import { MODES, type ModeId } from '../../agents/contract/modes.js';
import { SCHEMA_VERSION, type CaseSpec, type Plan, type RunSettings } from '../../agents/contract/schema.js';
import { UsageError } from '../cli/errors.js';
import { caseLabel, formatSize } from '../../reports/format.js';

/** Rate mode's target rates: a list, or a sweep the planner lays out. */
export type RateChoice = { readonly sweep: true } | { readonly sweep: false; readonly ratesPerSec: readonly number[] };

/** What to measure: the input of the planner. */
export interface PlanOptions {
  readonly channels: readonly ChannelId[];
  readonly modes: readonly ModeId[];
  /** Target rates of the paced modes (rate), or a sweep; unused without them. */
  readonly rates?: RateChoice;
  /** Parallel connections per case, each value its own cases [1]. */
  readonly connections?: readonly number[];
  /** Streams channels (h2, grpc): the sessions their connections are spread over [1]. */
  readonly sessions?: number;
  /** Streams channels: requests outstanding per connection [1]. */
  readonly inFlight?: number;
  readonly sizesBytes: readonly number[];
  readonly repeat: number;
  readonly settings: RunSettings;
}

/** A channel × mode × size (× connections) the options asked for that no channel of that id can run. */
export interface LeftOut {
  readonly channel: ChannelId;
  readonly mode: ModeId;
  readonly sizeBytes: number;
  readonly connections?: number;
  readonly reason: string;
}

/** The channel entries the planner reads (the registry; a test may pass its own). */
export type ChannelTable = { readonly [id in ChannelId]: ChannelInfo };

/** Why `info` cannot run `mode` at `sizeBytes` over `connections`, or undefined when it can. */
function unsupported(
  info: ChannelInfo,
  mode: ModeId,
  sizeBytes: number,
  connections = 1,
  options: Pick<PlanOptions, 'sessions' | 'inFlight'> = {},
): string | undefined {
  if (!info.modes.includes(mode)) return `the channel has no ${mode} mode (it supports ${info.modes.join(', ')})`;
  if (info.maxSize && sizeBytes > info.maxSize.bytes)
    return `above the largest message the channel carries, ${formatSize(info.maxSize.bytes)} (${info.maxSize.reason})`;
  if (connections > 1 && !info.concurrency)
    return 'the channel runs one connection only (its registry entry declares no concurrency: datagrams may be lost)';
  const sessions = sessionsFor(info, connections, options);
  if (sessions && connections % sessions !== 0)
    return `${connections} connections do not spread evenly over ${sessions} sessions`;
  const streamsPerSession =
    info.concurrency === 'streams' ? (connections / (sessions ?? 1)) * (options.inFlight ?? 1) : 1;
  if (MODES[mode].paced && streamsPerSession > 1)
    return (
      `rate mode paces one request stream per thread, and this case has ${streamsPerSession} streams on a session ` +
      `(give h2 and grpc as many --sessions as connections, and no --in-flight)`
    );
  return undefined;
}

/** The sessions a streams channel's connections are spread over (at most one per connection); undefined for one. */
function sessionsFor(
  info: ChannelInfo,
  connections: number,
  options: Pick<PlanOptions, 'sessions'>,
): number | undefined {
  if (info.concurrency !== 'streams') return undefined;
  const sessions = Math.min(options.sessions ?? 1, connections);
  return sessions > 1 ? sessions : undefined;
}

/**
 * The concurrency fields of a case of `info` over `connections`. `--in-flight` applies to the
 * channels whose connections are streams (h2, grpc); every other keeps one request outstanding
 * per connection (HTTP/1.1 defines pipelining, but Node's client does not pipeline).
 */
function concurrencyOf(
  info: ChannelInfo,
  connections: number,
  options: Pick<PlanOptions, 'sessions' | 'inFlight'>,
): Pick<CaseSpec, 'connections' | 'sessions' | 'inFlight'> {
  const sessions = sessionsFor(info, connections, options);
  const inFlight = info.concurrency === 'streams' && (options.inFlight ?? 1) > 1 ? options.inFlight : undefined;
  return {
    ...(connections > 1 ? { connections } : {}),
    ...(sessions ? { sessions } : {}),
    ...(inFlight ? { inFlight } : {}),
  };
}

/** The connection counts asked for, one when none. */
const connectionCounts = (options: PlanOptions): readonly number[] => options.connections ?? [1];

/**
 * The channels to plan: those asked for, each protocol preceded by the raw channel it rides on
 * (`ridesOn`) when that was not asked for, since the reports set every protocol case beside the
 * raw channel's case of the same mode and size in the same run.
 */
export function plannedChannels(asked: readonly ChannelId[], channels: ChannelTable = CHANNELS): ChannelId[] {
  const planned: ChannelId[] = [];
  for (const channel of asked) {
    const raw = channels[channel].ridesOn;
    if (raw && !planned.includes(raw)) planned.push(raw);
    if (!planned.includes(channel)) planned.push(channel);
  }
  return planned;
}

/** The raw channels the planner adds for the protocols asked for, each with the first protocol that rides on it. */
export function addedRawChannels(
  asked: readonly ChannelId[],
  channels: ChannelTable = CHANNELS,
): { readonly channel: ChannelId; readonly protocol: ChannelId }[] {
  const added = plannedChannels(asked, channels).filter((c) => !asked.includes(c));
  return added.map((channel) => ({ channel, protocol: asked.find((p) => channels[p].ridesOn === channel)! }));
}

/**
 * The steps of a rate sweep, messages per second: 1–1.5–2–3–5–7 in each decade (about ×1.4 per
 * step, so the knee is known within that) from 100/s, which every channel holds, to 1M/s, which
 * none does over one connection.
 */
export const SWEEP_RATES_PER_SEC = [100, 1000, 10_000, 100_000]
  .flatMap((decade) => [1, 1.5, 2, 3, 5, 7].map((step) => step * decade))
  .concat(1_000_000);

/** The target rates a case of `mode` is planned at: none for an unpaced mode. */
function ratesFor(mode: ModeId, rates: RateChoice | undefined): Pick<CaseSpec, 'targetRatePerSec' | 'sweep'>[] {
  if (!MODES[mode].paced) return [{}];
  if (!rates || rates.sweep) return SWEEP_RATES_PER_SEC.map((targetRatePerSec) => ({ targetRatePerSec, sweep: true }));
  return rates.ratesPerSec.map((targetRatePerSec) => ({ targetRatePerSec }));
}

/** Every channel × mode × size (× target rate) of `options` the channels support, in plan order. */
function supportedCombinations(options: PlanOptions, channels: ChannelTable): Omit<CaseSpec, 'index' | 'repeat'>[] {
  return plannedChannels(options.channels, channels).flatMap((channel) =>
    options.modes.flatMap((mode) =>
      options.sizesBytes.flatMap((sizeBytes) =>
        connectionCounts(options)
          .filter((connections) => !unsupported(channels[channel], mode, sizeBytes, connections, options))
          .flatMap((connections) =>
            ratesFor(mode, options.rates).map((rate) => ({
              channel,
              mode,
              sizeBytes,
              ...concurrencyOf(channels[channel], connections, options),
              ...rate,
            })),
          ),
      ),
    ),
  );
}

/** What the options asked for but no channel supports, with the reason (once, not per repeat). */
export function leftOutOfPlan(options: PlanOptions, channels: ChannelTable = CHANNELS): LeftOut[] {
  return plannedChannels(options.channels, channels).flatMap((channel) =>
    options.modes.flatMap((mode) =>
      options.sizesBytes.flatMap((sizeBytes) =>
        connectionCounts(options).flatMap((connections) => {
          const reason = unsupported(channels[channel], mode, sizeBytes, connections, options);
          return reason ? [{ channel, mode, sizeBytes, ...(connections > 1 ? { connections } : {}), reason }] : [];
        }),
      ),
    ),
  );
}

/** A fresh run id: 10 lowercase base-36 characters, safe in kernel object names and labels. */
export function newRunId(): string {
  return BigInt(`0x${randomBytes(8).toString('hex')}`)
    .toString(36)
    .padStart(10, '0')
    .slice(-10);
}

/**
 * Most cases one run may have: the plan travels in an environment variable (the kernel caps one
 * at 128 KiB) and in the pod spec; 1000 cases is about 80 KB of plan.
 */
export const MAX_CASES = 1000;

/** Builds the plan for `options`: every supported channel × mode × size, `repeat` times. */
export function buildPlan(options: PlanOptions, runId = newRunId(), channels: ChannelTable = CHANNELS): Plan {
  const combinations = supportedCombinations(options, channels);
  const count = options.repeat * combinations.length;
  if (count > MAX_CASES) {
    throw new UsageError(
      `the plan has ${count} cases (channels × modes × sizes × rates × connections × --repeat); ` +
        `at most ${MAX_CASES}: use fewer channels, sizes, rates (a --rate list instead of sweep), ` +
        'connections or repeats, or several runs',
    );
  }
  if (count === 0) {
    const [first] = leftOutOfPlan(options, channels);
    throw new UsageError(
      `nothing to measure: no channel supports what was asked${first ? ` (${caseLabel(first)}: ${first.reason})` : ''}`,
    );
  }
  const cases: CaseSpec[] = [];
  for (let repeat = 0; repeat < options.repeat; repeat++) {
    for (const c of combinations) cases.push({ index: cases.length, ...c, repeat });
  }
  return { schemaVersion: SCHEMA_VERSION, runId, settings: options.settings, cases };
}

/** Seconds the plan takes at least (warm-up and timed part of every case). */
export function plannedSeconds(plan: Plan): number {
  return (plan.cases.length * (plan.settings.warmupMs + plan.settings.durationMs)) / 1000;
}
