/**
 * The terminal table of a results document: one row per case, latency in microseconds,
 * throughput in MB/s (10^6 bytes) and messages/s, CPU per message on both sides, and the reason
 * for every case that did not run or failed. A pure function, tested from fixtures.
 */
import { ALL_SUMMARY_FIELDS } from '../agents/contract/modes.js';
import type { CaseResult, ResultsDocument } from '../agents/contract/schema.js';
import { SUMMARY_FIELDS } from './figures.js';
import { concurrencyLabel, formatCpuUs, formatRate, formatSize, lossNote, orDash } from './format.js';
import { protocolCaseNote } from './protocol-cost.js';
import { rateCaseNote } from './rate-curve.js';

/** Every summary field any mode shows: the figure columns. */
const FIELDS = ALL_SUMMARY_FIELDS.map((f) => SUMMARY_FIELDS[f]);
const HEADERS = ['channel', 'mode', 'size', 'status', ...FIELDS.map((f) => f.header), 'cpu µs/msg i/r', 'note'];
/** Size, the figures and CPU. */
const RIGHT_ALIGNED = new Set([2, ...FIELDS.map((_, i) => 4 + i), 4 + FIELDS.length]);

function row(c: CaseResult, repeats: number, doc: ResultsDocument): string[] {
  const cpu = c.cpu ? `${formatCpuUs(c.cpu.initiator.perMessageUs)}/${formatCpuUs(c.cpu.responder.perMessageUs)}` : '';
  const warning = typeof c.details?.warning === 'string' ? c.details.warning : undefined;
  const note =
    c.status === 'ok'
      ? [warning, lossNote(c), protocolCaseNote(c, doc), rateCaseNote(c)].filter(Boolean).join('; ')
      : (c.reason ?? '');
  const rate = c.targetRatePerSec === undefined ? '' : ` ${formatRate(c.targetRatePerSec)}`;
  const mode = `${c.mode}${rate}${concurrencyLabel(c)}`;
  return [
    c.channel,
    repeats > 1 ? `${mode} #${c.repeat + 1}` : mode,
    formatSize(c.sizeBytes),
    c.status,
    ...FIELDS.map((f) => orDash(f.ofCase(c), f.show, '')),
    cpu,
    note,
  ];
}

/** Renders rows as aligned columns; the last column is left unpadded. */
export function alignColumns(
  headers: string[],
  rows: string[][],
  rightAligned: ReadonlySet<number> = new Set(),
): string {
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r) =>
      r
        .map((cell, i) =>
          i === r.length - 1 ? cell : rightAligned.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!),
        )
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The results as a terminal table, with a one-line summary under it. */
export function renderTable(doc: ResultsDocument): string {
  const repeats = Math.max(1, ...doc.cases.map((c) => c.repeat + 1));
  const table = alignColumns(
    HEADERS,
    doc.cases.map((c) => row(c, repeats, doc)),
    RIGHT_ALIGNED,
  );
  const count = (status: CaseResult['status']) => doc.cases.filter((c) => c.status === status).length;
  const interrupted = count('interrupted') ? `, ${count('interrupted')} interrupted` : '';
  const summary =
    `${doc.cases.length} of ${doc.run.plannedCases} cases: ` +
    `${count('ok')} ok, ${count('skipped')} skipped, ${count('failed')} failed${interrupted}`;
  return `${table}\n\n${summary}`;
}
