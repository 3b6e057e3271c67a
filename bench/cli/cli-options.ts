/**
 * The option groups commands share: what to measure (`run`, `manifest`) and the pod's shape
 * (`run`, `manifest`), declared once so both commands accept and document the same flags.
 */
import { Command, Option } from 'commander';
import { CHANNEL_IDS } from '../../agents/contract/channels.js';
import { DEFAULT_MODE_IDS, MODES, MODE_IDS, RATE_DEFAULTS } from '../../agents/contract/modes.js';
import { unsafeSysctlRequirements } from '../../agents/contract/ipc-limits.js';
import { DEFAULT_NODE_IMAGE } from '../pod/agent-delivery.js';
import { DEFAULT_LOCAL_IMAGE_PATTERN } from '../pod/image-names.js';
import { AGENT_UID, type PodOptions } from '../pod/pod-manifest.js';
import {
  collectNodeSelector,
  collectSysctl,
  collectToleration,
  parseBytesQuantity,
  parseCpu,
  parseNodeName,
  parseRunAsUser,
} from './pod-options.js';
import {
  DEFAULTS,
  QUICK,
  durationParser,
  parseChannels,
  parseConnections,
  parseLatencyLimit,
  parseSessions,
  parseModes,
  parseRates,
  parseRepeat,
  parseSizes,
  type PlanOptions,
  type RateChoice,
} from './run-options.js';
import { UsageError } from './errors.js';

const duration = durationParser(1, 3_600_000);
const warmup = durationParser(0, 600_000);
const timeout = durationParser(100, 3_600_000);
// Two agents started together meet after about half a second here (local and podman; 300 ms
// always failed, 500 ms passed): less than 1 s cannot be relied on.
const connectTimeout = durationParser(1000, 3_600_000);
const choice = (flags: string, description: string, choices: readonly string[], defaultValue: string) =>
  new Option(flags, description).choices(choices).default(defaultValue);

