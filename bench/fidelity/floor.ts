/**
 * `npm run bench:floor`: what podbench itself costs while it measures — the harness floor the
 * agent measures at start (clock, sample recording), the agents' peak resident memory at 1 MiB
 * messages, and the orchestrator's CPU while a case runs — against the targets of issue 5.
 * Each figure is the median over several full podbench runs at 1 MiB. Exits 1 on a missed target.
 */
import { cpus, release } from 'node:os';
import { Command, Option } from 'commander';
import type { CaseResult, ResultsDocument } from '../../agents/contract/schema.js';
import { median } from '../../reports/case-groups.js';
import { alignColumns } from '../../reports/table.js';
import { durationParser, wholeNumberParser } from '../cli/run-options.js';
import { formatDuration } from '../cli/units.js';
import { runPodbench } from './podbench-case.js';
import { CLI_PATH } from '../install-paths.js';
import { runScript } from './script.js';

/** Start-up and shutdown of one podbench run on top of its cases. */
const RUN_OVERHEAD_MS = 60_000;

interface Options {
  runs: number;
  duration: number;
}

/** One row: a figure, its target (if it has one) and whether it is met. */
interface Row {
  readonly what: string;
  readonly value: number;
  readonly unit: string;
  readonly max?: number;
}

/** The largest value of a numeric detail over the measured cases. */
function maxDetail(cases: readonly CaseResult[], key: string): number | undefined {
  const values = cases.map((c) => c.details?.[key]).filter((v): v is number => typeof v === 'number');
  return values.length > 0 ? Math.max(...values) : undefined;
}

/** The mean of a numeric detail over the measured cases. */
function meanDetail(cases: readonly CaseResult[], key: string): number | undefined {
  const values = cases.map((c) => c.details?.[key]).filter((v): v is number => typeof v === 'number');
  return values.length > 0 ? values.reduce((a, b) => a + b, 0) / values.length : undefined;
}

/** The figures of one run; undefined where the run did not record them. */
function figures(doc: ResultsDocument): Record<string, number | undefined> {
  const measured = doc.cases.filter((c) => c.status === 'ok');
  const floor = doc.harnessFloor;
  const rssKiB = [maxDetail(measured, 'initiator.peakRssKiB'), maxDetail(measured, 'responder.peakRssKiB')].filter(
    (v) => v !== undefined,
  );
  return {
    timingAndRecording:
      floor?.emptyIntervalNs !== undefined && floor.sampleStoreNs !== undefined
        ? floor.emptyIntervalNs + floor.sampleStoreNs
        : undefined,
    emptyInterval: floor?.emptyIntervalNs,
    sampleStore: floor?.sampleStoreNs,
    clockRead: floor?.clockReadNs,
    histogramRecord: floor?.histogramRecordNs,
    ffiCall: floor?.ffiCallNs,
    agentRssMB: rssKiB.length > 0 ? (Math.max(...rssKiB) * 1024) / 1e6 : undefined,
    orchestratorCpuMean: meanDetail(measured, 'orchestrator.cpuPercent'),
    orchestratorCpuWorst: maxDetail(measured, 'orchestrator.cpuPercent'),
  };
}

function formatRow(r: Row): string[] {
  const digits = r.value < 10 ? 2 : 1;
  const met = r.max === undefined ? '' : r.value <= r.max ? 'met' : 'missed';
  return [r.what, `${r.value.toFixed(digits)} ${r.unit}`, r.max === undefined ? '' : `≤ ${r.max} ${r.unit}`, met];
}

async function main(opts: Options): Promise<number> {
  const err = process.stderr;
  const runs: Record<string, number | undefined>[] = [];
  const args = [
    '--channels',
    'all',
    '--modes',
    'latency,throughput',
    '--sizes',
    '1Mi',
    '--duration',
    `${opts.duration}ms`,
  ];
  for (let i = 0; i < opts.runs; i++) {
    err.write(
      `[${i + 1}/${opts.runs}] podbench run --target local --sizes 1Mi ` +
        `--duration ${formatDuration(opts.duration)} (all channels, both modes)\n`,
    );
    const run = await runPodbench(CLI_PATH, args, 16 * (opts.duration + 5000) + RUN_OVERHEAD_MS);
    if ('error' in run) throw new Error(run.error);
    const failed = run.doc.cases.filter((c) => c.status === 'failed');
    if (failed.length > 0)
      throw new Error(
        `${failed.length} case(s) failed, e.g. ${failed[0]!.channel} ${failed[0]!.mode}: ${failed[0]!.reason}`,
      );
    runs.push(figures(run.doc));
  }
  const medianOf = (key: string): number => {
    const value = median(runs.map((r) => r[key]).filter((v): v is number => v !== undefined));
    if (value === undefined) throw new Error(`the runs recorded no ${key}`);
    return value;
  };
  const rows: Row[] = [
    {
      what: 'timing + recording one sample (empty interval + sample store)',
      value: medianOf('timingAndRecording'),
      unit: 'ns',
      max: 60,
    },
    {
      what: '  empty interval: clock cost inside each latency sample (median)',
      value: medianOf('emptyInterval'),
      unit: 'ns',
    },
    { what: '  sample store in the timed loop', value: medianOf('sampleStore'), unit: 'ns' },
    { what: 'one clock read', value: medianOf('clockRead'), unit: 'ns' },
    { what: 'histogram insert (between round trips, per batch)', value: medianOf('histogramRecord'), unit: 'ns' },
    { what: 'one FFI call (koffi, getpid)', value: medianOf('ffiCall'), unit: 'ns' },
    { what: 'agent peak resident memory at 1 MiB messages', value: medianOf('agentRssMB'), unit: 'MB', max: 100 },
    {
      what: 'orchestrator CPU while a case runs (mean over cases)',
      value: medianOf('orchestratorCpuMean'),
      unit: '% of a core',
      max: 2,
    },
    { what: '  the worst single case', value: medianOf('orchestratorCpuWorst'), unit: '% of a core' },
  ];
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} CPUs, Linux ${release()}, Node ${process.version}`;
  const table = alignColumns(['figure', 'value', 'target', 'verdict'], rows.map(formatRow), new Set([1]));
  process.stdout.write(`\n${machine}\nmedians of ${opts.runs} runs\n\n${table}\n`);
  return rows.some((r) => r.max !== undefined && r.value > r.max) ? 1 : 0;
}

const program = new Command('bench:floor')
  .description(
    "measure the harness floor, the agents' memory at 1 MiB and the orchestrator's CPU, and check them against the targets",
  )
  .addOption(
    new Option('--runs <n>', 'full podbench runs to take the median of').default(3).argParser(wholeNumberParser(1, 20)),
  )
  .addOption(
    new Option('--duration <time>', 'timed part of each case')
      .default(1000, '1s')
      .argParser(durationParser(100, 600_000)),
  );

await runScript(program, main);
