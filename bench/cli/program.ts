/**
 * The podbench commands and their flags. Loaded by bench/cli.ts with a dynamic import, so that a
 * failure while loading (no usable libc for koffi, say) still reaches the user as one line.
 *
 * What a command does is imported when that command runs, not before (only the flag parsers of
 * report and compare, which load the renderers, come with the program): the Kubernetes client
 * alone is hundreds of modules, which Node 20 opens all at once, so loading everything up front
 * made even `--version` fail under a low open-file limit; and `report` and `compare` must not
 * load native code they do not use.
 */
import { FIGURE_IDS } from '../../agents/contract/modes.js';
import { Command, Option } from 'commander';
import { addPlanOptions, addPodOptions, planOptionsFrom, podOptionsFrom } from './cli-options.js';
import { collectRegressionRules } from '../commands/compare-command.js';
import type { RegressionRule } from '../../reports/compare.js';
import { REPORT_FORMATS, type ReportFormat } from '../commands/report-command.js';
import { CliError, printable } from './errors.js';
import { DEFAULT_LOCAL_IMAGE_PATTERN, LOCAL_CLI_IMAGE, LOCAL_NODE_IMAGE } from '../pod/image-names.js';
import { buildPlan } from '../running/planner.js';
import { podOptionsProblem } from './pod-options.js';
import {
  OUTPUTS,
  TARGETS,
  durationParser,
  parseLabel,
  parseOutDir,
  type RunOptions,
  type TargetName,
} from './run-options.js';
import { PODBENCH_VERSION } from './version.js';

