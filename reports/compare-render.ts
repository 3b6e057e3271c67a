/** How a comparison is shown: a terminal table or Markdown. Pure functions. */
import { caseLabel, escapeHtml } from './format.js';
import { figureField } from './figures.js';
import { alignColumns } from './table.js';
import { METRICS, type CaseChange, type Metric, type MetricChange } from './compare.js';

/** A compared pair of runs, by name. */
export interface ComparedRuns {
  readonly baseName: string;
  readonly otherName: string;
  readonly changes: readonly CaseChange[];
}

function figure(m: MetricChange | undefined): string {
  if (!m) return '';
  const field = figureField(m.metric);
  const value = `${field.show(m.base)} → ${field.show(m.other)} ${field.unit}`;
  const sign = m.changePct > 0 ? '+' : '';
  return `${value} (${sign}${m.changePct} %${m.significant ? '*' : ''})`;
}

function rows(changes: readonly CaseChange[]): string[][] {
  const get = (c: CaseChange, metric: Metric) => c.metrics.find((m) => m.metric === metric);
  return changes.map((c) => [
    caseLabel(c),
    ...METRICS.map((metric) => figure(get(c, metric))),
    c.verdict,
    c.reason ?? c.metrics[0]?.note ?? '',
  ]);
}

const HEADERS = ['case', ...METRICS, 'verdict', 'note'];
const LEGEND =
  '* significant: Mann–Whitney U (latency: all round trips, p < 0.01; throughput: per-repeat rates, p < 0.05) ' +
  'and larger than the spread between repeats';

function summary(changes: readonly CaseChange[]): string {
  const count = (v: CaseChange['verdict']) => changes.filter((c) => c.verdict === v).length;
  return (
    `${count('slower')} slower, ${count('faster')} faster, ${count('no significant change')} no significant change, ` +
    `${count('not enough repeats')} not enough repeats, ${count('not comparable')} not comparable`
  );
}

/** Terminal table. */
export function renderCompareTable(runs: readonly ComparedRuns[]): string {
  return runs
    .map(
      (r) => `${r.otherName} against ${r.baseName}: ${summary(r.changes)}\n\n${alignColumns(HEADERS, rows(r.changes))}`,
    )
    .concat(LEGEND)
    .join('\n\n');
}

/** Markdown, headline (what got slower) first. */
export function renderCompareMarkdown(runs: readonly ComparedRuns[]): string {
  const out: string[] = ['# podbench comparison', ''];
  for (const r of runs) {
    out.push(`## ${r.otherName} against ${r.baseName}`, '', `**${summary(r.changes)}**`, '');
    const slower = r.changes.filter((c) => c.verdict === 'slower');
    if (slower.length) out.push(...slower.map((c) => `- slower: ${caseLabel(c)} — ${figure(c.metrics[0])}`), '');
    out.push(
      `| ${HEADERS.join(' | ')} |`,
      `| ${HEADERS.map(() => '---').join(' | ')} |`,
      ...rows(r.changes).map((cells) => `| ${cells.map((x) => x.replace(/\|/g, '\\|')).join(' | ')} |`),
      '',
    );
  }
  out.push(LEGEND, '');
  return out.join('\n');
}

/** The verdict tables as HTML, for the comparison page. */
export function renderCompareVerdicts(runs: readonly ComparedRuns[]): string {
  return runs
    .map((r) => {
      const body = rows(r.changes)
        .map((cells, i) => {
          const rowClass = r.changes[i]!.verdict === 'slower' ? ' class="regression"' : '';
          const tds = cells.map((c) => `<td>${escapeHtml(c)}</td>`).join('');
          return `<tr${rowClass}>${tds}</tr>`;
        })
        .join('');
      const heading = `<h2>${escapeHtml(`${r.otherName} against ${r.baseName}`)}</h2>`;
      const summaryLine = `<p><strong>${escapeHtml(summary(r.changes))}</strong></p>`;
      const head = `<thead><tr>${HEADERS.map((h) => `<th>${h}</th>`).join('')}</tr></thead>`;
      return `${heading}${summaryLine}<table>${head}<tbody>${body}</tbody></table>`;
    })
    .concat(`<p class="note">${escapeHtml(LEGEND)}</p>`)
    .join('\n');
}
