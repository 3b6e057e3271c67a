/**
 * UDP loses datagrams when its receiver falls behind: podbench must count losses, reordering and
 * duplicates, never fail the case for them nor hang on a datagram that never comes. The losses
 * here are real: the responder is stopped (SIGSTOP) for a while in the middle of a case, so the
 * kernel drops what overflows its receive buffer and answers late what it had queued.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Arrivals, WINDOW } from '../agents/measure/arrivals.js';
import type { ResultsDocument } from '../agents/contract/schema.js';
import { startCli, waitIntoFirstCase } from './helpers/run-cli.js';
import { NOTHING_LEFT, newLeftovers, snapshotLeftovers } from './helpers/leftovers.js';
import { childPids } from './helpers/processes.js';

describe('arrivals of numbered datagrams', () => {
  it('tells new, out-of-order and repeated arrivals apart', () => {
    const a = new Arrivals();
    const firsts = [0, 1, 3, 2, 2, 5, 4, 5, 9].map((seq) => a.note(seq));
    assert.deepEqual(firsts, [true, true, true, true, false, true, true, false, true]);
    assert.equal(a.unique, 7); // 0 1 2 3 4 5 9: 6, 7 and 8 never came
    assert.equal(a.reordered, 2); // 2 after 3, 4 after 5
    assert.equal(a.duplicated, 2); // 2 and 5 again
  });

  it('forgets what is a whole window old, so a number that comes round again is new', () => {
    const a = new Arrivals();
    a.note(7);
    a.note(8 + WINDOW); // slides the window past 7
    assert.equal(a.note(7 + WINDOW), true, 'the slot 7 had is free again');
    assert.equal(a.note(8 + WINDOW), false, 'a repeat inside the window is still one');
    assert.equal(a.duplicated, 1);
    assert.equal(a.reordered, 1);
    assert.equal(a.unique, 3);
  });
});

/** Runs one udp case, stopping the responder for `stallMs` once the case has run `intoCaseMs`. */
async function stalledCase(mode: 'latency' | 'throughput', size: string): Promise<ResultsDocument> {
  const outDir = mkdtempSync(join(tmpdir(), 'pbtest-'));
  try {
    const run = startCli([
      'run',
      '--target',
      'local',
      '--channels',
      'udp',
      '--modes',
      mode,
      '--sizes',
      size,
      '--duration',
      '1500ms',
      '--warmup',
      '20ms',
      '--verify',
      'full',
      '--out-dir',
      outDir,
      '-o',
      'json',
    ]);
    await waitIntoFirstCase(run, outDir, 500);
    const [responder] = childPids(run.child.pid!, '--role responder');
    assert.ok(responder, 'found the responder process');
    process.kill(responder, 'SIGSTOP');
    await new Promise((r) => setTimeout(r, 400));
    process.kill(responder, 'SIGCONT');
    const result = await run.result;
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(readFileSync(join(outDir, 'results.json'), 'utf8')) as ResultsDocument;
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

describe('udp between two real processes, its responder stalled mid-case', () => {
  it('throughput: what overflowed the receive buffer is counted as lost, and the case is ok', async () => {
    const before = snapshotLeftovers();
    const doc = await stalledCase('throughput', '1Ki');
    const c = doc.cases[0]!;
    assert.equal(c.status, 'ok', c.reason);
    assert.equal(c.errors, 0);
    const loss = c.loss!;
    assert.ok(loss.lost > 0, `datagrams were lost while the responder was stopped: ${JSON.stringify(loss)}`);
    assert.equal(loss.sent - loss.lost, c.messages, 'every timed datagram sent was received or lost');
    assert.ok(Math.abs(loss.lossRate - loss.lost / loss.sent) < 1e-5);
    assert.ok(c.throughput!.messagesPerSec > 0);
    assert.deepEqual(newLeftovers(before, snapshotLeftovers()), NOTHING_LEFT);
  });

  it('latency: round trips that waited out the loss timeout are lost, not latencies; late replies are passed over', async () => {
    const doc = await stalledCase('latency', '64');
    const c = doc.cases[0]!;
    assert.equal(c.status, 'ok', c.reason);
    assert.equal(c.errors, 0);
    const loss = c.loss!;
    // A 400 ms stall with a 100 ms loss timeout: the round trips begun while the responder was
    // stopped all waited out the timeout. Their replies, sent when it resumed, came late but in
    // order: passed over, neither reordered nor duplicated.
    assert.ok(loss.lost >= 3, JSON.stringify(loss));
    assert.equal(loss.timeoutMs, 100);
    assert.equal(loss.duplicated, 0, JSON.stringify(loss));
    assert.equal(c.messages, loss.sent - loss.lost);
    assert.equal(c.latencyNs!.count, c.messages, 'only the round trips answered in time are latencies');
    assert.ok(c.latencyNs!.max < 100_000_000, `no recorded round trip exceeds the loss timeout: ${c.latencyNs!.max}`);
  });
});
