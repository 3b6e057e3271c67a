/**
 * Cases grouped across repeats: one group per channel × mode × size with its repeats' figures and
 * their medians. Every renderer and `compare` reads results through this, so "the number for a
 * case" means the same everywhere: the median over its ok repeats.
 */
import type { CaseResult, ResultsDocument } from '../agents/contract/schema.js';
import { concurrencyLabel, lossNote } from './format.js';

/** What identifies a case across repeats and runs: channel × mode × size (× target rate), and its key. */
export interface CaseIdentity {
  readonly key: string;
  readonly channel: CaseResult['channel'];
  readonly mode: CaseResult['mode'];
  readonly sizeBytes: number;
  /** Rate mode's target rate, messages per second. */
  readonly targetRatePerSec?: number;
  /** Parallel connections, when more than one. */
  readonly connections?: number;
  /** h2 and grpc: sessions, when more than one, and requests in flight per connection, when more than one. */
  readonly sessions?: number;
  readonly inFlight?: number;
}

/** One channel × mode × size, all its repeats. */
export interface CaseGroup extends CaseIdentity {
  readonly cases: readonly CaseResult[];
  /** The repeats that measured something. */
  readonly ok: readonly CaseResult[];
  /** Medians over the ok repeats (undefined when none or not applicable). */
  readonly p50Ns?: number;
  readonly p99Ns?: number;
  readonly p999Ns?: number;
  /** The largest round trip of any repeat. */
  readonly maxNs?: number;
  readonly bytesPerSec?: number;
  readonly messagesPerSec?: number;
  /** CPU time per message of each side, microseconds. */
  readonly cpuUs?: { readonly initiator: number; readonly responder: number };
}

/** A group's channel as a line or row is named: with its connections when more than one (`tcp ×4`). */
export const seriesName = (g: Pick<CaseIdentity, 'channel' | 'connections' | 'sessions' | 'inFlight'>): string =>
  `${g.channel}${concurrencyLabel(g)}`;

/** The median of numbers (undefined for none). */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The key that matches a case across runs. */
export const caseKey = (
  c: Pick<CaseResult, 'channel' | 'mode' | 'sizeBytes' | 'targetRatePerSec' | 'connections' | 'sessions' | 'inFlight'>,
): string =>
  `${c.channel}/${c.mode}/${c.sizeBytes}${c.connections ? `x${c.connections}` : ''}` +
  `${c.sessions ? `s${c.sessions}` : ''}${c.inFlight ? `f${c.inFlight}` : ''}` +
  `${c.targetRatePerSec === undefined ? '' : `@${c.targetRatePerSec}`}`;

/** Groups a document's cases, in the order they were planned. */
export function groupCases(doc: ResultsDocument): CaseGroup[] {
  const byKey = new Map<string, CaseResult[]>();
  for (const c of doc.cases) {
    const list = byKey.get(caseKey(c)) ?? [];
    list.push(c);
    byKey.set(caseKey(c), list);
  }
  return [...byKey.entries()].map(([key, cases]) => {
    const ok = cases.filter((c) => c.status === 'ok');
    const first = cases[0]!;
    const latency = ok.flatMap((c) => (c.latencyNs ? [c.latencyNs] : []));
    const cpu = ok.flatMap((c) => (c.cpu ? [c.cpu] : []));
    return {
      key,
      channel: first.channel,
      mode: first.mode,
      sizeBytes: first.sizeBytes,
      ...(first.targetRatePerSec === undefined ? {} : { targetRatePerSec: first.targetRatePerSec }),
      ...(first.connections === undefined ? {} : { connections: first.connections }),
      ...(first.sessions === undefined ? {} : { sessions: first.sessions }),
      ...(first.inFlight === undefined ? {} : { inFlight: first.inFlight }),
      cases,
      ok,
      p50Ns: median(latency.map((l) => l.p50)),
      p99Ns: median(latency.map((l) => l.p99)),
      p999Ns: median(latency.map((l) => l.p999)),
      maxNs: latency.length ? Math.max(...latency.map((l) => l.max)) : undefined,
      cpuUs: cpu.length
        ? {
            initiator: median(cpu.map((c) => c.initiator.perMessageUs))!,
            responder: median(cpu.map((c) => c.responder.perMessageUs))!,
          }
        : undefined,
      bytesPerSec: median(ok.flatMap((c) => (c.throughput ? [c.throughput.bytesPerSec] : []))),
      messagesPerSec: median(ok.flatMap((c) => (c.throughput ? [c.throughput.messagesPerSec] : []))),
    };
  });
}

/**
 * The measured cases that carry a warning (`details.warning`: a tmpfs-file case not on tmpfs, a
 * histogram that could not be read), which every report shows beside the figures.
 */
export function warnedCases(doc: ResultsDocument): { readonly case: CaseResult; readonly warning: string }[] {
  return doc.cases.flatMap((c) =>
    c.status === 'ok' && typeof c.details?.warning === 'string' ? [{ case: c, warning: c.details.warning }] : [],
  );
}

/** The measured cases of lossy channels, with their losses in words, which the reports show beside the figures. */
export function lossyCases(doc: ResultsDocument): { readonly case: CaseResult; readonly loss: string }[] {
  return doc.cases.flatMap((c) => {
    const loss = c.status === 'ok' ? lossNote(c) : undefined;
    return loss ? [{ case: c, loss }] : [];
  });
}
