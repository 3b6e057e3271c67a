/** Runs the built podbench CLI as a user would, and collects what it printed. */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ResultsDocument } from '../../agents/contract/schema.js';

/** dist/bench/cli.js, the file `npx podbench` runs. */
export const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'cli.js');

/** What a finished CLI run printed and how it exited. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

/** A started CLI process and its result. */
export interface CliRun {
  child: ChildProcess;
  /** stderr so far (progress lines). */
  stderr(): string;
  result: Promise<CliResult>;
}

/** Starts `podbench ...args`. */
export function startCli(args: string[]): CliRun {
  const started = Date.now();
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const result = new Promise<CliResult>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, elapsedMs: Date.now() - started })),
  );
  return { child, stderr: () => stderr, result };
}

/** Runs `podbench ...args` to the end. */
export function runCli(args: string[]): Promise<CliResult> {
  return startCli(args).result;
}

/** Resolves once `predicate(stderr)` holds, polling. */
export async function waitForStderr(
  run: CliRun,
  predicate: (stderr: string) => boolean,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate(run.stderr())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for progress; stderr so far:\n${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Resolves `intoCaseMs` after the first case has opened: the harness floor, written to
 * results.json in `outDir`, is the agents' last event before it.
 */
export async function waitIntoFirstCase(
  run: CliRun,
  outDir: string,
  intoCaseMs: number,
  timeoutMs = 30_000,
): Promise<void> {
  const path = join(outDir, 'results.json');
  const floorWritten = () =>
    existsSync(path) && (JSON.parse(readFileSync(path, 'utf8')) as ResultsDocument).harnessFloor !== undefined;
  const deadline = Date.now() + timeoutMs;
  while (!floorWritten()) {
    if (Date.now() > deadline || run.child.exitCode !== null)
      throw new Error(`the first case did not start; stderr so far:\n${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, intoCaseMs));
}

/**
 * Runs `podbench run ...args` (with --duration 60s and `outDir`), sends SIGINT `intoCaseMs` into
 * the first case, and checks what every target must do: exit 130 long before the case would have
 * ended (within `exitWithinMs`), with that case recorded as interrupted. Resolves to the result.
 */
export async function interruptFirstCase(
  args: string[],
  outDir: string,
  intoCaseMs: number,
  exitWithinMs: number,
): Promise<CliResult> {
  const run = startCli(['run', ...args, '--duration', '60s', '--out-dir', outDir]);
  await waitIntoFirstCase(run, outDir, intoCaseMs, 120_000);
  const signalledAt = Date.now();
  run.child.kill('SIGINT');
  const result = await run.result;
  const stoppedAfterMs = Date.now() - signalledAt;
  assert.equal(result.code, 130, result.stderr);
  assert.ok(stoppedAfterMs < exitWithinMs, `podbench exited ${stoppedAfterMs} ms after Ctrl-C in a 60 s case`);
  const doc = JSON.parse(readFileSync(join(outDir, 'results.json'), 'utf8')) as ResultsDocument;
  assert.deepEqual(
    doc.cases.map((c) => c.status),
    ['interrupted'],
  );
  assert.match(doc.cases[0]!.reason ?? '', /^interrupted by SIGINT \d+(\.\d)?s into the case$/);
  assert.equal(doc.run.complete, false);
  return result;
}
