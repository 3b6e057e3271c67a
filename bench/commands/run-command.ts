/**
 * `podbench run`: plan → target → stream the initiator's events into results.json as they come
 * → stop and clean up → print the results. Every exit path (done, agent failure, Ctrl-C) goes
 * through the same stop, and results.json always says whether the run is complete.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { renderMarkdown } from '../../reports/markdown.js';
import { renderHtml } from '../../reports/html.js';
import { chartAssets } from '../results/chart-assets.js';
import type { CaseSpec, Plan, ResultsDocument } from '../../agents/contract/schema.js';
import { emptyResult } from '../../agents/case-result.js';
import { renderTable } from '../../reports/table.js';
import { RunError, UsageError, interruptedExitCode } from '../cli/errors.js';
import { caseLabel } from '../../reports/format.js';
import { addedRawChannels, buildPlan, leftOutOfPlan, plannedSeconds } from '../running/planner.js';
import { Progress } from '../running/progress.js';
import { Watchdog, nextEventBudgetMs } from '../running/watchdog.js';
import { ResultsFile, outDirProblem } from '../results/results-file.js';
import type { RunOptions } from '../cli/run-options.js';
import { openFilesProblem, requireOpenFiles } from '../cli/open-files.js';
import { podOptionsProblem } from '../cli/pod-options.js';
import type { RunningPair, Target } from '../targets/target.js';
import { formatDuration } from '../cli/units.js';
import { PODBENCH_VERSION } from '../cli/version.js';

/** The signals that stop a run: each is caught, the agents stopped, what was measured kept and reported. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** Longest best-effort cleanup after a second signal. */
const ABANDON_LIMIT_MS = 3000;

/** Where the run's output goes. */
export interface RunIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WriteStream;
  readonly debug: boolean;
}

/**
 * Whether a kubeconfig context is usable: it loads and its API server answers within a few
 * seconds. Inside a pod the in-cluster service account does not count: a CI job running on
 * Kubernetes should not start creating pods unless told to (--target kubernetes). The Kubernetes
 * client is loaded only when there is a kubeconfig to try.
 */
export async function clusterReachable(cluster: {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
}): Promise<string | undefined> {
  const kubeconfigFile = cluster.kubeconfig ?? process.env.KUBECONFIG ?? join(homedir(), '.kube', 'config');
  if (!existsSync(kubeconfigFile.split(':')[0]!)) return undefined;
  if (openFilesProblem('kubernetes', 'to load the Kubernetes client')) return undefined;
  const [{ loadClusterAccess }, { VersionApi }] = await Promise.all([
    import('../targets/kubernetes/kubernetes-target.js'),
    import('@kubernetes/client-node'),
  ]);
  try {
    const access = loadClusterAccess(cluster);
    const version = await Promise.race([
      access.config.makeApiClient(VersionApi).getCode(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 3000).unref()),
    ]);
    return `context ${access.context} answers (Kubernetes ${version.gitVersion})`;
  } catch {
    return undefined;
  }
}

async function chooseTarget(options: RunOptions, io: RunIo, progress: Progress): Promise<Target> {
  const onAgentLine = io.debug ? (role: string, line: string) => io.stderr.write(`[${role}] ${line}\n`) : undefined;
  const note = (text: string) => progress.note(text);
  // Each target's module is loaded once chosen: the Kubernetes client is hundreds of modules.
  if (options.target === 'podman') {
    requireOpenFiles('podman', 'for a podman run');
    const { PodmanTarget } = await import('../targets/podman/podman-target.js');
    return new PodmanTarget({ pod: options.pod, note, onAgentLine });
  }
  let kind = options.target;
  if (kind === 'auto') {
    const cluster = await clusterReachable(options.cluster);
    kind = cluster ? 'kubernetes' : 'local';
    const lowLimit = openFilesProblem('kubernetes', 'to load the Kubernetes client');
    const noCluster = lowLimit ? `no kubeconfig was tried: ${lowLimit}` : 'no usable kubeconfig context';
    progress.note(
      cluster
        ? `target: kubernetes (auto: ${cluster})`
        : `target: local (auto: ${noCluster}, so the agents run as local processes)`,
    );
  }
  if (kind === 'kubernetes') {
    requireOpenFiles('kubernetes', 'for a Kubernetes run');
    const { KubernetesTarget } = await import('../targets/kubernetes/kubernetes-target.js');
    const target = new KubernetesTarget({ pod: options.pod, ...options.cluster, note });
    progress.note(`kubernetes: ${target.describe()}`);
    return target;
  }
  const podFlags = Object.entries(options.pod).filter(
    ([, v]) => v !== undefined && !(typeof v === 'object' && Object.keys(v).length === 0),
  );
  if (podFlags.length > 0)
    progress.note(
      `note: pod options (${podFlags.map(([k]) => k).join(', ')}) apply to pod targets; the local target ignores them`,
    );
  requireOpenFiles('local', 'for a local run (the agents inherit the limit)');
  const { LocalTarget } = await import('../targets/local/local-target.js');
  return new LocalTarget({ onAgentLine });
}

