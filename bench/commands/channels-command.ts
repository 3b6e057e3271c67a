/**
 * `podbench channels`: the channel registry, and whether this host can run each channel — found
 * by each channel's own probe, which creates and removes a real object of its kind, not by
 * guessing — with the kernel limits the channel depends on.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHANNEL_IDS, channelInfo, type ChannelId } from '../../agents/contract/channels.js';
import { LIMIT_NAMES } from '../../agents/contract/ipc-limits.js';
import { channelFor } from '../../agents/channels/registry.js';
import { readKernelLimits } from '../../agents/kernel-limits.js';
import { alignColumns } from '../../reports/table.js';

/** Whether a channel works here, with the limit or fact that matters most. */
export interface ChannelSupport {
  readonly id: ChannelId;
  readonly mechanism: string;
  readonly shares: string;
  /** What one of `--connections N` is (connections, sessions, queue pairs …), or `one only`. */
  readonly connections: string;
  readonly supported: boolean;
  readonly note: string;
}

/** Probes every channel on this host. */
export async function probeChannels(): Promise<ChannelSupport[]> {
  const limits = readKernelLimits();
  const scratchDir = mkdtempSync(join(tmpdir(), 'podbench-probe-'));
  try {
    const out: ChannelSupport[] = [];
    for (const id of CHANNEL_IDS) {
      const info = channelInfo(id);
      let supported = true;
      let note: string;
      try {
        note = await channelFor(id).probe(scratchDir);
      } catch (err) {
        supported = false;
        note = err instanceof Error ? err.message : String(err);
      }
      const limitNotes = info.limits.map((l) => `${LIMIT_NAMES[l]} ${limits[l] ?? '?'}`);
      out.push({
        id,
        mechanism: info.mechanism,
        shares: info.shares,
        connections: info.concurrency ?? 'one only',
        supported,
        note: [note, ...limitNotes].join('; '),
      });
    }
    return out;
  } finally {
    rmSync(scratchDir, { recursive: true, force: true });
  }
}

/** Renders the probe results as a table. */
export function renderChannels(support: readonly ChannelSupport[]): string {
  return alignColumns(
    ['channel', 'mechanism', 'pod shares', '--connections', 'here', 'note'],
    support.map((s) => [s.id, s.mechanism, s.shares, s.connections, s.supported ? 'yes' : 'no', s.note]),
  );
}
