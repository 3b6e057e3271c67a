#!/usr/bin/env node
/**
 * The podbench command line. The only place that ends the process: commands throw typed errors
 * (bench/cli/errors.ts), and this file turns them into one line on stderr and an exit code — 2 for
 * bad input, 1 for a failed or incomplete run, 128 + the signal when interrupted (129 SIGHUP,
 * 130 SIGINT, 143 SIGTERM). --debug adds stack
 * traces and the agents' own output.
 */
import { CommanderError } from 'commander';
import { CliError, printable } from './cli/errors.js';
import { openFileHint, openFileLimit } from './cli/open-files.js';

const debug = process.argv.includes('--debug');
openFileLimit(); // now, while a file can still be opened: an error may need it (openFileHint)

// A reader that stops early (podbench … | head) is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
});

/**
 * Exits once stdout and stderr have drained: a large write to a pipe can still be queued, and
 * process.exit() would cut it off (a results document, a manifest).
 */
async function exit(code: number): Promise<never> {
  const drained = (stream: NodeJS.WriteStream) => new Promise<void>((resolve) => stream.write('', () => resolve()));
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
  process.exit(code);
}

function fail(message: string, exitCode: number, hint?: string): Promise<never> {
  process.stderr.write(`podbench: ${printable(message)}${hint ? `\n  hint: ${printable(hint)}` : ''}\n`);
  return exit(exitCode);
}

try {
  const { buildProgram } = await import('./cli/program.js');
  await buildProgram(debug).parseAsync(process.argv);
  await exit(0);
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and --version exit 0; every parse error was already printed by outputError.
    await exit(err.exitCode === 0 ? 0 : 2);
  }
  if (err instanceof CliError) {
    if (debug) process.stderr.write(`${err.stack}\n`);
    await fail(err.message, err.exitCode, err.hint);
  }
  if (debug) process.stderr.write(`${(err as Error)?.stack ?? err}\n`);
  await fail(
    `${err instanceof Error ? err.message : String(err)}${debug ? '' : ' (run with --debug for details)'}`,
    1,
    openFileHint(err),
  );
}
