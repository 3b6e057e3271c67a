#!/usr/bin/env node
/**
 * The podbench command line. The only place that ends the process: commands throw typed errors
 * (bench/errors.ts), and this file turns them into one line on stderr and an exit code — 2 for
 * bad input, 1 for a failed or incomplete run, 130 when interrupted. --debug adds stack traces
 * and the agents' own output.
 */
import { Command, CommanderError, Option } from 'commander';
import { CHANNEL_IDS, MODE_IDS } from '../agents/contract/channels.js';
import { probeChannels, renderChannels } from './commands/channels.js';
import { runCommand } from './commands/run.js';
import { CliError } from './errors.js';
import {
  DEFAULTS,
  OUTPUTS,
  QUICK,
  TARGETS,
  durationParser,
  parseChannels,
  parseLabel,
  parseModes,
  parseRepeat,
  parseSizes,
  type RunOptions,
} from './run-options.js';
import { PODBENCH_VERSION } from './version.js';

const debug = process.argv.includes('--debug');

function fail(message: string, exitCode: number, hint?: string): never {
  process.stderr.write(`podbench: ${message}${hint ? `\n  hint: ${hint}` : ''}\n`);
  process.exit(exitCode);
}

const program = new Command('podbench')
  .description('Measure the channels between two containers of one Kubernetes Pod: latency, throughput and CPU cost.')
  .version(PODBENCH_VERSION)
  .option('--debug', 'show stack traces and the agents\' own output')
  .exitOverride()
  .showSuggestionAfterError(false)
  .configureOutput({
    // Commander's parse errors become the same single line as every other error.
    outputError: (text) => process.stderr.write(`podbench: ${text.replace(/^error: /, '').trim()} (see --help)\n`),
  });

const duration = durationParser(1, 3_600_000);
const timeout = durationParser(100, 3_600_000);
const choice = (flags: string, description: string, choices: readonly string[], defaultValue: string) =>
  new Option(flags, description).choices(choices).default(defaultValue);

program
  .command('run')
  .description('deploy the agent pair, run the case matrix, write results.json and print a table')
  .addOption(new Option('--channels <list>', `channels to measure: ${CHANNEL_IDS.join(', ')} or all`).default([...CHANNEL_IDS], 'all').argParser(parseChannels))
  .addOption(new Option('--modes <list>', `modes: ${MODE_IDS.join(', ')}`).default([...MODE_IDS], MODE_IDS.join(',')).argParser(parseModes))
  .addOption(new Option('--sizes <list>', 'message sizes in bytes, k/Ki/M/Mi suffixes allowed (header included)').default(parseSizes(DEFAULTS.sizes), DEFAULTS.sizes).argParser(parseSizes))
  .addOption(new Option('--duration <time>', 'timed part of each case (ms, s, m)').default(duration(DEFAULTS.duration), DEFAULTS.duration).argParser(duration))
  .addOption(new Option('--warmup <time>', 'warm-up before each case').default(durationParser(0, 600_000)(DEFAULTS.warmup), DEFAULTS.warmup).argParser(durationParser(0, 600_000)))
  .addOption(new Option('--repeat <n>', 'run the whole matrix n times (spread over the run)').default(1).argParser(parseRepeat))
  .addOption(choice('--verify <how>', 'checksum a sample of each payload (first and last 64 bytes) or every byte', ['sample', 'full'], 'sample'))
  .addOption(choice('--pin <how>', 'CPU placement: both agents on one CPU, on two CPUs, or wherever the scheduler puts them', ['none', 'same', 'split'], 'none'))
  .addOption(new Option('--connect-timeout <time>', 'how long the agents wait for each other at start').default(timeout(DEFAULTS.connectTimeout), DEFAULTS.connectTimeout).argParser(timeout))
  .addOption(new Option('--peer-timeout <time>', 'longest wait for the peer inside a case before it fails').default(timeout(DEFAULTS.peerTimeout), DEFAULTS.peerTimeout).argParser(timeout))
  .addOption(choice('--target <name>', 'where to run the agents (auto: a cluster when one is configured, else local)', TARGETS, 'auto'))
  .option('--out-dir <dir>', 'directory for results.json (default: podbench-results/<time>-<run id>)')
  .addOption(new Option('-o, --output <format>', 'what to print when done').choices(OUTPUTS).default('table'))
  .option('--label <name>', 'a name for this run in reports and comparisons', parseLabel)
  .option('--dry-run', 'print the plan (cases and settings) and exit')
  .option('--quick', `a short first look: sizes ${QUICK.sizes}, ${QUICK.duration} per case, ${QUICK.warmup} warm-up (explicit flags win)`)
  .action(async (opts, cmd: Command) => {
    const quick = Boolean(opts.quick);
    const fromCli = (name: string) => cmd.getOptionValueSource(name) === 'cli';
    const options: RunOptions = {
      channels: opts.channels,
      modes: opts.modes,
      sizesBytes: quick && !fromCli('sizes') ? parseSizes(QUICK.sizes) : opts.sizes,
      repeat: opts.repeat,
      settings: {
        durationMs: quick && !fromCli('duration') ? duration(QUICK.duration) : opts.duration,
        warmupMs: quick && !fromCli('warmup') ? duration(QUICK.warmup) : opts.warmup,
        verify: opts.verify,
        pin: opts.pin,
        connectTimeoutMs: opts.connectTimeout,
        peerTimeoutMs: opts.peerTimeout,
      },
      target: opts.target,
      outDir: opts.outDir,
      output: opts.output,
      dryRun: Boolean(opts.dryRun),
      label: opts.label,
    };
    await runCommand(options, { stdout: process.stdout, stderr: process.stderr, debug });
  });

program
  .command('channels')
  .description('list the channels and whether this host supports each (probed with real objects)')
  .addOption(new Option('-o, --output <format>', 'table or json').choices(OUTPUTS).default('table'))
  .action(async (opts: { output: string }) => {
    const support = await probeChannels();
    process.stdout.write(opts.output === 'json' ? `${JSON.stringify(support, null, 2)}\n` : `${renderChannels(support)}\n`);
  });

try {
  await program.parseAsync(process.argv);
  process.exit(0);
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and --version exit 0; every parse error was already printed by outputError.
    process.exit(err.exitCode === 0 ? 0 : 2);
  }
  if (err instanceof CliError) {
    if (debug) process.stderr.write(`${err.stack}\n`);
    fail(err.message, err.exitCode, err.hint);
  }
  if (debug) process.stderr.write(`${(err as Error)?.stack ?? err}\n`);
  fail(`${err instanceof Error ? err.message : String(err)}${debug ? '' : ' (run with --debug for details)'}`, 1);
}
