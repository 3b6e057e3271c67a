/**
 * Several loops' outcomes as one case's: the connections' threads of a case (agents/connections.ts)
 * and the lanes on one thread (agents/connection-worker.ts). Counts and CPU time add up,
 * histograms are merged, the longest timed part stands for the case.
 */
import type * as hdr from 'hdr-histogram-js';
import { newLatencyHistogram, type CpuSpent, type InitiatorOutcome, type ResponderOutcome } from './measure/loop.js';

type Details = Record<string, number | string | boolean>;

const sum = <T>(items: readonly T[], read: (t: T) => number) => items.reduce((n, t) => n + read(t), 0);

/** CPU times added up. */
export const sumCpu = (cpus: readonly CpuSpent[]): CpuSpent => ({
  userUs: sum(cpus, (c) => c.userUs),
  systemUs: sum(cpus, (c) => c.systemUs),
});

/** One histogram holding every one's values (a fresh one: a decoded histogram cannot grow). */
export function mergedHistogram(all: readonly hdr.Histogram[]): hdr.Histogram {
  const merged = newLatencyHistogram();
  for (const h of all) merged.add(h);
  return merged;
}

const firstErrorOf = (outcomes: readonly { firstError?: string }[]) => {
  const first = outcomes.find((o) => o.firstError)?.firstError;
  return first ? { firstError: first } : {};
};

/** Initiator loops' outcomes as one. */
export function mergedInitiator(outcomes: readonly InitiatorOutcome[]): InitiatorOutcome {
  const histograms = outcomes.flatMap((o) => (o.histogram ? [o.histogram] : []));
  const paced = outcomes.flatMap((o) => (o.paced ? [o.paced] : []));
  return {
    messages: sum(outcomes, (o) => o.messages),
    bytes: sum(outcomes, (o) => o.bytes),
    errors: sum(outcomes, (o) => o.errors),
    ...firstErrorOf(outcomes),
    durationMs: Math.max(...outcomes.map((o) => o.durationMs)),
    sent: sum(outcomes, (o) => o.sent),
    cpu: sumCpu(outcomes.map((o) => o.cpu)),
    ...(histograms.length ? { histogram: mergedHistogram(histograms) } : {}),
    ...(paced.length
      ? {
          paced: {
            intended: sum(paced, (p) => p.intended),
            dropped: sum(paced, (p) => p.dropped),
            late: sum(paced, (p) => p.late),
            pacerCpuUs: sum(paced, (p) => p.pacerCpuUs),
            service: mergedHistogram(paced.map((p) => p.service)),
            sendLag: mergedHistogram(paced.map((p) => p.sendLag)),
          },
        }
      : {}),
  };
}

/** Responder loops' outcomes as one: sums, and the longest span (throughput). */
export function mergedResponder(outcomes: readonly ResponderOutcome[]): ResponderOutcome {
  return {
    messages: sum(outcomes, (o) => o.messages),
    bytes: sum(outcomes, (o) => o.bytes),
    errors: sum(outcomes, (o) => o.errors),
    ...firstErrorOf(outcomes),
    spanMs: Math.max(...outcomes.map((o) => o.spanMs)),
    cpu: sumCpu(outcomes.map((o) => o.cpu)),
  };
}

/**
 * The first thread's details, with `threads` (the connections' threads) and, where the channel
 * counts the sockets that carried its messages (`connections`: the protocols), their sum.
 */
export function mergedDetails(all: readonly Details[]): Details {
  const sockets = all.map((d) => d.connections);
  const counted = sockets.every((n) => typeof n === 'number');
  return {
    ...all[0],
    threads: all.length,
    ...(counted ? { connections: sum(sockets as number[], (n) => n) } : {}),
  };
}
