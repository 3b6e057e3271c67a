/**
 * The peer section of `npm run bench:fidelity`: for each peer case, podbench's own initiator,
 * the plainest Node client and the protocol's C client (wrk, h2load), each against podbench's
 * responder, interleaved round by round (the order rotates), then the three medians and their
 * ratios. There are no targets: the section shows where podbench's protocol figures come from.
 */
import type { ChannelId } from '../../agents/contract/channels.js';
import type { ModeId } from '../../agents/contract/modes.js';
import { median } from '../../reports/case-groups.js';
import { caseLabel, formatCount, formatUs } from '../../reports/format.js';
import { alignColumns } from '../../reports/table.js';
import type { CaseTiming, Measurement } from './measurement.js';
import { PEERS, PEER_CASES, runPeerCase, runPodbenchPeerCase, type PeerCase } from './peers.js';

const CLIENTS = ['podbench', 'node', 'c'] as const;
type Client = (typeof CLIENTS)[number];

/** One peer case over all rounds. */
export interface PeerRuns {
  readonly case: PeerCase;
  readonly peer: string;
  readonly measured: { [client in Client]: Measurement[] };
}

/** One peer case summarized: the three medians and the ratios paired by round. */
export interface PeerSummary {
  readonly label: string;
  readonly mode: ModeId;
  readonly medians?: { readonly [client in Client]: number };
  /** Median over rounds of podbench ÷ C client, Node client ÷ C client, podbench ÷ Node client. */
  readonly ratios?: { readonly podbenchToC: number; readonly nodeToC: number; readonly podbenchToNode: number };
  readonly failed?: string;
}

/** The peer cases `channels` and `modes` select. */
export const selectedPeerCases = (channels: readonly ChannelId[], modes: readonly ModeId[]): PeerCase[] =>
  PEER_CASES.filter((c) => channels.includes(c.channel) && modes.includes(c.mode));

const show = (c: PeerCase, value: number | undefined): string =>
  value === undefined ? '-' : c.mode === 'latency' ? `${formatUs(value)} µs` : `${formatCount(value)} req/s`;

/** Runs every peer case `rounds` times, the clients' order rotating each round; progress on `err`. */
export async function runPeerSection(
  cases: readonly PeerCase[],
  rounds: number,
  timing: CaseTiming,
  cpus: readonly number[],
  cliPath: string,
  err: NodeJS.WritableStream,
): Promise<PeerRuns[]> {
  const runs: PeerRuns[] = cases.map((c) => ({
    case: c,
    peer: PEERS[c.channel],
    measured: { podbench: [], node: [], c: [] },
  }));
  for (let round = 0; round < rounds; round++) {
    for (const run of runs) {
      const order = CLIENTS.map((_, i) => CLIENTS[(i + round) % CLIENTS.length]!);
      for (const client of order) {
        const m =
          client === 'podbench'
            ? await runPodbenchPeerCase(cliPath, run.case, timing)
            : await runPeerCase(run.case, client, timing, cpus);
        run.measured[client].push(m);
      }
      const last = (client: Client) => {
        const m = run.measured[client].at(-1)!;
        return (m.status === 'ok' ? show(run.case, m.value) : m.status).padStart(14);
      };
      err.write(
        `[${round + 1}/${rounds}] ${`${caseLabel(run.case)} (${run.peer})`.padEnd(34)} ` +
          `podbench ${last('podbench')}   node ${last('node')}   ${run.peer} ${last('c')}\n`,
      );
    }
  }
  return runs;
}

/** The medians and per-round ratios of one peer case, or why there are none. */
export function summarizePeer(run: PeerRuns): PeerSummary {
  const label = `${caseLabel(run.case)} (${run.peer})`;
  for (const client of CLIENTS) {
    for (const m of run.measured[client])
      if (m.status !== 'ok') return { label, mode: run.case.mode, failed: `${client}: ${m.reason}` };
  }
  const values = (client: Client) => run.measured[client].map((m) => (m.status === 'ok' ? m.value : NaN));
  const [p, n, c] = CLIENTS.map(values) as [number[], number[], number[]];
  const perRound = (a: number[], b: number[]) => median(a.map((v, i) => v / b[i]!))!;
  return {
    label,
    mode: run.case.mode,
    medians: { podbench: median(p)!, node: median(n)!, c: median(c)! },
    ratios: { podbenchToC: perRound(p, c), nodeToC: perRound(n, c), podbenchToNode: perRound(p, n) },
  };
}

/** The peer summaries as a table. */
export function renderPeerSummaries(runs: readonly PeerRuns[], summaries: readonly PeerSummary[]): string {
  const x = (v: number | undefined) => (v === undefined ? '-' : `${v.toFixed(2)}×`);
  const rows = summaries.map((s, i) => {
    const c = runs[i]!.case;
    return [
      s.label,
      show(c, s.medians?.podbench),
      show(c, s.medians?.node),
      show(c, s.medians?.c),
      x(s.ratios?.podbenchToC),
      x(s.ratios?.nodeToC),
      x(s.ratios?.podbenchToNode),
      s.failed ? `failed: ${s.failed}` : '',
    ];
  });
  return alignColumns(
    ['peer case', 'podbench', 'node client', 'C client', 'podbench ÷ C', 'node ÷ C', 'podbench ÷ node', ''],
    rows,
    new Set([1, 2, 3, 4, 5, 6]),
  );
}
