/**
 * Typed errors for the CLI. Commands throw them; only the entry point turns them into a
 * message and an exit code, so every failure reaches the user as one clear line.
 */
import { constants } from 'node:os';

/** An error the user can act on: a one-line message, an exit code and maybe a hint. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Bad input: a flag value, a file or an argument (exit code 2). */
export class UsageError extends CliError {
  constructor(message: string, hint?: string) {
    super(message, 2, hint);
    this.name = 'UsageError';
  }
}

/** The run did not complete, or some case failed (exit code 1). */
export class RunError extends CliError {
  constructor(message: string, hint?: string, exitCode = 1) {
    super(message, exitCode, hint);
    this.name = 'RunError';
  }
}

/** Exit code for a run stopped by a signal, as shells report it: 128 + the signal number (SIGHUP 129, SIGINT 130, SIGTERM 143). */
export function interruptedExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 2);
}

/**
 * `text` safe to print on one line of a terminal: control characters (a newline, an escape
 * sequence) and format characters (bidi overrides that reorder what follows) shown as \u{…}
 * escapes, so an echoed input can neither break the line nor disguise itself.
 */
export function printable(text: string): string {
  return text.replace(/[\p{Cc}\p{Cf}]/gu, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}