function defaultOutDir(plan: Plan): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return join('podbench-results', `${stamp}-${plan.runId}`);
}

/** The raw channels the planner added and what it left out, as lines (none when neither). */
function leftOutLines(options: RunOptions): string[] {
  const added = addedRawChannels(options.channels).map(
    (a) => `added ${a.channel}: ${a.protocol} rides on it, and the reports show the protocol's cost over it\n`,
  );
  const leftOut = leftOutOfPlan(options);
  if (!leftOut.length) return added;
  return [...added, `left out (${leftOut.length}):\n`, ...leftOut.map((l) => `       ${caseLabel(l)}: ${l.reason}\n`)];
}

function printPlan(plan: Plan, options: RunOptions, io: RunIo): void {
  if (options.output === 'json') {
    io.stdout.write(`${JSON.stringify(plan, null, 2)}\n`);
    // The plan is the contract's document; what it leaves out goes beside it, on stderr.
    io.stderr.write(leftOutLines(options).join(''));
    return;
  }
  const s = plan.settings;
  io.stdout.write(
    `${plan.cases.length} cases on target ${options.target}, ` +
      `each ${formatDuration(s.warmupMs)} warm-up + ${formatDuration(s.durationMs)} timed ` +
      `(at least ${Math.ceil(plannedSeconds(plan))} s); verify ${s.verify}, pin ${s.pin}\n`,
  );
  for (const c of plan.cases)
    io.stdout.write(`  ${String(c.index + 1).padStart(3)}  ${caseLabel(c, options.repeat)}\n`);
  io.stdout.write(leftOutLines(options).join(''));
}

function notMeasured(plan: Plan, done: ReadonlySet<number>): CaseSpec[] {
  return plan.cases.filter((c) => !done.has(c.index));
}

function listCases(cases: readonly CaseSpec[], repeats: number): string {
  const shown = cases
    .slice(0, 5)
    .map((c) => caseLabel(c, repeats))
    .join(', ');
  return cases.length > 5 ? `${shown} and ${cases.length - 5} more` : shown;
}

/**
 * Starts measuring the orchestrator's own CPU; the returned function gives the share of one core
 * used since, in percent. Recorded per case because on local and podman targets the orchestrator
 * shares the host with the agents, and must stay out of their way.
 */
function orchestratorCpuMeter(): () => number {
  const cpuStart = process.cpuUsage();
  const wallStartMs = performance.now();
  return () => {
    const spent = process.cpuUsage(cpuStart);
    const wallUs = (performance.now() - wallStartMs) * 1000;
    return wallUs > 0 ? Math.round(((spent.user + spent.system) / wallUs) * 1000) / 10 : 0;
  };
}

