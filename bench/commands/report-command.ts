/**
 * `podbench report <results.json> --format …`: renders a results document. HTML and the text
 * formats go to stdout or `-o FILE`; hgrm writes one file per latency case into a directory (`-o DIR`, default
 * `hgrm/` next to the results).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ResultsDocument } from '../../agents/contract/schema.js';
import { renderCsv } from '../../reports/csv.js';
import { renderHgrm } from '../../reports/hgrm.js';
import { renderMarkdown } from '../../reports/markdown.js';
import { renderHtml } from '../../reports/html.js';
import { chartAssets } from '../results/chart-assets.js';
import { loadResultsForRendering, unreadableError } from '../results/results-loader.js';

/** The formats `podbench report` writes. */
export const REPORT_FORMATS = ['html', 'markdown', 'csv', 'json', 'hgrm'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** A text rendering of `doc` in `format` (not hgrm, which is many files). */
export function renderReport(doc: ResultsDocument, format: Exclude<ReportFormat, 'hgrm'>): string {
  if (format === 'html') return renderHtml(doc, chartAssets());
  if (format === 'markdown') return renderMarkdown(doc);
  if (format === 'csv') return renderCsv(doc);
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** Runs the command; returns what was written where (for the caller to print). */
export function reportCommand(
  resultsPath: string,
  format: ReportFormat,
  out: string | undefined,
  stdout: NodeJS.WritableStream,
): void {
  const loaded = loadResultsForRendering(resultsPath);
  const { doc } = loaded;
  if (format === 'hgrm') {
    const dir = out ?? join(dirname(resultsPath), 'hgrm');
    mkdirSync(dir, { recursive: true });
    const files = renderHgrm(doc);
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    stdout.write(`${Object.keys(files).length} .hgrm files in ${dir}\n`);
  } else {
    const text = renderReport(doc, format);
    if (out) {
      writeFileSync(out, text);
      stdout.write(`${out}\n`);
    } else stdout.write(text);
  }
  const damaged = unreadableError([loaded]);
  if (damaged) throw damaged;
}
