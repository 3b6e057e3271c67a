/**
 * `podbench compare <a.json> <b.json> [more…]`: the first run is the baseline, each other run is
 * compared with it (method in reports/compare.ts). Exit code 3 when --fail-on-regression finds a
 * case that got significantly worse beyond its threshold.
 */
import { caseLabel } from '../../reports/format.js';
import { basename, dirname } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { METRICS, compareRuns, regressions, type Metric, type RegressionRule } from '../../reports/compare.js';
import {
  renderCompareMarkdown,
  renderCompareTable,
  renderCompareVerdicts,
  type ComparedRuns,
} from '../../reports/compare-render.js';
import { renderCompareHtml } from '../../reports/html.js';
import { chartAssets } from '../results/chart-assets.js';
import { CliError } from '../cli/errors.js';
import { loadResultsForRendering, unreadableError } from '../results/results-loader.js';

/** Exit code when a regression rule is broken. */
export const REGRESSION_EXIT_CODE = 3;

/** `--fail-on-regression p99:10%` (repeatable, or comma-separated). */
export function collectRegressionRules(text: string, previous: RegressionRule[] = []): RegressionRule[] {
  const rules = text.split(',').map((part) => {
    const m = /^(\w+):(\d+(?:\.\d+)?)%$/.exec(part.trim());
    if (!m || !METRICS.includes(m[1] as Metric))
      throw new InvalidArgumentError(`use METRIC:PERCENT% with METRIC one of ${METRICS.join(', ')}, e.g. p99:10%`);
    return { metric: m[1] as Metric, thresholdPct: Number(m[2]) };
  });
  return [...previous, ...rules];
}

/** The run's label, else its file name (the directory's for a results.json). */
function runName(path: string, label: string | undefined): string {
  if (label) return label;
  const file = basename(path, '.json');
  return file === 'results' ? basename(dirname(path)) : file;
}

/** Runs the command. */
export function compareCommand(
  paths: readonly string[],
  format: 'table' | 'markdown' | 'html',
  rules: readonly RegressionRule[],
  stdout: NodeJS.WritableStream,
): void {
  if (paths.length < 2) throw new CliError('compare needs at least two results files: the baseline first', 2);
  const docs = paths.map((p) => loadResultsForRendering(p));
  const [base, ...others] = docs;
  const baseName = runName(base!.path, base!.doc.run.label);
  const runs: ComparedRuns[] = others.map((o) => ({
    baseName,
    otherName: runName(o.path, o.doc.run.label),
    changes: compareRuns(base!.doc, o.doc),
  }));
  const names = [baseName, ...runs.map((r) => r.otherName)];
  const text =
    format === 'html'
      ? renderCompareHtml(
          docs.map((d, i) => ({ name: names[i]!, doc: d.doc })),
          renderCompareVerdicts(runs),
          chartAssets(),
        )
      : format === 'markdown'
        ? renderCompareMarkdown(runs)
        : renderCompareTable(runs);
  stdout.write(`${text}\n`);
  const damaged = unreadableError(docs);
  if (damaged) throw damaged;
  const broken = runs.flatMap((r) => regressions(r.changes, rules, (c) => `${r.otherName} ${caseLabel(c)}`));
  if (broken.length) {
    throw new CliError(
      `${broken.length} regression(s) beyond --fail-on-regression: ${broken.slice(0, 5).join('; ')}${broken.length > 5 ? '; …' : ''}`,
      REGRESSION_EXIT_CODE,
    );
  }
}
