/**
 * `npm run bench:fidelity`: how far podbench's numbers are from what the channel can do. Each
 * target case runs through podbench's local target and through the C reference, interleaved
 * (the order alternates every round) so both see the same machine. A target is met when both
 * the median of the per-round ratios podbench / reference and the ratio of the two medians meet
 * it; a throughput case above 1.1× C by either reading is flagged as "not the same work". Exits 1
 * when a target is missed, a case fails or is flagged.
 *
 * The protocols have no C reference; their peer section (bench/fidelity/peer-section.ts) sets
 * podbench's client beside the plainest Node client and a C client (wrk, h2load) against
 * podbench's own responder, and prints the three figures and their ratios.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus as cpuInfo, release } from 'node:os';
import { join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { UDP_MAX_PAYLOAD_BYTES, type ChannelId } from '../../agents/contract/channels.js';
import { DEFAULT_MODE_IDS, FIGURES, type ModeId } from '../../agents/contract/modes.js';
import { PER_MESSAGE_OVERHEAD_BYTES } from '../../agents/channels/posix-mq.js';
import { readKernelLimits } from '../../agents/kernel-limits.js';
import { median } from '../../reports/case-groups.js';
import { alignColumns } from '../../reports/table.js';
import { durationParser, parseChannels, parseModes, wholeNumberParser } from '../cli/run-options.js';
import { formatDuration } from '../cli/units.js';
import { RAISED_SYSV_LIMITS, enterPrivateIpcNamespace } from './ipc-namespace.js';
import type { CaseTiming, Measurement } from './measurement.js';
import { runPodbenchCase } from './podbench-case.js';
import { buildReference, runReferenceCase } from './reference.js';
import { CLI_PATH, C_REFERENCE_DIR, PACKAGE_ROOT } from '../install-paths.js';
import { runScript } from './script.js';
import { fidelityCaseLabel, fidelityTargets, type FidelityTarget, type Pin } from './fidelity-targets.js';
import { renderPeerSummaries, runPeerSection, selectedPeerCases, summarizePeer } from './peer-section.js';

/** The parsed flags. */
interface Options {
  channels: ChannelId[];
  modes: ModeId[];
  pin: Pin | 'all';
  rounds: number;
  duration: number;
  warmup: number;
  referenceSendDelayNs: number;
  json?: string;
}

/** Everything measured for one target over all rounds. */
interface TargetRuns {
  readonly target: FidelityTarget;
  readonly podbench: Measurement[];
  readonly reference: Measurement[];
}

type Verdict = 'met' | 'missed' | 'not the same work' | 'skipped' | 'failed';

/**
 * A throughput ratio above this means podbench moved data faster than C doing the same calls
 * could: the two are not doing the same work (a deeper queue, fewer bytes on the wire, a
 * different message), so the case is flagged, never counted as met.
 */
const SAME_WORK_CEILING = 1.1;

interface Summary {
  readonly label: string;
  readonly metric: FidelityTarget['metric'];
  readonly boundRatio: number;
  readonly podbenchMedian?: number;
  readonly referenceMedian?: number;
  /** Median over rounds of podbench / reference in that round (paired by round). */
  readonly ratio?: number;
  /** podbench's median / the reference's median. */
  readonly ratioOfMedians?: number;
  /** Lowest and highest per-round ratio. */
  readonly ratioRange?: readonly [number, number];
  readonly rounds: number;
  readonly verdict: Verdict;
  readonly reason?: string;
}

/** The largest POSIX queue message the limits allow: msgsize_max, unless RLIMIT_MSGQUEUE cannot hold two queues of it. */
function mqLargestBytes(): number {
  const limits = readKernelLimits();
  const bySize = limits.mqMsgsizeMaxBytes ?? 8192;
  const byRlimit =
    limits.rlimitMsgqueueBytes === null
      ? bySize
      : Math.floor(limits.rlimitMsgqueueBytes / 2) - PER_MESSAGE_OVERHEAD_BYTES;
  return Math.min(bySize, byRlimit);
}

/** The CPUs this process may use, from Cpus_allowed_list ("0-1", "2,4-7"). */
function allowedCpus(): number[] {
  const list = /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0';
  return list.split(',').flatMap((part) => {
    const [from, to] = part.split('-').map(Number);
    return Array.from({ length: (to ?? from!) - from! + 1 }, (_, i) => from! + i);
  });
}

function formatValue(metric: FidelityTarget['metric'], value: number | undefined): string {
  if (value === undefined) return '-';
  if (metric === 'throughput')
    return value >= 1e9 ? `${(value / 1e9).toFixed(2)} GB/s` : `${(value / 1e6).toFixed(1)} MB/s`;
  if (value < 1000) return `${Math.round(value)} ns`;
  return `${(value / 1000).toFixed(value < 10_000 ? 2 : 1)} µs`;
}

