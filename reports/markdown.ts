/**
 * GitHub-ready Markdown (for a pull request or an issue): the headline finding first — the
 * fastest channel per size and the highest throughput — then one table per mode, then what did
 * not run and why. A pure function of the results document.
 */
import type { ResultsDocument } from '../agents/contract/schema.js';
import { formatSize } from './size.js';
import { groupCases, warnedCases, winners, type CaseGroup } from './case-groups.js';

const us = (ns: number | undefined) => (ns === undefined ? '–' : (ns / 1000).toFixed(ns < 10_000 ? 2 : 1));
const mbps = (bps: number | undefined) => (bps === undefined ? '–' : (bps / 1e6).toFixed(1));

function table(headers: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(headers), line(headers.map((_, i) => (i < 2 ? '---' : '---:'))), ...rows.map(line)].join('\n');
}

/** The Markdown report. */
export function renderMarkdown(doc: ResultsDocument): string {
  const groups = groupCases(doc);
  const latency = groups.filter((g) => g.mode === 'latency');
  const throughput = groups.filter((g) => g.mode === 'throughput');
  const { fastest, widest } = winners(groups);
  const env = doc.environment;
  const out: string[] = [`# podbench results${doc.run.label ? `: ${doc.run.label}` : ''}`, ''];

  const headline = [
    ...[...fastest.entries()].map(([size, g]) => `lowest round trip at ${formatSize(size)}: **${g.channel}** (p50 ${us(g.p50Ns)} µs)`),
    ...[...widest.entries()].map(([size, g]) => `highest throughput at ${formatSize(size)}: **${g.channel}** (${mbps(g.bytesPerSec)} MB/s)`),
  ];
  if (headline.length) out.push(headline.map((h) => `- ${h.charAt(0).toUpperCase()}${h.slice(1)}`).join('\n'), '');

  const repeats = Math.max(1, ...doc.cases.map((c) => c.repeat + 1));
  out.push(
    `Run \`${doc.run.id}\` on target **${doc.run.target}**, ${doc.run.startedAt}; ${doc.cases.length} of ${doc.run.plannedCases} cases` +
      `${doc.run.complete ? '' : ` (incomplete: ${doc.run.incompleteReason ?? 'interrupted'})`}; ` +
      `${repeats > 1 ? `medians of ${repeats} repeats; ` : ''}` +
      `${env ? `${env.cpuModel}, ${env.cpuCount} CPUs, kernel ${env.kernel}, Node ${env.nodeVersion}` : 'no environment recorded'}.`,
    '',
  );
  const mark = (best: Map<number, CaseGroup>, g: CaseGroup) => (best.get(g.sizeBytes) === g ? ' ★' : '');
  const cpu = (g: CaseGroup) => (g.cpuUs ? `${g.cpuUs.initiator.toFixed(2)} / ${g.cpuUs.responder.toFixed(2)}` : '–');
  if (latency.some((g) => g.ok.length)) {
    out.push('## Round trip (latency mode)', '', table(
      ['channel', 'size', 'p50 µs', 'p99 µs', 'p99.9 µs', 'max µs', 'CPU µs/msg (initiator / responder)'],
      latency.filter((g) => g.ok.length).map((g) => [`${g.channel}${mark(fastest, g)}`, formatSize(g.sizeBytes), us(g.p50Ns), us(g.p99Ns), us(g.p999Ns), us(g.maxNs), cpu(g)]),
    ), '');
  }
  if (throughput.some((g) => g.ok.length)) {
    out.push('## One-way stream (throughput mode)', '', table(
      ['channel', 'size', 'MB/s', 'messages/s', 'CPU µs/msg (initiator / responder)'],
      throughput.filter((g) => g.ok.length).map((g) => [`${g.channel}${mark(widest, g)}`, formatSize(g.sizeBytes), mbps(g.bytesPerSec), Math.round(g.messagesPerSec ?? 0).toLocaleString('en-US'), cpu(g)]),
    ), '');
  }
  const warned = warnedCases(doc);
  if (warned.length) {
    out.push('## Warnings', '', table(['case', 'warning'], warned.map((w) => [`${w.case.channel} ${w.case.mode} ${formatSize(w.case.sizeBytes)}`, w.warning.replace(/\|/g, '\\|')])), '');
  }
  const notOk = doc.cases.filter((c) => c.status !== 'ok');
  if (notOk.length) {
    out.push('## Not measured', '', table(['case', 'status', 'reason'], notOk.map((c) => [`${c.channel} ${c.mode} ${formatSize(c.sizeBytes)}`, c.status, (c.reason ?? '').replace(/\|/g, '\\|')])), '');
  }
  out.push('★ best at that size. Latency in microseconds; MB/s is 10⁶ bytes per second as the receiver counted.', '');
  return out.join('\n');
}
