/**
 * podbench as a user runs it: `podbench run --target local`, with results read from its JSON
 * output. The fidelity benchmark runs one case at a time this way.
 */
import { primaryFigure } from '../../agents/contract/modes.js';
import { figureField } from '../../reports/figures.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ResultsDocument } from '../../agents/contract/schema.js';
import type { FidelityCase } from './fidelity-targets.js';
import { lastLine, runChild, type CaseTiming, type Measurement } from './measurement.js';

/** Start-up (orchestrator, two agents, harness floor) and shutdown on top of the case itself. */
const OVERHEAD_MS = 30_000;

/** Either the results document of a finished run or why there is none. */
export type PodbenchRun = { readonly doc: ResultsDocument } | { readonly error: string };

/**
 * Runs `podbench run --target local -o json` with `runArgs` into a fresh directory, which is
 * removed afterwards, and returns the results document.
 */
export async function runPodbench(
  cliPath: string,
  runArgs: readonly string[],
  timeoutMs: number,
): Promise<PodbenchRun> {
  const outDir = mkdtempSync(join(tmpdir(), 'podbench-bench-'));
  try {
    const run = await runChild(
      process.execPath,
      [cliPath, 'run', '--target', 'local', '--out-dir', outDir, '-o', 'json', ...runArgs],
      timeoutMs,
    );
    try {
      // A run with a failed case still prints its document (and exits 1).
      return { doc: JSON.parse(run.stdout) as ResultsDocument };
    } catch {
      return { error: `podbench: ${lastLine(run.stderr) || `exit ${run.exitCode ?? run.signal}`}` };
    }
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

/** Runs one case with the podbench CLI at `cliPath` and returns its metric. */
export async function runPodbenchCase(cliPath: string, c: FidelityCase, timing: CaseTiming): Promise<Measurement> {
  const args = [
    '--channels',
    c.channel,
    '--modes',
    c.mode,
    '--sizes',
    String(c.sizeBytes),
    '--warmup',
    `${timing.warmupMs}ms`,
    '--duration',
    `${timing.durationMs}ms`,
    '--peer-timeout',
    `${timing.peerTimeoutMs}ms`,
    '--pin',
    c.pin,
  ];
  const run = await runPodbench(
    cliPath,
    args,
    timing.warmupMs + timing.durationMs + timing.peerTimeoutMs + OVERHEAD_MS,
  );
  if ('error' in run) return { status: 'failed', reason: run.error };
  const result = run.doc.cases[0];
  if (!result) return { status: 'failed', reason: 'podbench measured no case' };
  if (result.status !== 'ok')
    return { status: result.status === 'skipped' ? 'skipped' : 'failed', reason: result.reason ?? result.status };
  const value = figureField(primaryFigure(c.mode)).ofCase(result);
  if (value === undefined || value <= 0) return { status: 'failed', reason: 'podbench reported no value' };
  return { status: 'ok', value };
}