/** Adds the flags that decide the cases. */
export function addPlanOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        '--channels <list>',
        `channels to measure: ${CHANNEL_IDS.join(', ')} or all (a protocol brings the raw channel it rides on, tcp or uds)`,
      )
        .default([...CHANNEL_IDS], 'all')
        .argParser(parseChannels),
    )
    .addOption(
      new Option('--modes <list>', `modes: ${MODE_IDS.join(', ')} (rate only when asked for)`)
        .default([...DEFAULT_MODE_IDS], DEFAULT_MODE_IDS.join(','))
        .argParser(parseModes),
    )
    .addOption(
      new Option(
        '--rate <list|sweep>',
        'rate mode: target rates in messages per second (1k,10k,50k), or sweep: rising steps from 100/s until ' +
          'one does not hold (the knee is the last that did)',
      )
        .default({ sweep: true }, 'sweep')
        .argParser(parseRates),
    )
    .addOption(
      choice(
        '--arrival <how>',
        'rate mode: intended send times evenly spaced, or a Poisson process of the same mean',
        ['uniform', 'poisson'],
        RATE_DEFAULTS.arrival,
      ),
    )
    .addOption(
      choice(
        '--on-late <policy>',
        'rate mode: a message more than one interval late is sent as soon as it can be (its latency counts the wait), ' +
          'or dropped (counted)',
        ['queue', 'drop'],
        RATE_DEFAULTS.onLate,
      ),
    )
    .addOption(
      new Option('--latency-limit <time>', 'rate sweep: a step whose p99 latency passes this did not hold')
        .default(RATE_DEFAULTS.latencyLimitMs, `${RATE_DEFAULTS.latencyLimitMs}ms`)
        .argParser(parseLatencyLimit),
    )
    .addOption(
      new Option('--sizes <list>', 'message sizes in bytes, k/Ki/M/Mi suffixes allowed (header included)')
        .default(parseSizes(DEFAULTS.sizes), DEFAULTS.sizes)
        .argParser(parseSizes),
    )
    .addOption(
      new Option('--duration <time>', 'timed part of each case (ms, s, m)')
        .default(duration(DEFAULTS.duration), DEFAULTS.duration)
        .argParser(duration),
    )
    .addOption(
      new Option('--warmup <time>', 'warm-up before each case')
        .default(warmup(DEFAULTS.warmup), DEFAULTS.warmup)
        .argParser(warmup),
    )
    .addOption(
      new Option(
        '--connections <list>',
        'parallel connections per case, e.g. 1,4, each a channel instance on a thread of its own on both sides ' +
          '(queue pairs for queues, rings for shared memory: `podbench channels` lists each); for h2 and grpc, ' +
          'streams on one session (see --sessions)',
      )
        .default([1], '1')
        .argParser(parseConnections),
    )
    .addOption(
      new Option(
        '--sessions <n>',
        'h2 and grpc: the sessions their connections (streams) are spread over, each on a thread of its own',
      )
        .default(1)
        .argParser(parseSessions),
    )
    .addOption(
      new Option(
        '--in-flight <n>',
        'h2 and grpc: requests outstanding per connection, as concurrent streams (the other channels keep one)',
      )
        .default(1)
        .argParser(parseSessions),
    )
    .addOption(
      new Option('--repeat <n>', 'run the whole matrix n times (spread over the run)')
        .default(1)
        .argParser(parseRepeat),
    )
    .addOption(
      choice(
        '--verify <how>',
        'checksum a sample of each payload (first and last 64 bytes) or every byte',
        ['sample', 'full'],
        'sample',
      ),
    )
    .addOption(
      choice(
        '--driver <how>',
        'how tcp and uds are driven: blocking libc calls, or net.Socket as an idiomatic Node sidecar would ' +
          '(the protocol channels always run on Node: node:http, node:http2, grpc-js; the others use libc)',
        ['libc', 'node'],
        'libc',
      ),
    )
    .addOption(
      choice(
        '--pin <how>',
        'CPU placement: both agents on one CPU, on two CPUs, or wherever the scheduler puts them',
        ['none', 'same', 'split'],
        'none',
      ),
    )
    .addOption(
      new Option(
        '--connect-timeout <time>',
        'how long the agents wait for each other at start (at least 1s: starting takes them about half a second)',
      )
        .default(connectTimeout(DEFAULTS.connectTimeout), DEFAULTS.connectTimeout)
        .argParser(connectTimeout),
    )
    .addOption(
      new Option('--peer-timeout <time>', 'longest wait for the peer inside a case before it fails')
        .default(timeout(DEFAULTS.peerTimeout), DEFAULTS.peerTimeout)
        .argParser(timeout),
    )
    .option(
      '--quick',
      `a short first look: sizes ${QUICK.sizes}, ${QUICK.duration} per case, ${QUICK.warmup} warm-up (explicit flags win)`,
    );
}

