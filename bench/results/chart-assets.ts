/** Reads the charting library (uPlot) that the HTML report inlines. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChartAssets } from '../../reports/html.js';
import { CliError } from '../cli/errors.js';
import { packageDir } from '../pod/package-dir.js';

/** uPlot's minified script and stylesheet. */
export function chartAssets(): ChartAssets {
  const dir = packageDir('uplot');
  if (!dir) throw new CliError('the uplot package is not installed; run npm ci', 1);
  return {
    uplotJs: readFileSync(join(dir, 'dist', 'uPlot.iife.min.js'), 'utf8'),
    uplotCss: readFileSync(join(dir, 'dist', 'uPlot.min.css'), 'utf8'),
  };
}
