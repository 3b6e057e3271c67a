/**
 * The fidelity targets (issue 5): how close podbench must come to a C program doing the same
 * case on the same machine in the same run. Each target names one case and the bound on the
 * ratio podbench / reference of one metric.
 */
import { CHANNEL_IDS, channelInfo, type ChannelId, type FidelityKinds } from '../../agents/contract/channels.js';
import type { FigureId, ModeId } from '../../agents/contract/modes.js';
import { caseLabel } from '../../reports/format.js';

/**
 * CPU placement of the two processes: each on its own CPU (`split`), or both on one (`same`).
 * The targets the issue states for unpinned agents run `split`: left to the scheduler, the two
 * small C processes mostly share a CPU and the Node agents mostly do not, so an unpinned ratio
 * measures the scheduler rather than the runtime. `split` is the placement those targets assume
 * (the cross-CPU wake-up dominates the round trip).
 */
export type Pin = 'split' | 'same';

/** One case both implementations run. */
export interface FidelityCase {
  readonly channel: ChannelId;
  readonly mode: ModeId;
  readonly sizeBytes: number;
  readonly pin: Pin;
}

/** A bound on podbench / reference for one case: p50 round trip at most, or throughput at least. */
export interface FidelityTarget {
  readonly case: FidelityCase;
  /** `p50`: round-trip median, lower is better; `throughput`: bytes per second, higher is better. */
  readonly metric: Extract<FigureId, 'p50' | 'throughput'>;
  /** The ratio podbench / reference must not exceed (p50) or fall below (throughput). */
  readonly boundRatio: number;
}

const KiB = 1024;
const MiB = 1024 * 1024;

const LATENCY_SIZES_BYTES = [64, 4 * KiB];
const THROUGHPUT_SIZES_BYTES = [64 * KiB, MiB];

/** The channels whose registry entry asks for a kind of target (see FidelityKinds). */
const channelsWith = (test: (kinds: FidelityKinds) => boolean): ChannelId[] =>
  CHANNEL_IDS.filter((id) => test(channelInfo(id).fidelity));

/**
 * The targets, in the order they run. `largestBytes(channel)` is the largest message a
 * `largest` channel carries here: for `mq` what the kernel limits allow (fs.mqueue.msgsize_max,
 * unless RLIMIT_MSGQUEUE is tighter), for `udp` its largest datagram.
 */
export function fidelityTargets(largestBytes: (channel: ChannelId) => number): FidelityTarget[] {
  const targets: FidelityTarget[] = [];
  for (const pin of ['split', 'same'] as const) {
    for (const channel of channelsWith((k) => k.latency === 'blocking')) {
      for (const sizeBytes of LATENCY_SIZES_BYTES) {
        targets.push({
          case: { channel, mode: 'latency', sizeBytes, pin },
          metric: 'p50',
          boundRatio: pin === 'split' ? 1.15 : 1.5,
        });
      }
    }
  }
  for (const channel of channelsWith((k) => k.latency === 'spinning')) {
    targets.push({ case: { channel, mode: 'latency', sizeBytes: 64, pin: 'split' }, metric: 'p50', boundRatio: 1.5 });
  }
  for (const channel of channelsWith((k) => k.throughput === 'sizes')) {
    for (const sizeBytes of THROUGHPUT_SIZES_BYTES) {
      targets.push({
        case: { channel, mode: 'throughput', sizeBytes, pin: 'split' },
        metric: 'throughput',
        boundRatio: 0.9,
      });
    }
  }
  for (const channel of channelsWith((k) => k.throughput === 'largest')) {
    targets.push({
      case: { channel, mode: 'throughput', sizeBytes: largestBytes(channel), pin: 'split' },
      metric: 'throughput',
      boundRatio: 0.9,
    });
  }
  return targets;
}

/** `uds latency 64 B, one CPU` or `…, two CPUs`. */
export function fidelityCaseLabel(c: FidelityCase): string {
  return `${caseLabel(c)}, ${c.pin === 'same' ? 'one CPU' : 'two CPUs'}`;
}
