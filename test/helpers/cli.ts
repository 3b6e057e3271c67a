/** Runs the built podbench CLI as a user would, and collects what it printed. */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
export async function waitForStderr(run: CliRun, predicate: (stderr: string) => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate(run.stderr())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for progress; stderr so far:\n${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
