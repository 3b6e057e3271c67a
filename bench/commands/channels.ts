/**
 * `podbench channels`: the channel table, and whether this host can run each one — found by
 * creating and removing a real object of each kind, not by guessing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHANNELS, type ChannelId } from '../../agents/contract/channels.js';
import { filesystemType, readKernelLimits } from '../../agents/kernel-limits.js';
import * as libc from '../../agents/native/libc.js';
import { alignColumns } from '../../reports/table.js';

/** Whether a channel works here, with the limit or fact that matters most. */
export interface ChannelSupport {
  readonly id: ChannelId;
  readonly mechanism: string;
  readonly shares: string;
  readonly supported: boolean;
  readonly note: string;
}

function listenOnce(options: net.ListenOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(options, () => server.close(() => resolve()));
  });
}

async function probe(id: ChannelId): Promise<[boolean, string]> {
  const limits = readKernelLimits();
  const name = `/podbench-probe-${process.pid}`;
  switch (id) {
    case 'tcp':
      await listenOnce({ port: 0, host: '127.0.0.1' });
      return [true, 'listens on 127.0.0.1'];
    case 'uds': {
      const dir = mkdtempSync(join(tmpdir(), 'podbench-probe-'));
      try {
        await listenOnce({ path: join(dir, 's') });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      return [true, 'Unix sockets work in the temp directory'];
    }
    case 'file':
      return [true, `temp directory is ${filesystemType(tmpdir())}`];
    case 'tmpfs-file': {
      const fs = filesystemType('/dev/shm');
      return fs === 'tmpfs' ? [true, '/dev/shm is tmpfs'] : [true, `/dev/shm is ${fs}, not tmpfs: the local target measures disk`];
    }
    case 'shm':
    case 'shm-spin': {
      const fd = libc.check(libc.shmOpen(name, libc.O.RDWR | libc.O.CREAT, 0o600), 'shm_open', name);
      libc.close(fd);
      libc.shmUnlink(name);
      return [true, `/dev/shm: ${limits.devShmFreeBytes ?? '?'} bytes free`];
    }
    case 'mq': {
      libc.mqClose(libc.mqOpen(name, libc.O.RDWR | libc.O.CREAT, 1, 64));
      libc.mqUnlink(name);
      return [true, `fs.mqueue.msgsize_max ${limits.mqMsgsizeMaxBytes}, msg_max ${limits.mqMsgMax}`];
    }
    case 'sysv-mq': {
      const queue = libc.check(libc.msgget(0 /* IPC_PRIVATE */, libc.IPC.CREAT | 0o600), 'msgget');
      libc.msgctl(queue, libc.IPC.RMID, null);
      return [true, `kernel.msgmax ${limits.sysvMsgmaxBytes}, msgmnb ${limits.sysvMsgmnbBytes}`];
    }
  }
}

/** Probes every channel on this host. */
export async function probeChannels(): Promise<ChannelSupport[]> {
  const out: ChannelSupport[] = [];
  for (const c of CHANNELS) {
    let result: [boolean, string];
    try {
      result = await probe(c.id);
    } catch (err) {
      result = [false, err instanceof Error ? err.message : String(err)];
    }
    out.push({ ...c, supported: result[0], note: result[1] });
  }
  return out;
}

/** Renders the probe results as a table. */
export function renderChannels(support: readonly ChannelSupport[]): string {
  return alignColumns(
    ['channel', 'mechanism', 'pod shares', 'here', 'note'],
    support.map((s) => [s.id, s.mechanism, s.shares, s.supported ? 'yes' : 'no', s.note]),
  );
}