function summarize(runs: TargetRuns): Summary {
  const { target } = runs;
  const label = fidelityCaseLabel(target.case);
  const base = { label, metric: target.metric, boundRatio: target.boundRatio, rounds: runs.podbench.length };
  const notOk = [
    ...runs.podbench.map((m) => ['podbench', m] as const),
    ...runs.reference.map((m) => ['reference', m] as const),
  ].find(([, m]) => m.status !== 'ok');
  if (notOk) {
    const [who, m] = notOk;
    const reason = m.status === 'ok' ? '' : m.reason;
    return { ...base, verdict: m.status === 'skipped' ? 'skipped' : 'failed', reason: `${who}: ${reason}` };
  }
  const values = (ms: Measurement[]) => ms.map((m) => (m.status === 'ok' ? m.value : NaN));
  const p = values(runs.podbench);
  const r = values(runs.reference);
  const perRound = p.map((v, i) => v / r[i]!);
  const ratio = median(perRound)!;
  const podbenchMedian = median(p)!;
  const referenceMedian = median(r)!;
  const ratioOfMedians = podbenchMedian / referenceMedian;
  const within = (x: number) =>
    FIGURES[target.metric].lowerIsBetter ? x <= target.boundRatio : x >= target.boundRatio;
  const beyondC = !FIGURES[target.metric].lowerIsBetter && Math.max(ratio, ratioOfMedians) > SAME_WORK_CEILING;
  // Met only when both ways of reading the rounds agree: with few noisy rounds they can differ.
  const verdict: Verdict = beyondC ? 'not the same work' : within(ratio) && within(ratioOfMedians) ? 'met' : 'missed';
  return {
    ...base,
    podbenchMedian,
    referenceMedian,
    ratio,
    ratioOfMedians,
    ratioRange: [Math.min(...perRound), Math.max(...perRound)],
    verdict,
  };
}

function renderSummaries(summaries: readonly Summary[]): string {
  const rows = summaries.map((s) => [
    s.label,
    formatValue(s.metric, s.podbenchMedian),
    formatValue(s.metric, s.referenceMedian),
    s.ratio === undefined ? '-' : `${s.ratio.toFixed(2)}×`,
    s.ratioOfMedians === undefined ? '-' : `${s.ratioOfMedians.toFixed(2)}×`,
    s.ratioRange === undefined ? '-' : `${s.ratioRange[0].toFixed(2)}–${s.ratioRange[1].toFixed(2)}`,
    `${FIGURES[s.metric].lowerIsBetter ? '≤' : '≥'} ${s.boundRatio}×`,
    s.reason === undefined ? s.verdict : `${s.verdict}: ${s.reason}`,
  ]);
  return alignColumns(
    ['case', 'podbench', 'reference', 'ratio', 'of medians', 'round range', 'target', 'verdict'],
    rows,
    new Set([1, 2, 3, 4, 5]),
  );
}