/** Runs the benchmark; resolves when everything is written and cleaned up. */
export async function runCommand(options: RunOptions, io: RunIo): Promise<void> {
  const plan = buildPlan(options);
  // The local target ignores the pod's shape (and says so); auto may become a cluster.
  const podProblem = options.target === 'local' ? undefined : podOptionsProblem(plan, options.pod);
  if (podProblem) throw new UsageError(podProblem);
  if (options.dryRun) return printPlan(plan, options, io);

  const outDir = options.outDir ?? defaultOutDir(plan);
  const problem = outDirProblem(outDir, options.outDir === undefined ? 'the default --out-dir' : '--out-dir');
  if (problem) throw new UsageError(problem);
  const progress = new Progress(plan, io.stderr);
  const target = await chooseTarget(options, io, progress);
  const results = new ResultsFile(outDir, {
    plan,
    target: target.name,
    podbenchVersion: PODBENCH_VERSION,
    label: options.label,
  });
  progress.note(`${plan.cases.length} cases, at least ${Math.ceil(plannedSeconds(plan))} s; results: ${results.path}`);
  for (const line of leftOutLines(options)) progress.note(line.trimEnd());

  // Signals are caught before the agents start, so no Ctrl-C can orphan them. The first stops
  // the case in progress (the agents see it within a tenth of a second) and everything is
  // written and cleaned up as on any other end; a second exits at once after a best-effort cleanup.
  let interrupted: NodeJS.Signals | undefined;
  let pair: RunningPair | undefined;
  let running: { spec: CaseSpec; startedMs: number } | undefined;
  let stoppedCase = false;
  const measured = new Set<number>();
  const starting = new AbortController();
  let giveUp!: (err: Error) => void;
  const givenUp = new Promise<never>((_, reject) => (giveUp = reject));

  /** Records the case a signal stopped, once: it has a result, but no measurement. */
  const recordInterruptedCase = (): void => {
    if (!interrupted || !running || measured.has(running.spec.index)) return;
    const afterMs = performance.now() - running.startedMs;
    results.addCase(
      emptyResult(
        running.spec,
        plan.settings,
        'interrupted',
        `interrupted by ${interrupted} ${formatDuration(Math.round(afterMs / 100) * 100)} into the case`,
      ),
    );
    measured.add(running.spec.index);
    stoppedCase = true;
  };
  const reportPaths = {
    html: join(dirname(results.path), 'report.html'),
    markdown: join(dirname(results.path), 'report.md'),
  };
  /** Ends results.json (complete, or why not) and writes both reports beside it. */
  const finishAndReport = (why: string | undefined): ResultsDocument => {
    results.finish(why);
    const doc = results.document;
    writeFileSync(reportPaths.html, renderHtml(doc, chartAssets()));
    writeFileSync(reportPaths.markdown, renderMarkdown(doc));
    return doc;
  };
  const incomplete = (why: string, doc: ResultsDocument): RunError => {
    const unmeasured = [...doc.cases.filter((c) => c.status === 'interrupted'), ...notMeasured(plan, measured)];
    const saved = doc.cases.length - (stoppedCase ? 1 : 0);
    return new RunError(
      `run incomplete (${why}): ${saved} of ${plan.cases.length} cases saved in ${results.path}; ` +
        `not measured: ${listCases(unmeasured, options.repeat)}`,
      undefined,
      interrupted ? interruptedExitCode(interrupted) : 1,
    );
  };

  let abandoning = false;
  const exitAtOnce = async (signal: NodeJS.Signals): Promise<void> => {
    if (abandoning) return; // a third signal changes nothing
    abandoning = true;
    try {
      if (pair) {
        progress.note(
          `${signal} again: killing the agents and exiting without waiting for them (podbench clean removes anything left)`,
        );
        await Promise.race([pair.abandon(), delay(ABANDON_LIMIT_MS, undefined, { ref: false })]).catch(() => undefined);
      } else {
        progress.note(
          `${signal} again: exiting while the ${target.name} target is still starting; ` +
            'what it started is removed by the next run or podbench clean',
        );
      }
      if (results.finished) return; // the run ended meanwhile, by the usual path
      recordInterruptedCase();
      const agents = pair ? 'the agents were killed' : 'left while starting';
      const why = `interrupted by ${interrupted}; ${agents} on a second signal (${signal})`;
      giveUp(incomplete(why, finishAndReport(why)));
    } catch (err) {
      giveUp(err instanceof Error ? err : new Error(String(err))); // results.json or a report could not be written
    }
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (signal === 'SIGHUP') {
      // The terminal is gone: writing to it fails (EIO), which must not end the cleanup.
      for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
    }
    if (interrupted) {
      void exitAtOnce(signal);
      return;
    }
    interrupted = signal;
    const again = signal === 'SIGINT' ? 'Ctrl-C again' : 'a second signal';
    progress.note(`${signal}: stopping the case in progress and cleaning up… (${again} exits at once)`);
    starting.abort();
    void pair?.stop(true);
  };

  const measure = async (): Promise<void> => {
    try {
      pair = await target.start(plan, starting.signal);
    } catch (err) {
      if (results.finished) return; // a second signal ended the run meanwhile
      results.finish(
        interrupted
          ? `interrupted by ${interrupted} while starting`
          : `the ${target.name} target could not start the agents`,
      );
      if (interrupted)
        throw new RunError(
          `interrupted by ${interrupted} before the first case; nothing was left running`,
          undefined,
          interruptedExitCode(interrupted),
        );
      throw err;
    }
    if (interrupted) void pair.stop(true);
    if (pair.node) results.setNode(pair.node);

    let caseCpu: (() => number) | undefined;
    let fatal: string | undefined;
    let agentFailure: string | undefined;
    const watchdog = new Watchdog((after, waitedMs) => {
      fatal = `the agents made no progress for ${Math.round(waitedMs / 1000)} s after ${after}; stopped them`;
      void pair?.stop(true);
    });
    watchdog.arm(nextEventBudgetMs(undefined, plan.settings), 'the start');
    try {
      for await (const event of pair.events) {
        watchdog.arm(
          nextEventBudgetMs(event, plan.settings),
          event.type === 'case-start' ? `the start of ${caseLabel(event.case)}` : `the ${event.type} event`,
        );
        if (event.type === 'environment') results.setEnvironment(event.environment);
        else if (event.type === 'floor') results.setHarnessFloor(event.floor);
        else if (event.type === 'case-start') {
          caseCpu = orchestratorCpuMeter();
          running = { spec: event.case, startedMs: performance.now() };
          progress.caseStarted(event.case);
        } else if (event.type === 'case') {
          results.addCase(
            caseCpu
              ? { ...event.result, details: { ...event.result.details, 'orchestrator.cpuPercent': caseCpu() } }
              : event.result,
          );
          measured.add(event.result.index);
          progress.caseFinished(event.result);
        } else if (event.type === 'fatal') fatal = event.message;
      }
    } catch (err) {
      fatal = err instanceof Error ? err.message : String(err);
      await pair.stop(true);
    } finally {
      watchdog.disarm();
      agentFailure = await pair.stop(false);
    }
    if (results.finished) return; // a second signal ended the run meanwhile
    recordInterruptedCase();

    // Complete means every planned case has a result and none was stopped; what went wrong on
    // the way is reported either way. The target's diagnosis (the pod's deadline, an eviction, a
    // container's exit) names the cause; an agent's fatal event is often only what it saw of it
    // (its peer went away), and which of the two arrives first is a race. Both are kept, the cause first.
    const missing = notMeasured(plan, measured);
    const trouble = interrupted
      ? `interrupted by ${interrupted}`
      : agentFailure && fatal && agentFailure !== fatal
        ? `${agentFailure}; the agents reported: ${fatal}`
        : (agentFailure ?? fatal);
    const why =
      missing.length > 0 || stoppedCase ? (trouble ?? 'the initiator stopped before the last case') : undefined;
    if (!why && trouble) progress.note(`warning: ${trouble}`);

    let doc: ResultsDocument;
    try {
      doc = finishAndReport(why);
    } catch (err) {
      // results.json could not be written (a full disk): stdout still says what it holds.
      const saved = results.savedDocument;
      io.stdout.write(
        options.output === 'json'
          ? `${JSON.stringify(saved, null, 2)}\n`
          : `${renderTable(saved)}\nresults: ${results.path} holds the cases above\n`,
      );
      throw err;
    }
    if (options.output === 'json') io.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    else
      io.stdout.write(
        `${renderTable(doc)}\nresults: ${results.path}\nreports: ${reportPaths.html}, ${reportPaths.markdown}\n`,
      );

    if (why) throw incomplete(why, doc);
    const failed = doc.cases.filter((c) => c.status === 'failed');
    if (failed.length > 0) {
      const first = failed[0]!;
      throw new RunError(`${failed.length} case(s) failed, e.g. ${caseLabel(first)}: ${first.reason}`);
    }
  };

  // A closed terminal or a dropped SSH session (SIGHUP) is handled as Ctrl-C and SIGTERM are.
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  try {
    await Promise.race([measure(), givenUp]);
  } finally {
    for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
  }
}
