/**
 * uds-dgram keeps the DogStatsD pattern's back-pressure: the initiator, connected to a responder
 * that does not read, blocks once the responder's queue holds net.unix.max_dgram_qlen datagrams
 * (the kernel admits one more than the limit), and the bounded wait then fails with the peer
 * named — not after some number of datagrams its own send buffer happens to hold.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { PeerError, type ChannelContext } from '../agents/channels/channel.js';
import { channelFor } from '../agents/channels/registry.js';
import { readKernelLimits } from '../agents/kernel-limits.js';
import { MessageCodec, allocMessage } from '../agents/measure/message.js';
import { ObjectJournal } from '../agents/object-journal.js';

const SIZE_BYTES = 64;
const PEER_TIMEOUT_MS = 300;

test('uds-dgram: the initiator blocks on the responder queue at net.unix.max_dgram_qlen', async () => {
  const qlen = Number(readFileSync('/proc/sys/net/unix/max_dgram_qlen', 'utf8'));
  const dir = mkdtempSync(join(tmpdir(), 'pbtest-dgram-'));
  const ctx: ChannelContext = {
    runId: 'dgramtest',
    instance: '0',
    spec: { index: 0, channel: 'uds-dgram', mode: 'throughput', sizeBytes: SIZE_BYTES, repeat: 0 },
    dirs: { disk: dir, tmpfs: dir },
    peerTimeoutMs: PEER_TIMEOUT_MS,
    journal: new ObjectJournal('/dev/null', 'dgramtest'),
    limits: readKernelLimits(),
  };
  const channel = channelFor('uds-dgram');
  const hosted = await channel.host(ctx);
  try {
    const initiator = await channel.join(ctx, hosted.params);
    const responder = await hosted.accept(); // takes the hello; reads nothing more
    assert.ok(initiator.blocking && !initiator.lossy);
    const codec = new MessageCodec(SIZE_BYTES, 'sample');
    const message = allocMessage(SIZE_BYTES);
    codec.fill(message);
    let sent = 0;
    const startedMs = Date.now();
    const blocked = (() => {
      for (;;) {
        codec.stamp(message, sent, 0);
        try {
          initiator.send(message);
        } catch (err) {
          return err;
        }
        if (++sent > 10 * qlen) return undefined;
      }
    })();
    assert.ok(blocked instanceof PeerError, `a send blocked and timed out (${String(blocked)})`);
    assert.match(blocked.message, /the responder did not read within 300 ms/);
    assert.equal(sent, qlen + 1, `the queue took max_dgram_qlen (${qlen}) + 1 datagrams`);
    assert.ok(Date.now() - startedMs >= PEER_TIMEOUT_MS - 20, 'the blocked send waited the peer timeout');
    initiator.close();
    responder.close();
  } finally {
    hosted.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
