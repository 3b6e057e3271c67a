/**
 * The sleeping rings under a long randomized stream between two processes, woken by futex
 * (`shm`) and by System V semaphore (`shm-sem`): no message lost or reordered, no wake-up lost
 * (a lost one would show as a wait that timed out), wake-ups batched (far fewer wake calls than
 * messages), and — for semaphores, which keep a post nobody waited for — every semaphore back at
 * 0 at the end, so no later wait can return early.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test, type TestContext } from 'node:test';
import { channelFor } from '../agents/channels/registry.js';
import { semctl } from '../agents/native/libc.js';
import { MessageCodec, Verdict, allocMessage } from '../agents/measure/message.js';
import { randomPause, ringContext, xorshift } from './fixtures/ring-context.js';

const MESSAGES = 200_000;
const PRODUCER = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'ring-producer.js');

const GETVAL = 12;

/** The names each kind of wake-up gives its counters in the endpoint's details. */
const COUNTERS = {
  shm: { waits: 'futexWaits', wakes: 'futexWakes', timeouts: 'futexTimeouts' },
  'shm-sem': { waits: 'semWaits', wakes: 'semPosts', timeouts: 'semTimeouts' },
} as const;

for (const channel of ['shm', 'shm-sem'] as const) {
  test(`${channel} ring: randomized stream, nothing lost, no lost wake-up, wake-ups batched`, async (t) => {
    await randomizedStream(t, channel);
  });
}

async function randomizedStream(t: TestContext, channel: keyof typeof COUNTERS): Promise<void> {
  const counters = COUNTERS[channel];
  const ctx = ringContext();
  const hosted = await channelFor(channel).host(ctx);
  const shmPath = join('/dev/shm', String(hosted.params.name).slice(1));
  try {
    const args = [PRODUCER, JSON.stringify(hosted.params), String(MESSAGES), '12345', channel];
    const child = spawn(process.execPath, args, {
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
    if (channel === 'shm-sem') {
      const semid = Number(hosted.params.semid);
      const values = [0, 1, 2, 3].map((n) => semctl(semid, n, GETVAL, 0));
      assert.deepEqual(values, [0, 0, 0, 0], 'every post was taken: no semaphore is left raised');
    }
    consumer.close();
    assert.equal(await exited, 0);
    const producerDetails = JSON.parse(producerOut) as Record<string, number>;

    t.diagnostic(`consumer ${JSON.stringify(consumerDetails)}, producer ${JSON.stringify(producerDetails)}`);
    assert.equal(bad, 0, 'every message arrives intact and in order');
    assert.equal(consumerDetails[counters.timeouts], 0, 'the consumer never slept through a message (lost wake-up)');
    assert.equal(producerDetails[counters.timeouts], 0, 'the producer never slept through free space');
    const waits = Number(consumerDetails[counters.waits]);
    assert.ok(waits > 100, `the consumer really slept (${waits} waits)`);
    const wakes = Number(producerDetails[counters.wakes]) + Number(consumerDetails[counters.wakes]);
    assert.ok(wakes < MESSAGES / 4, `wake-ups are batched: ${wakes} wake calls for ${MESSAGES} messages`);
  } finally {
    hosted.dispose();
  }
  assert.equal(existsSync(shmPath), false, 'the shared-memory object is removed');
}