/** Builds the program; `debug` adds the agents' own output to runs. */
export function buildProgram(debug: boolean): Command {
  const program = new Command('podbench')
    .description('Measure the channels between two containers of one Kubernetes Pod: latency, throughput and CPU cost.')
    .version(PODBENCH_VERSION)
    .option('--debug', "show stack traces and the agents' own output")
    .exitOverride()
    .showSuggestionAfterError(false)
    .configureOutput({
      // Commander's parse errors become the same single line as every other error.
      outputError: (text) =>
        process.stderr.write(`podbench: ${printable(text.replace(/^error: /, '').trim())} (see --help)\n`),
    });

  const run = program
    .command('run')
    .description(
      'deploy the agent pair, run the case matrix, write results.json, report.html and report.md, and print a table',
    )
    .addOption(
      new Option(
        '--target <name>',
        'where to run the agents: local processes, a real pod through podman, or a Kubernetes cluster ' +
          '(auto: kubernetes when a kubeconfig context answers, else local)',
      )
        .choices(TARGETS)
        .default('auto'),
    )
    .option(
      '--kubeconfig <file>',
      'kubeconfig file (default: KUBECONFIG, ~/.kube/config, or the in-cluster service account)',
    )
    .option('--context <name>', 'kubeconfig context (default: the current one)')
    .option('-n, --namespace <name>', "namespace for the pod (default: the context's, else default)")
    .option('--keep', 'leave the pod and ConfigMap in the cluster after the run, for kubectl describe/logs')
    .addOption(
      new Option('--start-timeout <time>', 'how long the pod may take to be scheduled and pull its image')
        .default(durationParser(1000, 3_600_000)('5m'), '5m')
        .argParser(durationParser(1000, 3_600_000)),
    )
    .option(
      '--out-dir <dir>',
      'directory for results.json and the reports (default: podbench-results/<time>-<run id>)',
      parseOutDir,
    )
    .addOption(new Option('-o, --output <format>', 'what to print when done').choices(OUTPUTS).default('table'))
    .option('--label <name>', 'a name for this run in reports and comparisons', parseLabel)
    .option('--dry-run', 'print the plan (cases and settings), and what the channels cannot run, and exit')
    .action(async (opts, cmd: Command) => {
      const options: RunOptions = {
        ...planOptionsFrom(opts, cmd),
        pod: podOptionsFrom(opts),
        cluster: {
          kubeconfig: opts.kubeconfig,
          context: opts.context,
          namespace: opts.namespace,
          keep: Boolean(opts.keep),
          startTimeoutMs: opts.startTimeout,
        },
        target: opts.target,
        outDir: opts.outDir,
        output: opts.output,
        dryRun: Boolean(opts.dryRun),
        label: opts.label,
      };
      const { runCommand } = await import('../commands/run-command.js');
      await runCommand(options, { stdout: process.stdout, stderr: process.stderr, debug });
    });
  addPlanOptions(run);
  addPodOptions(run);

  const manifest = program
    .command('manifest')
    .description(
      'print the Pod (and the ConfigMap delivering the agent) that `run` deploys, for review, GitOps, ' +
        '`kubectl create -f -` or `kubectl apply --server-side -f -` (client-side apply cannot hold the ConfigMap)',
    )
    .addOption(new Option('-o, --output <format>', 'yaml or json').choices(['yaml', 'json']).default('yaml'))
    .action(async (opts, cmd: Command) => {
      const plan = buildPlan(planOptionsFrom(opts, cmd));
      const pod = podOptionsFrom(opts);
      const problem = podOptionsProblem(plan, pod);
      if (problem) throw new CliError(problem, 2);
      const [{ buildPodManifest, manifestDocuments }, { dumpYaml }] = await Promise.all([
        import('../pod/pod-manifest.js'),
        import('@kubernetes/client-node'),
      ]);
      const documents = manifestDocuments(buildPodManifest(plan, pod));
      process.stdout.write(
        opts.output === 'json'
          ? `${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: documents }, null, 2)}\n`
          : documents.map((d) => dumpYaml(d)).join('---\n'),
      );
    });
  addPlanOptions(manifest);
  addPodOptions(manifest);

  program
    .command('image')
    .description('build the agent image')
    .command('build')
    .description(
      'build the agent image: from agents/Dockerfile with docker, podman or buildah, or --from-host into podman without any registry',
    )
    .option(
      '--from-host',
      "package this host's Node binary, its libraries and the agent into podman (no registry, no Dockerfile)",
    )
    .option(
      '--node-only',
      'with --from-host: a plain Node image without the agent, to stand in for node:24-slim with --node-image',
    )
    .option(
      '--with-cli',
      `with --from-host: podbench itself too, as the entrypoint (default tag ${LOCAL_CLI_IMAGE}): ` +
        "the image for manifests/podbench-job.yaml, and its agents' --image",
    )
    .option(
      '--tag <image>',
      `image name (default ${DEFAULT_LOCAL_IMAGE_PATTERN}, or ${LOCAL_NODE_IMAGE} with --node-only)`,
    )
    .option('--push', 'push the image after a Dockerfile build')
    .option(
      '--node-image <image>',
      'base image for the Dockerfile build (build-arg NODE_IMAGE, default docker.io/library/node:24-slim)',
    )
    .action(
      async (opts: {
        tag?: string;
        nodeOnly?: boolean;
        withCli?: boolean;
        fromHost?: boolean;
        push?: boolean;
        nodeImage?: string;
      }) => {
        if (opts.nodeOnly && !opts.fromHost) throw new CliError('--node-only goes with --from-host', 2);
        if (opts.withCli && !opts.fromHost) throw new CliError('--with-cli goes with --from-host', 2);
        if (opts.withCli && opts.nodeOnly) throw new CliError('--with-cli and --node-only exclude each other', 2);
        if (opts.push && opts.fromHost)
          throw new CliError(
            '--push goes with a Dockerfile build; an image from the host stays in podman (podman push it yourself)',
            2,
          );
        const { buildImageFromDockerfile, buildImageFromHost, defaultLocalImage } =
          await import('../pod/agent-image.js');
        const tag =
          opts.tag ?? (opts.nodeOnly ? LOCAL_NODE_IMAGE : opts.withCli ? LOCAL_CLI_IMAGE : defaultLocalImage());
        if (opts.fromHost) {
          process.stderr.write(`building ${tag} from this host's Node ${process.version}…\n`);
          process.stdout.write(`${await buildImageFromHost(tag, !opts.nodeOnly, Boolean(opts.withCli))}\n`);
        } else {
          process.stdout.write(`${await buildImageFromDockerfile(tag, Boolean(opts.push), opts.nodeImage)}\n`);
        }
      },
    );

  program
    .command('report')
    .description(
      'render a results.json: html (self-contained, with charts), markdown (for a PR), csv, json (validated) or hgrm percentile files',
    )
    .argument('<results.json>', 'a results document written by podbench run')
    .addOption(new Option('--format <format>', 'what to write').choices(REPORT_FORMATS).default('html'))
    .option(
      '-o, --output <path>',
      'file to write (hgrm: a directory, default hgrm/ next to the results); default stdout',
    )
    .action(async (results: string, opts: { format: ReportFormat; output?: string }) => {
      const { reportCommand } = await import('../commands/report-command.js');
      await reportCommand(results, opts.format, opts.output, process.stdout);
    });

  program
    .command('compare')
    .description(`compare runs case by case: change of ${FIGURE_IDS.join(', ')}, and whether it is significant`)
    .argument('<baseline.json>', 'the run to compare against')
    .argument('<other.json...>', 'one or more runs to compare with the baseline')
    .addOption(
      new Option('-o, --output <format>', "table, markdown, or html (the report's charts with one line per run)")
        .choices(['table', 'markdown', 'html'])
        .default('table'),
    )
    .option(
      '--fail-on-regression <metric:percent%>',
      `exit 3 when a case got significantly worse by more than this (${FIGURE_IDS.join(', ')}; repeatable)`,
      collectRegressionRules,
    )
    .addHelpText(
      'after',
      `
A change is significant when a Mann–Whitney U test finds the runs differ — for latency over every
recorded round trip (all repeats' histograms merged, p < 0.01), for throughput over the per-repeat
rates (exact test, p < 0.05: four repeats a side are needed, fewer say "not enough repeats") — and the change is larger
than the spread between repeats within either run. Runs need --repeat 2 or more: nothing is
called significant from a single sample. Runs are named by their --label, else by file name.`,
    )
    .action(
      async (
        base: string,
        others: string[],
        opts: { output: 'table' | 'markdown' | 'html'; failOnRegression?: RegressionRule[] },
      ) => {
        const { compareCommand } = await import('../commands/compare-command.js');
        await compareCommand([base, ...others], opts.output, opts.failOnRegression ?? [], process.stdout);
      },
    );

  program
    .command('clean')
    .description(
      'remove what earlier runs left behind when their orchestrator could not (killed, OOM, a cancelled CI job): ' +
        "on a cluster podbench's pods that finished, are past their deadline or never started, and their ConfigMaps, " +
        'locally (and in podman) what runs whose orchestrator is gone left: ' +
        'run directories, kernel objects, pods, volumes',
    )
    .addOption(
      new Option(
        '--target <name>',
        'what to clean: local runs, podman runs on this host, or a Kubernetes namespace ' +
          '(auto: kubernetes when a kubeconfig context answers, else local)',
      )
        .choices(TARGETS)
        .default('auto'),
    )
    .option(
      '--kubeconfig <file>',
      'kubeconfig file (default: KUBECONFIG, ~/.kube/config, or the in-cluster service account)',
    )
    .option('--context <name>', 'kubeconfig context (default: the current one)')
    .option('-n, --namespace <name>', "namespace to clean (default: the context's, else default)")
    .option('--dry-run', 'list what would be removed, and remove nothing')
    .option(
      '--all',
      'also take pods that may still belong to a run in progress elsewhere (within their deadline or start timeout)',
    )
    .action(
      async (opts: {
        target: TargetName;
        kubeconfig?: string;
        context?: string;
        namespace?: string;
        dryRun?: boolean;
        all?: boolean;
      }) => {
        const { cleanCommand } = await import('../commands/clean-command.js');
        await cleanCommand(
          {
            target: opts.target,
            cluster: { kubeconfig: opts.kubeconfig, context: opts.context, namespace: opts.namespace },
            dryRun: Boolean(opts.dryRun),
            all: Boolean(opts.all),
          },
          process.stdout,
          (line) => process.stderr.write(`${line}\n`),
        );
      },
    );

  program
    .command('doctor')
    .description(
      'check what a run needs: this host (IPC limits, /dev/shm, podman) and, with a kubeconfig, the API, namespace, permissions and nodes',
    )
    .option('--kubeconfig <file>', 'kubeconfig file (default: KUBECONFIG, ~/.kube/config, in-cluster)')
    .option('--context <name>', 'kubeconfig context')
    .option('-n, --namespace <name>', "namespace (default: the context's)")
    .addOption(new Option('-o, --output <format>', 'table or json').choices(OUTPUTS).default('table'))
    .action(async (opts: { kubeconfig?: string; context?: string; namespace?: string; output: string }) => {
      const { doctor, renderChecks } = await import('../commands/doctor-command.js');
      const checks = await doctor(opts);
      process.stdout.write(
        opts.output === 'json' ? `${JSON.stringify(checks, null, 2)}\n` : `${renderChecks(checks)}\n`,
      );
      const failed = checks.filter((c) => c.status === 'fail');
      if (failed.length > 0)
        throw new CliError(`${failed.length} check(s) failed: ${failed.map((c) => c.area).join(', ')}`, 1);
    });

  program
    .command('channels')
    .description('list the channels and whether this host supports each (probed with real objects)')
    .addOption(new Option('-o, --output <format>', 'table or json').choices(OUTPUTS).default('table'))
    .action(async (opts: { output: string }) => {
      const { probeChannels, renderChannels } = await import('../commands/channels-command.js');
      const support = await probeChannels();
      process.stdout.write(
        opts.output === 'json' ? `${JSON.stringify(support, null, 2)}\n` : `${renderChannels(support)}\n`,
      );
    });
  return program;
}
