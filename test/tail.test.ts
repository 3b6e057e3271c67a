/**
 * The tailed log's reader returns whole records only: a record that another process appends in
 * two writes, 300 ms apart, is read as one message once its second half has landed — never the
 * half as a message, never a wait past the peer timeout — and the reader says it saw a partial
 * record.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ChannelContext } from '../agents/channels/channel.js';
import { channelFor } from '../agents/channels/registry.js';
import { readKernelLimits } from '../agents/kernel-limits.js';
import { MessageCodec, Verdict, allocMessage } from '../agents/measure/message.js';
import { ObjectJournal } from '../agents/object-journal.js';

const SIZE_BYTES = 4096;

test('tail: a record appended in two writes is read once, whole', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pbtest-tail-'));
  const ctx: ChannelContext = {
    runId: 'tailtest',
    instance: '0',
    spec: { index: 0, channel: 'tail', mode: 'throughput', sizeBytes: SIZE_BYTES, repeat: 0 },
    dirs: { disk: dir, tmpfs: dir },
    peerTimeoutMs: 5000,
    journal: new ObjectJournal('/dev/null', 'tailtest'),
    limits: readKernelLimits(),
  };
  const hosted = await channelFor('tail').host(ctx);
  try {
    const reader = await hosted.accept();
    assert.ok(reader.blocking && !reader.lossy, 'the tail endpoint blocks');
    const codec = new MessageCodec(SIZE_BYTES, 'full');
    const message = allocMessage(SIZE_BYTES);
    codec.fill(message);
    codec.stamp(message, 0, 0);
    // The writer is another process: half the record now, the rest 300 ms later, each one write(2).
    const log = join(dir, 'podbench-0.i2r.log');
    const half = SIZE_BYTES / 2;
    const writer = spawn(
      process.execPath,
      [
        '-e',
        `const fs = require('node:fs'); const b = Buffer.from(process.argv[1], 'base64');
         const fd = fs.openSync(process.argv[2], 'a');
         fs.writeSync(fd, b, 0, ${half}); setTimeout(() => { fs.writeSync(fd, b, ${half}); fs.closeSync(fd); }, 300);`,
        message.bytes.toString('base64'),
        log,
      ],
      { stdio: 'inherit' },
    );
    const exited = new Promise<number | null>((resolve) => writer.on('close', resolve));
    const into = allocMessage(SIZE_BYTES);
    const startedMs = Date.now();
    const n = reader.receive(into) as number;
    const waitedMs = Date.now() - startedMs;
    assert.equal(await exited, 0);
    assert.equal(n, SIZE_BYTES, 'the whole record');
    assert.equal(codec.verify(into, n, 0), Verdict.ok, 'its bytes as written');
    assert.ok(waitedMs >= 200, `the reader waited for the second half (${waitedMs} ms)`);
    assert.equal(reader.details().partialReads, 1, 'the reader saw the half record and kept it');
    reader.close();
  } finally {
    hosted.dispose();
  }
  assert.equal(existsSync(join(dir, 'podbench-0.i2r.log')), false, 'the logs are removed with the case');
  rmSync(dir, { recursive: true, force: true });
});
