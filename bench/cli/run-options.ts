/**
 * The options of `podbench run`, their defaults, and the parsers that turn flag text into
 * values. A parser throws commander's InvalidArgumentError with what is allowed; the CLI prints it
 * as one line naming the flag, exit code 2.
 */
import { InvalidArgumentError } from 'commander';
import { CHANNEL_IDS, type ChannelId } from '../../agents/contract/channels.js';
import { MODE_IDS, type ModeId } from '../../agents/contract/modes.js';
import { HEADER_BYTES } from '../../agents/contract/message-header.js';
import type { PlanOptions, RateChoice } from '../running/planner.js';
import type { PodOptions } from '../pod/pod-manifest.js';
import { formatDuration, parseDurationMs, parseSizeBytes } from './units.js';

/** Largest message podbench sends: big enough for tensors, small enough for a pod's memory. */
export const MAX_SIZE_BYTES = 64 * 1024 * 1024;
/** Targets `podbench run` can use today. */
export const TARGETS = ['auto', 'local', 'podman', 'kubernetes'] as const;
export type TargetName = (typeof TARGETS)[number];
export const OUTPUTS = ['table', 'json'] as const;

export type { PlanOptions, RateChoice };

/** Everything `podbench run` was asked to do, validated. */
export interface RunOptions extends PlanOptions {
  readonly target: TargetName;
  /** The pod's shape, for pod targets. */
  readonly pod: PodOptions;
  /** How to reach a cluster (kubernetes target). */
  readonly cluster: {
    readonly kubeconfig?: string;
    readonly context?: string;
    readonly namespace?: string;
    readonly keep: boolean;
    readonly startTimeoutMs: number;
  };
  readonly outDir?: string;
  readonly output: (typeof OUTPUTS)[number];
  readonly dryRun: boolean;
  readonly label?: string;
}

/** Defaults, and the `--quick` preset that overrides them unless a flag is given explicitly. */
export const DEFAULTS = {
  sizes: '64,1Ki,16Ki,64Ki,1Mi',
  duration: '1s',
  warmup: '200ms',
  connectTimeout: '30s',
  peerTimeout: '5s',
} as const;
export const QUICK = { sizes: '64,64Ki', duration: '250ms', warmup: '50ms' } as const;

function listOf<T extends string>(flag: string, allowed: readonly T[], text: string): T[] {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 1 && items[0] === 'all') return [...allowed];
  const bad = items.filter((i) => !allowed.includes(i as T));
  if (items.length === 0 || bad.length > 0) {
    throw new InvalidArgumentError(
      `${bad.length ? `unknown ${flag} "${bad.join(',')}"; ` : ''}allowed: ${allowed.join(', ')} (comma-separated) or all`,
    );
  }
  return [...new Set(items as T[])];
}

/** `--channels tcp,shm` or `all`. */
export const parseChannels = (text: string): ChannelId[] => listOf('channel', CHANNEL_IDS, text);
/** `--modes latency,throughput`. */
export const parseModes = (text: string): ModeId[] => listOf('mode', MODE_IDS, text);

/** `--sizes 64,1Ki,1Mi`. */
export function parseSizes(text: string): number[] {
  const sizes = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const parsed = sizes.map((s) => [s, parseSizeBytes(s)] as const);
  const bad = parsed.find(([, b]) => b === undefined || b < HEADER_BYTES || b > MAX_SIZE_BYTES);
  if (sizes.length === 0 || bad) {
    const rejected = bad ? `"${bad[0]}" is not allowed; ` : '';
    throw new InvalidArgumentError(
      `${rejected}sizes are bytes from ${HEADER_BYTES} to 64Mi, with an optional k, Ki, M or Mi suffix (e.g. 64,1Ki,1Mi)`,
    );
  }
  return [...new Set(parsed.map(([, b]) => b!))];
}

/** Lowest and highest target rate `--rate` takes, messages per second. */
export const RATE_BOUNDS_PER_SEC = { min: 1, max: 10_000_000 } as const;

