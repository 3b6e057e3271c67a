/**
 * The planner: run options → the list of cases both agents run. Repeats are the outer loop, so
 * repetitions of a case are spread over the run rather than back to back (drift and noise then
 * show up as spread between repeats instead of hiding in one block).
 */
import { randomBytes } from 'node:crypto';
import { SCHEMA_VERSION, type CaseSpec, type Plan } from '../agents/contract/schema.js';
import { UsageError } from './errors.js';
import type { PlanOptions } from './run-options.js';
import { formatSize } from '../reports/size.js';

/** A fresh run id: 10 lowercase base-36 characters, safe in kernel object names and labels. */
export function newRunId(): string {
  return BigInt(`0x${randomBytes(8).toString('hex')}`).toString(36).padStart(10, '0').slice(-10);
}

/**
 * Most cases one run may have: the plan travels in an environment variable (the kernel caps one
 * at 128 KiB) and in the pod spec; 1000 cases is about 80 KB of plan.
 */
export const MAX_CASES = 1000;

/** Builds the plan for `options`. */
export function buildPlan(options: PlanOptions, runId = newRunId()): Plan {
  const count = options.repeat * options.channels.length * options.modes.length * options.sizesBytes.length;
  if (count > MAX_CASES) {
    throw new UsageError(`the plan has ${count} cases (channels × modes × sizes × --repeat); at most ${MAX_CASES}: use fewer sizes or repeats, or several runs`);
  }
  const cases: CaseSpec[] = [];
  for (let repeat = 0; repeat < options.repeat; repeat++) {
    for (const channel of options.channels) {
      for (const mode of options.modes) {
        for (const sizeBytes of options.sizesBytes) cases.push({ index: cases.length, channel, mode, sizeBytes, repeat });
      }
    }
  }
  return { schemaVersion: SCHEMA_VERSION, runId, settings: options.settings, cases };
}

/** Seconds the plan takes at least (warm-up and timed part of every case). */
export function plannedSeconds(plan: Plan): number {
  return (plan.cases.length * (plan.settings.warmupMs + plan.settings.durationMs)) / 1000;
}

/** `shm latency 64 B` (with the repeat when there are several). */
export function caseLabel(spec: CaseSpec, repeats = 1): string {
  const base = `${spec.channel} ${spec.mode} ${formatSize(spec.sizeBytes)}`;
  return repeats > 1 ? `${base} #${spec.repeat + 1}` : base;
}
