/**
 * The futex ring under a long randomized stream between two processes: no message lost or
 * reordered, no wake-up lost (a lost one would show as a futex wait that timed out), and
 * wake-ups batched (far fewer FUTEX_WAKE calls than messages).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { shmChannel } from '../agents/channels/shm-ring.js';
import { MessageCodec, Verdict, allocMessage } from '../agents/measure/message.js';
import { randomPause, ringContext, xorshift } from './fixtures/ring-context.js';

const MESSAGES = 200_000;
const PRODUCER = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'ring-producer.js');

test('shm ring: randomized stream, nothing lost, no lost wake-up, wake-ups batched', async (t) => {
  const ctx = ringContext();
  const hosted = await shmChannel.host(ctx);
  const shmPath = join('/dev/shm', String(hosted.params.name).slice(1));
  try {
    const child = spawn(process.execPath, [PRODUCER, JSON.stringify(hosted.params), String(MESSAGES), '12345'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let producerOut = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (producerOut += c));
    const exited = new Promise<number | null>((r) => child.on('close', r));

    const consumer = await hosted.accept();
    const codec = new MessageCodec(ctx.spec.sizeBytes, 'full');
    const msg = allocMessage(ctx.spec.sizeBytes);
    const random = xorshift(777);
    let bad = 0;
    for (let seq = 0; seq < MESSAGES; seq++) {
      const n = consumer.receive(msg) as number; // the shm ring answers synchronously
      if (codec.verify(msg, n, seq) !== Verdict.ok) bad++;
      if (seq % 97 === 0) randomPause(random);
    }
    const consumerDetails = consumer.details();
    consumer.close();
    assert.equal(await exited, 0);
    const producerDetails = JSON.parse(producerOut) as Record<string, number>;

    t.diagnostic(`consumer ${JSON.stringify(consumerDetails)}, producer ${JSON.stringify(producerDetails)}`);
    assert.equal(bad, 0, 'every message arrives intact and in order');
    assert.equal(consumerDetails.futexTimeouts, 0, 'the consumer never slept through a message (lost wake-up)');
    assert.equal(producerDetails.futexTimeouts, 0, 'the producer never slept through free space');
    assert.ok(
      Number(consumerDetails.futexWaits) > 100,
      `the consumer really slept (${consumerDetails.futexWaits} waits)`,
    );
    const wakes = Number(producerDetails.futexWakes) + Number(consumerDetails.futexWakes);
    assert.ok(wakes < MESSAGES / 4, `wake-ups are batched: ${wakes} FUTEX_WAKE calls for ${MESSAGES} messages`);
  } finally {
    hosted.dispose();
  }
  assert.equal(existsSync(shmPath), false, 'the shared-memory object is removed');
});
