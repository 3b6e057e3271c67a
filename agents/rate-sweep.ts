/**
 * A rate sweep's end. The planner lays a sweep out as steps of rising rates, each a case; the
 * initiator runs them in order and, once a step does not hold (its rate was not achieved, its
 * p99 passed the latency limit, or it failed), skips the steps above it with the reason: past the
 * knee every step would only take longer to fail.
 */
import type { CaseResult, CaseSpec } from './contract/schema.js';

const perSec = (n: number): string => `${Math.round(n).toLocaleString('en-US')}/s`;

/** What keeps one sweep apart from another: its channel, size, connections and repeat. */
const sweepKey = (spec: CaseSpec): string =>
  `${spec.channel}/${spec.sizeBytes}/${spec.connections ?? 1}/${spec.repeat}`;

/** Why a step did not hold, or undefined when it did. */
export function sweepStepMissed(result: CaseResult, latencyLimitMs: number): string | undefined {
  const target = perSec(result.targetRatePerSec ?? 0);
  if (result.status !== 'ok') return `${target} ${result.status}`;
  const rate = result.rate;
  if (!rate) return `${target} has no rate figures`;
  if (!rate.held) return `${target} did not hold (${perSec(rate.completedPerSec)} achieved)`;
  const p99Ms = (result.latencyNs?.p99 ?? 0) / 1e6;
  if (p99Ms > latencyLimitMs) return `${target} had p99 ${p99Ms.toFixed(3)} ms, over the ${latencyLimitMs} ms limit`;
  return undefined;
}

/** The sweeps of one run: which have ended, and why. */
export class RateSweeps {
  private readonly ended = new Map<string, string>();

  constructor(private readonly latencyLimitMs: number) {}

  /** Why `spec` is not run (its sweep ended below it), or undefined when it is a step to run. */
  skipReason(spec: CaseSpec): string | undefined {
    const why = spec.sweep ? this.ended.get(sweepKey(spec)) : undefined;
    return why && `the sweep ended below this rate: ${why}`;
  }

  /** Notes a finished case; a sweep step that did not hold ends its sweep. */
  note(result: CaseResult): void {
    if (!result.sweep || this.ended.has(sweepKey(result))) return;
    const missed = sweepStepMissed(result, this.latencyLimitMs);
    if (missed) this.ended.set(sweepKey(result), missed);
  }
}