/** `--rate 1k,10k,50k` (messages per second, k and M suffixes) or `--rate sweep`. */
export function parseRates(text: string): RateChoice {
  if (text.trim() === 'sweep') return { sweep: true };
  const items = text
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  const parsed = items.map((r) => {
    const m = /^(\d+(?:\.\d+)?)([kM]?)$/.exec(r);
    const perSec = m ? Number(m[1]) * (m[2] === 'k' ? 1e3 : m[2] === 'M' ? 1e6 : 1) : NaN;
    return [r, perSec] as const;
  });
  const bad = parsed.find(([, n]) => !(n >= RATE_BOUNDS_PER_SEC.min && n <= RATE_BOUNDS_PER_SEC.max));
  if (items.length === 0 || bad) {
    throw new InvalidArgumentError(
      `${bad ? `"${bad[0]}" is not allowed; ` : ''}use messages per second from 1 to 10M, with an optional k or M suffix ` +
        '(e.g. 1k,10k,50k), or sweep',
    );
  }
  return { sweep: false, ratesPerSec: [...new Set(parsed.map(([, n]) => n))].sort((a, b) => a - b) };
}

/** Most parallel connections a case may have: each is a thread on both sides. */
export const MAX_CONNECTIONS = 64;

/** `--connections 1,4,16`: whole numbers from 1 to {@link MAX_CONNECTIONS}, ascending. */
export function parseConnections(text: string): number[] {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = items.find((n) => !/^\d+$/.test(n) || Number(n) < 1 || Number(n) > MAX_CONNECTIONS);
  if (items.length === 0 || bad !== undefined)
    throw new InvalidArgumentError(
      `${bad !== undefined ? `"${bad}" is not allowed; ` : ''}use whole numbers from 1 to ${MAX_CONNECTIONS}, comma-separated (e.g. 1,4)`,
    );
  return [...new Set(items.map(Number))].sort((a, b) => a - b);
}

/** `--sessions N` and `--in-flight N`: 1 to {@link MAX_CONNECTIONS}. */
export const parseSessions = wholeNumberParser(1, MAX_CONNECTIONS);

/** `--latency-limit 1ms`: a duration from 10 µs (0.01ms) to 10 s, in milliseconds. */
export function parseLatencyLimit(text: string): number {
  const ms = parseDurationMs(text);
  if (ms === undefined || ms < 0.01 || ms > 10_000)
    throw new InvalidArgumentError('use a duration from 0.01ms to 10s with a unit: ms or s (e.g. 500ms, 0.2ms)');
  return ms;
}

/** A duration parser for one flag, with bounds. */
export function durationParser(minMs: number, maxMs: number): (text: string) => number {
  return (text) => {
    const parsed = parseDurationMs(text);
    // Whole milliseconds: 2.01s is 2009.999… in binary floating point.
    const ms = parsed === undefined ? undefined : Math.round(parsed);
    if (ms === undefined || ms < minMs || ms > maxMs) {
      throw new InvalidArgumentError(
        `use a duration from ${formatDuration(minMs)} to ${formatDuration(maxMs)} with a unit: ms, s or m (e.g. 500ms, 2s)`,
      );
    }
    return ms;
  };
}

/** A parser for a flag that takes a whole number from `minimum` to `maximum`. */
export function wholeNumberParser(minimum: number, maximum: number): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (!/^\d+$/.test(text.trim()) || n < minimum || n > maximum)
      throw new InvalidArgumentError(`use a whole number from ${minimum} to ${maximum}`);
    return n;
  };
}

/** `--repeat N`, 1 to 100. */
export const parseRepeat = wholeNumberParser(1, 100);

/** `--label NAME`: a name for the run in reports and comparisons. */
export function parseLabel(text: string): string {
  if (!/^[\p{L}\p{M}\p{N}._-]{1,64}$/u.test(text))
    throw new InvalidArgumentError('use 1 to 64 letters (of any script), digits, ".", "_" or "-"');
  return text;
}

/** `--out-dir DIR`: a path, not empty (where it can go is checked when the run starts). */
export function parseOutDir(text: string): string {
  if (text.trim() === '') throw new InvalidArgumentError('use a directory path (it is made if missing)');
  return text;
}