async function main(opts: Options): Promise<number> {
  const ipc = enterPrivateIpcNamespace();
  const timing: CaseTiming = { warmupMs: opts.warmup, durationMs: opts.duration, peerTimeoutMs: 5000 };
  const binary = await buildReference(C_REFERENCE_DIR, join(PACKAGE_ROOT, '.cache', 'reference'));
  const targets = fidelityTargets((channel) => (channel === 'udp' ? UDP_MAX_PAYLOAD_BYTES : mqLargestBytes())).filter(
    (t) =>
      opts.channels.includes(t.case.channel) &&
      opts.modes.includes(t.case.mode) &&
      (opts.pin === 'all' || t.case.pin === opts.pin),
  );
  const peerCases = opts.pin === 'same' ? [] : selectedPeerCases(opts.channels, opts.modes);
  if (targets.length === 0 && peerCases.length === 0)
    throw new InvalidArgumentError('no target or peer case matches --channels, --modes and --pin');
  const cpus = allowedCpus();
  if (cpus.length < 2 && (peerCases.length > 0 || targets.some((t) => t.case.pin === 'split')))
    throw new Error('the two-CPU cases need two CPUs; this process may use one (run with --pin same)');

  const err = process.stderr;
  err.write(
    `podbench fidelity: ${targets.length} cases and ${peerCases.length} peer cases × ${opts.rounds} rounds, ` +
      `${formatDuration(opts.duration)} each (+${formatDuration(opts.warmup)} warm-up), ` +
      'podbench and the C reference interleaved\n',
  );
  if (opts.referenceSendDelayNs > 0) {
    err.write(
      `the reference spins ${opts.referenceSendDelayNs} ns before each send: a model of a runtime's cost per message, not C as it is\n`,
    );
  }
  err.write(
    ipc.raised
      ? `System V limits raised in a private IPC namespace: ${Object.entries(RAISED_SYSV_LIMITS)
          .map(([k, v]) => `${k}=${v}`)
          .join(', ')}\n`
      : `System V limits left as they are: ${ipc.why}\n`,
  );

  const runs: TargetRuns[] = targets.map((target) => ({ target, podbench: [], reference: [] }));
  for (let round = 0; round < opts.rounds; round++) {
    for (const run of runs) {
      const c = run.target.case;
      const order = round % 2 === 0 ? (['podbench', 'reference'] as const) : (['reference', 'podbench'] as const);
      for (const who of order) {
        const m =
          who === 'podbench'
            ? await runPodbenchCase(CLI_PATH, c, timing)
            : await runReferenceCase(binary, c, timing, cpus, opts.referenceSendDelayNs);
        run[who].push(m);
      }
      const show = (m: Measurement) => (m.status === 'ok' ? formatValue(run.target.metric, m.value) : m.status);
      const podbenchShown = show(run.podbench.at(-1)!).padStart(11);
      const referenceShown = show(run.reference.at(-1)!).padStart(11);
      err.write(
        `[${round + 1}/${opts.rounds}] ${fidelityCaseLabel(c).padEnd(34)} ` +
          `podbench ${podbenchShown}   reference ${referenceShown}\n`,
      );
    }
  }

  const peerRuns = await runPeerSection(peerCases, opts.rounds, timing, cpus, CLI_PATH, err);
  const summaries = runs.map(summarize);
  const peerSummaries = peerRuns.map(summarizePeer);
  const machine = `${cpuInfo()[0]?.model ?? 'unknown CPU'}, ${cpuInfo().length} CPUs, Linux ${release()}, Node ${process.version}`;
  const delayed =
    opts.referenceSendDelayNs > 0 ? `; the reference spun ${opts.referenceSendDelayNs} ns before each send` : '';
  process.stdout.write(`\n${machine}\n`);
  const missed = summaries.filter((s) => s.verdict !== 'met' && s.verdict !== 'skipped');
  const met = summaries.filter((s) => s.verdict === 'met');
  if (summaries.length) {
    process.stdout.write(
      `medians of ${opts.rounds} interleaved rounds${delayed}; ` +
        'ratio = median of per-round podbench / reference; met when it and the ratio of medians both meet the target' +
        `\n\n${renderSummaries(summaries)}\n` +
        `\n${met.length} met, ${missed.length} missed, failed or not the same work (throughput above ${SAME_WORK_CEILING}× C), ` +
        `${summaries.length - met.length - missed.length} skipped\n`,
    );
  }
  const peersFailed = peerSummaries.filter((s) => s.failed);
  if (peerRuns.length) {
    process.stdout.write(
      "\npeers: podbench's client, the plainest Node client and a C client against podbench's responder, " +
        'one connection, one request at a time (latency: p50 round trip; throughput: 204 answers, requests/s); ' +
        'ratios are medians of per-round ratios; wrk has no warm-up, so its run includes it\n\n' +
        `${renderPeerSummaries(peerRuns, peerSummaries)}\n`,
    );
  }
  if (opts.json) {
    const report = {
      machine,
      rounds: opts.rounds,
      timing,
      referenceSendDelayNs: opts.referenceSendDelayNs,
      ipc,
      summaries,
      runs,
      peers: { summaries: peerSummaries, runs: peerRuns },
    };
    writeFileSync(opts.json, `${JSON.stringify(report, null, 2)}\n`);
  }
  return missed.length > 0 || peersFailed.length > 0 ? 1 : 0;
}

const program = new Command('bench:fidelity')
  .description('compare podbench with a C reference on the same cases, interleaved, and check the fidelity targets')
  .addOption(
    new Option('--channels <list>', 'channels to include')
      .default(parseChannels('all'), 'all')
      .argParser(parseChannels),
  )
  .addOption(
    // Fidelity targets are closed-loop figures: the modes a run measures by default.
    new Option('--modes <list>', 'modes to include')
      .default([...DEFAULT_MODE_IDS], DEFAULT_MODE_IDS.join(','))
      .argParser(parseModes),
  )
  .addOption(
    new Option(
      '--pin <how>',
      'placements to include: each process on its own CPU (split), both on one CPU (same), or all',
    )
      .choices(['split', 'same', 'all'])
      .default('all'),
  )
  .addOption(new Option('--rounds <n>', 'interleaved rounds per case').default(3).argParser(wholeNumberParser(1, 50)))
  .addOption(
    new Option('--duration <time>', 'timed part of each case')
      .default(1000, '1s')
      .argParser(durationParser(100, 600_000)),
  )
  .addOption(
    new Option('--warmup <time>', 'warm-up before each case')
      .default(200, '200ms')
      .argParser(durationParser(0, 60_000)),
  )
  .addOption(
    new Option(
      '--reference-send-delay-ns <n>',
      'make the reference spin this long before each send, to see how a cost per message moves each case here ' +
        '(the verdicts then compare podbench with that model, not with C)',
    )
      .default(0)
      .argParser(wholeNumberParser(0, 1_000_000)),
  )
  .option('--json <file>', 'also write every measurement and the summary as JSON');

await runScript(program, main);