/** Reads the plan flags, applying `--quick` where a flag was not given explicitly. */
export function planOptionsFrom(opts: Record<string, unknown>, cmd: Command): PlanOptions {
  const quick = Boolean(opts.quick);
  const preset = (name: string) => quick && cmd.getOptionValueSource(name) !== 'cli';
  const modes = opts.modes as PlanOptions['modes'];
  const paced = modes.some((m) => MODES[m].paced);
  const rateFlags = ['rate', 'arrival', 'onLate', 'latencyLimit'].filter((f) => cmd.getOptionValueSource(f) === 'cli');
  if (!paced && rateFlags.length > 0) {
    const flag = `--${rateFlags[0]!.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    throw new UsageError(`${flag} applies to rate mode only: add rate to --modes (e.g. --modes rate)`);
  }
  const rates = opts.rate as RateChoice;
  return {
    channels: opts.channels as PlanOptions['channels'],
    modes,
    rates,
    connections: opts.connections as number[],
    sessions: opts.sessions as number,
    inFlight: opts.inFlight as number,
    sizesBytes: preset('sizes') ? parseSizes(QUICK.sizes) : (opts.sizes as number[]),
    repeat: opts.repeat as number,
    settings: {
      durationMs: preset('duration') ? duration(QUICK.duration) : (opts.duration as number),
      warmupMs: preset('warmup') ? warmup(QUICK.warmup) : (opts.warmup as number),
      verify: opts.verify as 'sample' | 'full',
      pin: opts.pin as 'none' | 'same' | 'split',
      driver: opts.driver as 'libc' | 'node',
      connectTimeoutMs: opts.connectTimeout as number,
      peerTimeoutMs: opts.peerTimeout as number,
      ...(paced
        ? {
            arrival: opts.arrival as 'uniform' | 'poisson',
            onLate: opts.onLate as 'queue' | 'drop',
            latencyLimitMs: opts.latencyLimit as number,
          }
        : {}),
    },
  };
}

/** Adds the flags that shape the pod. */
export function addPodOptions(cmd: Command): Command {
  return cmd
    .option(
      '--image <image>',
      `a prebuilt agent image (podman's default: ${DEFAULT_LOCAL_IMAGE_PATTERN}, built from this host's Node on first use); ` +
        'without it, a cluster gets the agent in a ConfigMap',
    )
    .option(
      '--node-image <image>',
      `stock Node image the ConfigMap-delivered agent runs in (default ${DEFAULT_NODE_IMAGE})`,
    )
    .addOption(
      new Option(
        '--arch <arch>',
        "the nodes' CPU architecture, for the ConfigMap delivery (default: run reads it from the nodes the pod may land on; " +
          "manifest, and run without the right to read nodes, use this host's)",
      ).choices(['amd64', 'arm64']),
    )
    .addOption(
      new Option('--image-pull-policy <policy>', 'when the node pulls the image').choices([
        'Always',
        'IfNotPresent',
        'Never',
      ]),
    )
    .option('--cpu <quantity>', 'CPU for each agent container, requests = limits (e.g. 1, 500m)', parseCpu)
    .option(
      '--memory <quantity>',
      'memory for each agent container, requests = limits (e.g. 256Mi); with --cpu the pod is Guaranteed QoS',
      parseBytesQuantity,
    )
    .option(
      '--node <name>',
      'run on this node (spec.nodeName: bypasses the scheduler, so the node is checked first: ' +
        'exists, not cordoned, Ready, taints tolerated)',
      parseNodeName,
    )
    .option('--node-selector <key=value>', 'schedule onto nodes with this label (repeatable)', collectNodeSelector)
    .option('--toleration <key[=value]:Effect>', 'tolerate a taint (repeatable)', collectToleration)
    .option('--runtime-class <name>', 'RuntimeClass for the pod (e.g. gvisor, kata)')
    .option(
      '--sysctl <name=value>',
      'namespaced IPC sysctl for the pod, fs.mqueue.* or kernel.msg*, to run larger queue messages (repeatable); ' +
        `${unsafeSysctlRequirements('them')}`,
      collectSysctl,
    )
    .option('--volume-size <quantity>', 'sizeLimit of both emptyDir volumes (e.g. 256Mi)', parseBytesQuantity)
    .option(
      '--run-as-user <uid|platform>',
      `the agents' user id (default ${AGENT_UID}); "platform" sets none and leaves it to the cluster, ` +
        "for OpenShift's restricted-v2, which refuses ids outside the namespace's range " +
        '(runAsNonRoot stays, so the image must then get a non-root id from the platform)',
      parseRunAsUser,
    );
}

/** Reads the pod flags. */
export function podOptionsFrom(opts: Record<string, unknown>): PodOptions {
  return {
    image: opts.image as string | undefined,
    nodeImage: opts.nodeImage as string | undefined,
    arch: opts.arch as string | undefined,
    imagePullPolicy: opts.imagePullPolicy as PodOptions['imagePullPolicy'],
    cpu: opts.cpu as string | undefined,
    memory: opts.memory as string | undefined,
    node: opts.node as string | undefined,
    nodeSelector: (opts.nodeSelector as Record<string, string> | undefined) ?? {},
    tolerations: (opts.toleration as PodOptions['tolerations'] | undefined) ?? [],
    runtimeClass: opts.runtimeClass as string | undefined,
    sysctls: (opts.sysctl as PodOptions['sysctls'] | undefined) ?? [],
    volumeSize: opts.volumeSize as string | undefined,
    runAsUser: opts.runAsUser as PodOptions['runAsUser'],
  };
}
