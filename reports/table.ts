/**
 * The terminal table of a results document: one row per case, latency in microseconds,
 * throughput in MB/s (10^6 bytes) and messages/s, CPU per message on both sides, and the reason
 * for every case that did not run or failed. A pure function, tested from fixtures.
 */
import type { CaseResult, ResultsDocument } from '../agents/contract/schema.js';
import { formatSize } from './size.js';

const HEADERS = ['channel', 'mode', 'size', 'status', 'p50 µs', 'p99 µs', 'p99.9 µs', 'max µs', 'MB/s', 'msgs/s', 'cpu µs/msg i/r', 'note'];
const RIGHT_ALIGNED = new Set([2, 4, 5, 6, 7, 8, 9, 10]);

const us = (ns: number) => (ns / 1000).toFixed(ns < 10_000 ? 2 : 1);
const fixed = (x: number, digits: number) => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

function row(c: CaseResult, repeats: number): string[] {
  const l = c.latencyNs;
  const t = c.throughput;
  const cpu = c.cpu ? `${c.cpu.initiator.perMessageUs.toFixed(2)}/${c.cpu.responder.perMessageUs.toFixed(2)}` : '';
  const note = c.status === 'ok' ? (typeof c.details?.warning === 'string' ? c.details.warning : '') : (c.reason ?? '');
  return [
    c.channel,
    repeats > 1 ? `${c.mode} #${c.repeat + 1}` : c.mode,
    formatSize(c.sizeBytes),
    c.status,
    l ? us(l.p50) : '',
    l ? us(l.p99) : '',
    l ? us(l.p999) : '',
    l ? us(l.max) : '',
    t ? fixed(t.bytesPerSec / 1e6, 1) : '',
    t ? fixed(t.messagesPerSec, 0) : '',
    cpu,
    note,
  ];
}

/** Renders rows as aligned columns; the last column is left unpadded. */
export function alignColumns(headers: string[], rows: string[][], rightAligned: ReadonlySet<number> = new Set()): string {
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : rightAligned.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd())
    .join('\n');
}

/** The results as a terminal table, with a one-line summary under it. */
export function renderTable(doc: ResultsDocument): string {
  const repeats = Math.max(1, ...doc.cases.map((c) => c.repeat + 1));
  const table = alignColumns(HEADERS, doc.cases.map((c) => row(c, repeats)), RIGHT_ALIGNED);
  const count = (status: CaseResult['status']) => doc.cases.filter((c) => c.status === status).length;
  const summary = `${doc.cases.length} of ${doc.run.plannedCases} cases: ${count('ok')} ok, ${count('skipped')} skipped, ${count('failed')} failed${count('interrupted') ? `, ${count('interrupted')} interrupted` : ''}`;
  return `${table}\n\n${summary}`;
}
