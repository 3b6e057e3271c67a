/**
 * podbench's own responder for a peer client (bench:fidelity's peer section): hosts one protocol
 * channel (`http1` or `h2`) for one mode and size exactly as the responder agent does — the same
 * server, options and endpoint — prints what a client needs to connect as one JSON line, and
 * answers every request (the echo, or the 204) until its client goes or stdin closes.
 *
 * Usage: node peer-server.js <channel> <mode> <sizeBytes>. The peers send a constant body with no
 * podbench header, so this loop answers without verifying; the bodies are counted and their
 * length checked, and the count is printed when the server stops.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { channelFor } from '../../agents/channels/registry.js';
import type { ChannelContext, Hosted } from '../../agents/channels/channel.js';
import { CHANNEL_IDS, type ChannelId } from '../../agents/contract/channels.js';
import { MODES, MODE_IDS, type ModeId } from '../../agents/contract/modes.js';
import { readKernelLimits } from '../../agents/kernel-limits.js';
import { allocMessage } from '../../agents/measure/message.js';
import { ObjectJournal } from '../../agents/object-journal.js';

const [channel, mode, size] = process.argv.slice(2);
if (!CHANNEL_IDS.includes(channel as ChannelId) || !MODE_IDS.includes(mode as ModeId) || !(Number(size) > 0)) {
  process.stderr.write('usage: peer-server <channel> <mode> <sizeBytes>\n');
  process.exit(2);
}
const sizeBytes = Number(size);
const dir = mkdtempSync(join(tmpdir(), 'podbench-peer-'));
const ctx: ChannelContext = {
  runId: 'peer',
  instance: '0',
  spec: { index: 0, channel: channel as ChannelId, mode: mode as ModeId, sizeBytes, repeat: 0 },
  dirs: { disk: dir, tmpfs: dir },
  peerTimeoutMs: 60_000,
  journal: new ObjectJournal(join(dir, 'journal'), 'peer'),
  limits: readKernelLimits(),
};

let hosted: Hosted;
try {
  hosted = await channelFor(ctx.spec.channel, 'node').host(ctx);
} catch (err) {
  rmSync(dir, { recursive: true, force: true });
  throw err;
}
let answered = 0;
let wrongLength = 0;
const stop = (code: number) => {
  hosted.dispose();
  rmSync(dir, { recursive: true, force: true });
  process.stdout.write(`${JSON.stringify({ answered, wrongLength })}\n`);
  process.exit(code);
};
process.on('SIGTERM', () => stop(0));
process.stdin.on('end', () => stop(0)).resume();
process.stdout.write(`${JSON.stringify(hosted.params)}\n`);

const message = allocMessage(sizeBytes);
const echoes = MODES[ctx.spec.mode].responderEchoes;
try {
  const endpoint = await hosted.accept();
  if (endpoint.blocking) throw new Error(`${channel} is not a protocol channel`);
  for (;;) {
    const n = await endpoint.receive(message);
    if (n !== sizeBytes) wrongLength++;
    if (echoes) endpoint.send(message);
    answered++;
  }
} catch (err) {
  // The client closed its connection (the run is over), or never came.
  if (answered === 0) process.stderr.write(`peer-server: ${err instanceof Error ? err.message : String(err)}\n`);
  stop(answered === 0 ? 1 : 0);
}
