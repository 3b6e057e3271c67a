/**
 * GitHub-ready Markdown (for a pull request or an issue): the headline finding first — the best
 * channel per mode and size — then one table per mode, then what did not run and why. A pure
 * function of the results document.
 */
import { MODES, MODE_IDS } from '../agents/contract/modes.js';
import type { ResultsDocument } from '../agents/contract/schema.js';
import { groupCases, lossyCases, seriesName, warnedCases, type CaseGroup } from './case-groups.js';
import { SUMMARY_FIELDS, headlines, isWinner, winners } from './figures.js';
import { capitalised, caseLabel, formatCpuUs, formatSize, orDash } from './format.js';
import { COST_NOTE, costTables, protocolCosts } from './protocol-cost.js';
import {
  RATE_HEADERS,
  RATE_NOTE,
  curveName,
  describeKnee,
  latencyLimitMsOf,
  rateCurves,
  rateRows,
} from './rate-curve.js';

function table(headers: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(headers), line(headers.map((_, i) => (i < 2 ? '---' : '---:'))), ...rows.map(line)].join('\n');
}

const cell = (text: string) => text.replace(/\|/g, '\\|');

/** The Markdown report. */
export function renderMarkdown(doc: ResultsDocument): string {
  const groups = groupCases(doc);
  const best = winners(groups);
  const env = doc.environment;
  const out: string[] = [`# podbench results${doc.run.label ? `: ${doc.run.label}` : ''}`, ''];

  const found = headlines(best);
  if (found.length)
    out.push(
      found
        .map((h) => `- ${capitalised(h.best)} at ${formatSize(h.sizeBytes)}: **${h.channel}** (${h.figure})`)
        .join('\n'),
      '',
    );

  const repeats = Math.max(1, ...doc.cases.map((c) => c.repeat + 1));
  out.push(
    `Run \`${doc.run.id}\` on target **${doc.run.target}**, ${doc.run.startedAt}; ${doc.cases.length} of ${doc.run.plannedCases} cases` +
      `${doc.run.complete ? '' : ` (incomplete: ${doc.run.incompleteReason ?? 'interrupted'})`}; ` +
      `${repeats > 1 ? `medians of ${repeats} repeats; ` : ''}` +
      `${env ? `${env.cpuModel}, ${env.cpuCount} CPUs, kernel ${env.kernel}, Node ${env.nodeVersion}` : 'no environment recorded'}.`,
    '',
  );
  const cpu = (g: CaseGroup) =>
    g.cpuUs ? `${formatCpuUs(g.cpuUs.initiator)} / ${formatCpuUs(g.cpuUs.responder)}` : '–';
  for (const mode of MODE_IDS) {
    if (MODES[mode].paced) continue; // the rate section below
    const measured = groups.filter((g) => g.mode === mode && g.ok.length);
    if (!measured.length) continue;
    const fields = MODES[mode].summary.map((f) => SUMMARY_FIELDS[f]);
    const rows = measured.map((g) => [
      `${seriesName(g)}${isWinner(best, g) ? ' ★' : ''}`,
      formatSize(g.sizeBytes),
      ...fields.map((f) => orDash(f.ofGroup(g), f.show)),
      cpu(g),
    ]);
    out.push(
      `## ${MODES[mode].title}`,
      '',
      table(['channel', 'size', ...fields.map((f) => f.header), 'CPU µs/msg (initiator / responder)'], rows),
      '',
    );
  }
  const curves = rateCurves(doc);
  if (curves.length) {
    const limitMs = latencyLimitMsOf(doc);
    out.push(
      `## ${MODES.rate.title}`,
      '',
      curves
        .map((c) => `- Knee of ${curveName(c)} at ${formatSize(c.sizeBytes)}: ${describeKnee(c, limitMs)}`)
        .join('\n'),
      '',
      table(
        [...RATE_HEADERS],
        rateRows(curves).map((r) => r.map(cell)),
      ),
      '',
      RATE_NOTE,
      '',
    );
  }
  const costs = costTables(protocolCosts(doc));
  if (costs.length) {
    out.push('## Protocol cost', '', COST_NOTE, '');
    for (const t of costs)
      out.push(
        `### ${t.title}`,
        '',
        table(
          [...t.headers],
          t.rows.map((r) => r.map(cell)),
        ),
        '',
      );
  }
  const lossy = lossyCases(doc);
  if (lossy.length) {
    out.push(
      '## Losses',
      '',
      'Datagram channels count what was lost, reordered or duplicated instead of failing.',
      '',
      table(
        ['case', 'losses'],
        lossy.map((l) => [caseLabel(l.case), cell(l.loss)]),
      ),
      '',
    );
  }
  const warned = warnedCases(doc);
  if (warned.length) {
    out.push(
      '## Warnings',
      '',
      table(
        ['case', 'warning'],
        warned.map((w) => [caseLabel(w.case), cell(w.warning)]),
      ),
      '',
    );
  }
  const notOk = doc.cases.filter((c) => c.status !== 'ok');
  if (notOk.length) {
    out.push(
      '## Not measured',
      '',
      table(
        ['case', 'status', 'reason'],
        notOk.map((c) => [caseLabel(c), c.status, cell(c.reason ?? '')]),
      ),
      '',
    );
  }
  out.push('★ best at that size. Latency in microseconds; MB/s is 10⁶ bytes per second as the receiver counted.', '');
  return out.join('\n');
}
