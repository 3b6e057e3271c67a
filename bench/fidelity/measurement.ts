/**
 * What one run of one case gives, for either implementation, and the shared parts of running
 * it: timing settings and a bounded child process.
 */
import { execFile } from 'node:child_process';

/** The metric of a case (p50 round trip in ns, or bytes per second), or why there is none. */
export type Measurement =
  | { readonly status: 'ok'; readonly value: number }
  | { readonly status: 'skipped' | 'failed'; readonly reason: string };

/** Warm-up and timed part of every case, the same for podbench and the reference. */
export interface CaseTiming {
  readonly warmupMs: number;
  readonly durationMs: number;
  /** Longest wait for the peer inside a case. */
  readonly peerTimeoutMs: number;
}

/** How a child process ended, with its whole output. */
export interface ChildOutcome {
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** How long a program that overran gets after SIGTERM to clean up (its objects, its agents). */
const KILL_GRACE_MS = 10_000;

/**
 * Runs a program to its end and never rejects: a non-zero exit, a signal or running past
 * `timeoutMs` all come back as a ChildOutcome for the caller to explain. An overrun gets SIGTERM
 * first, so the C reference removes its kernel objects and podbench stops its agents, and SIGKILL
 * only if it is still there {@link KILL_GRACE_MS} later.
 */
export function runChild(file: string, args: readonly string[], timeoutMs: number): Promise<ChildOutcome> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      { timeout: timeoutMs, killSignal: 'SIGTERM', maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        clearTimeout(killer);
        const failure = err as (NodeJS.ErrnoException & { code?: number | string; signal?: string }) | null;
        const exitCode = failure ? (typeof failure.code === 'number' ? failure.code : null) : 0;
        const spawnError = failure && typeof failure.code === 'string' ? `${file}: ${failure.message}` : '';
        resolve({ exitCode, signal: failure?.signal ?? null, stdout, stderr: spawnError || stderr });
      },
    );
    // Read by the callback, which runs only after the child has started.
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs + KILL_GRACE_MS);
  });
}

/** The last line of `text` that parses as a JSON object, or undefined. */
export function lastJsonLine(text: string): Record<string, unknown> | undefined {
  const lines = text.trim().split('\n').reverse();
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      // not a JSON line; keep looking
    }
  }
  return undefined;
}

/** The last non-empty line of a program's stderr: its one-line error, by convention. */
export function lastLine(text: string): string {
  return text.trim().split('\n').filter(Boolean).at(-1) ?? '';
}
