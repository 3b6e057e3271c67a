/**
 * The entry-point plumbing the benchmark scripts share: parse with commander, run, and turn every
 * error into one line on stderr and an exit code — 2 for bad flags, 1 for anything else.
 */
import { CommanderError, InvalidArgumentError, type Command, type OptionValues } from 'commander';

/** Parses argv with `program`, runs `main` with its options and sets the exit code. */
export async function runScript<T extends OptionValues>(
  program: Command,
  main: (opts: T) => Promise<number>,
): Promise<void> {
  const name = program.name();
  program.exitOverride().configureOutput({
    outputError: (text) => process.stderr.write(`${name}: ${text.replace(/^error: /, '').trim()} (see --help)\n`),
  });
  try {
    program.parse();
    process.exitCode = await main(program.opts<T>());
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    process.stderr.write(`${name}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = err instanceof InvalidArgumentError ? 2 : 1;
  }
}
