/**
 * The C reference (bench/fidelity/c-reference/): built with the system's C compiler, then run as two
 * separate processes per case — responder and initiator, which find each other by name through
 * a rendezvous file, as podbench's agents do through their control socket.
 */
import { FIGURES, MODES, primaryFigure, type SummaryFieldId } from '../../agents/contract/modes.js';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FidelityCase } from './fidelity-targets.js';
import { lastJsonLine, lastLine, runChild, type CaseTiming, type Measurement } from './measurement.js';

/** The names the C reference prints each summary field under (main.c: print_initiator, print_responder). */
const C_REPORT_NAMES: { readonly [id in SummaryFieldId]: string } = {
  p50: 'p50Ns',
  p99: 'p99Ns',
  p999: 'p999Ns',
  max: 'maxNs',
  bytesPerSec: 'bytesPerSec',
  messagesPerSec: 'messagesPerSec',
};

/** Exit code the reference uses for a case a kernel limit rules out. */
const EXIT_SKIPPED = 3;
const BUILD_TIMEOUT_MS = 120_000;
/** Slack on top of warm-up, duration and peer timeout before a reference process is killed. */
const GRACE_MS = 10_000;

/**
 * Compiles the reference into `outDir` with `cc` (or $CC) and returns the binary's path; throws
 * one line naming the compiler and its first error.
 */
export async function buildReference(
  sourceDir: string,
  outDir: string,
  compiler = process.env.CC ?? 'cc',
): Promise<string> {
  const sources = readdirSync(sourceDir)
    .filter((f) => f.endsWith('.c'))
    .map((f) => join(sourceDir, f));
  if (sources.length === 0) throw new Error(`no C sources in ${sourceDir}`);
  mkdirSync(outDir, { recursive: true });
  const binary = join(outDir, 'podbench-ref');
  const args = ['-O2', '-std=gnu11', '-Wall', '-Wextra', '-o', binary, ...sources, '-lrt', '-lpthread'];
  const built = await runChild(compiler, args, BUILD_TIMEOUT_MS);
  if (built.exitCode !== 0) {
    const why = built.stderr.split('\n').find((l) => /error/i.test(l)) ?? lastLine(built.stderr);
    throw new Error(
      `building the C reference with ${compiler} failed: ${why || `exit ${built.exitCode}`} ` +
        '(install a C compiler, e.g. apt-get install gcc, or set CC)',
    );
  }
  return binary;
}

/** The argv of one reference process, pinned to `cpu` with taskset. */
function command(
  binary: string,
  role: 'initiator' | 'responder',
  c: FidelityCase,
  timing: CaseTiming,
  dirs: { disk: string; tmpfs: string },
  name: string,
  cpu: number,
  sendDelayNs: number,
): [string, string[]] {
  const args = [
    role,
    '--channel',
    c.channel,
    '--mode',
    c.mode,
    '--size',
    String(c.sizeBytes),
    '--warmup-ms',
    String(timing.warmupMs),
    '--duration-ms',
    String(timing.durationMs),
    '--peer-timeout-ms',
    String(timing.peerTimeoutMs),
    '--dir',
    dirs.disk,
    '--tmpfs-dir',
    dirs.tmpfs,
    '--name',
    name,
    ...(sendDelayNs > 0 ? ['--send-delay-ns', String(sendDelayNs)] : []),
  ];
  return ['taskset', ['-c', String(cpu), binary, ...args]];
}

let caseCounter = 0;

/**
 * Runs one case through the reference, placed as podbench's `--pin` places its agents: `same`
 * puts both on the first allowed CPU, `split` the initiator there and the responder on the second.
 * `sendDelayNs` makes both processes spin that long before each send (see `--send-delay-ns`).
 */
export async function runReferenceCase(
  binary: string,
  c: FidelityCase,
  timing: CaseTiming,
  allowedCpus: readonly number[],
  sendDelayNs = 0,
): Promise<Measurement> {
  const disk = mkdtempSync(join(tmpdir(), 'podbench-ref-'));
  const tmpfs = existsSync('/dev/shm') ? mkdtempSync('/dev/shm/podbench-ref-') : mkdtempSync(join(disk, 'tmpfs-'));
  const name = `podbench-ref-${process.pid}-${caseCounter++}`;
  const timeoutMs = timing.warmupMs + timing.durationMs + timing.peerTimeoutMs + GRACE_MS;
  try {
    const [responder, initiator] = await Promise.all(
      (['responder', 'initiator'] as const).map((role) => {
        const cpu = role === 'responder' && c.pin === 'split' ? allowedCpus[1]! : allowedCpus[0]!;
        const [file, args] = command(binary, role, c, timing, { disk, tmpfs }, name, cpu, sendDelayNs);
        return runChild(file, args, timeoutMs);
      }),
    );
    for (const [role, outcome] of [
      ['responder', responder!],
      ['initiator', initiator!],
    ] as const) {
      if (outcome.exitCode === EXIT_SKIPPED)
        return { status: 'skipped', reason: lastLine(outcome.stderr).replace(/^podbench-ref: (skipped: )?/, '') };
      if (outcome.exitCode !== 0) {
        const why =
          lastLine(outcome.stderr) || (outcome.signal ? `killed by ${outcome.signal}` : `exit ${outcome.exitCode}`);
        return { status: 'failed', reason: `reference ${role}: ${why}` };
      }
    }
    // The side that counts the mode's messages prints its figures, under the C program's names.
    const report = lastJsonLine((MODES[c.mode].countedBy === 'initiator' ? initiator! : responder!).stdout);
    const value = Number(report?.[C_REPORT_NAMES[FIGURES[primaryFigure(c.mode)].field]]);
    if (!report || !Number.isFinite(value) || value <= 0)
      return { status: 'failed', reason: 'the reference printed no result' };
    return { status: 'ok', value };
  } finally {
    rmSync(disk, { recursive: true, force: true });
    rmSync(tmpfs, { recursive: true, force: true });
  }
}
