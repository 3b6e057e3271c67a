/**
 * Rate mode between real agent processes over real kernel IPC, through the built CLI: the
 * coordinated-omission correction shown on a real stall (the responder SIGSTOPped for a known
 * time), the sweep's knee and its skipped steps, the drop policy and Poisson arrivals, and every
 * channel paced at a rate it holds.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as hdr from 'hdr-histogram-js';
import { CHANNEL_IDS } from '../agents/contract/channels.js';
import type { CaseResult, ResultsDocument } from '../agents/contract/schema.js';
import { SWEEP_RATES_PER_SEC } from '../bench/running/planner.js';
import { rateCurves } from '../reports/rate-curve.js';
import { runCli, startCli, waitIntoFirstCase } from './helpers/run-cli.js';
import { childPids } from './helpers/processes.js';
import { leakChecked } from './helpers/leftovers.js';

const readResults = (dir: string) => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as ResultsDocument;

/** What every measured rate case must add up to, whatever its rate did. */
function assertRateAccounts(c: CaseResult): void {
  const r = c.rate!;
  assert.ok(r, `${c.channel} at ${c.targetRatePerSec}/s has rate figures`);
  assert.equal(r.sent + r.dropped, r.intended, `${c.channel}: every intended message was sent or dropped`);
  assert.equal(r.completed + (c.loss?.lost ?? 0), r.sent, `${c.channel}: every sent message completed or was lost`);
  assert.equal(c.latencyNs!.count, r.completed, `${c.channel}: one latency per completed round trip`);
  assert.equal(r.serviceNs.count, r.completed);
  assert.equal(r.sendLagNs.count, r.completed);
  assert.equal(c.errors, 0);
  // Latency = service time + send lag for every message, so it is never below either.
  assert.ok(c.latencyNs!.max >= r.serviceNs.max * 0.999, `${c.channel}: latency max ≥ service max`);
  assert.ok(c.latencyNs!.p50 >= r.serviceNs.p50 * 0.999, `${c.channel}: latency p50 ≥ service p50`);
  assert.equal(r.held, r.completed >= 0.99 * r.intended);
  for (const encoded of [c.histogram!, r.serviceHistogram, r.sendLagHistogram])
    assert.equal(hdr.decodeFromCompressedBase64(encoded).totalCount, r.completed);
}

describe('a responder stalled (SIGSTOP) during a rate case', () => {
  const STALL_MS = 300;
  it('shows the stall in the corrected latency tail, not in the service time tail', async () => {
    await leakChecked(async (outDir) => {
      const run = startCli([
        ...['run', '--target', 'local', '--channels', 'tcp', '--modes', 'rate', '--rate', '1k', '--sizes', '64'],
        ...['--duration', '4s', '--warmup', '10ms', '--out-dir', outDir, '-o', 'json'],
      ]);
      await waitIntoFirstCase(run, outDir, 1500);
      const [responder] = childPids(run.child.pid!, '--role responder');
      assert.ok(responder, 'found the responder process');
      process.kill(responder, 'SIGSTOP');
      await new Promise((r) => setTimeout(r, STALL_MS));
      process.kill(responder, 'SIGCONT');
      const result = await run.result;
      assert.equal(result.code, 0, result.stderr);
      const [c] = readResults(outDir).cases;
      assert.equal(c?.status, 'ok', c?.reason);
      assertRateAccounts(c);
      const r = c.rate!;
      const ms = (ns: number) => ns / 1e6;
      // ~300 messages were due during the stall: their latencies run from the stall down to 0,
      // so the top 0.1 % (4 of ~4,000) sit within a few ms of the stall.
      assert.ok(ms(c.latencyNs!.p999) >= STALL_MS - 30, `latency p99.9 ${ms(c.latencyNs!.p999)} ms holds the stall`);
      // The one round trip caught by the stall took it whole; every other was served normally.
      assert.ok(ms(r.serviceNs.max) >= STALL_MS - 30, `service max ${ms(r.serviceNs.max)} ms is the stalled one`);
      assert.ok(ms(r.serviceNs.p999) < STALL_MS / 3, `service p99.9 ${ms(r.serviceNs.p999)} ms leaves the stall out`);
      assert.ok(ms(r.sendLagNs.max) >= STALL_MS - 30, `send lag max ${ms(r.sendLagNs.max)} ms: sends waited`);
      assert.ok(r.late >= 200, `${r.late} messages were sent late, behind the stalled one`);
      assert.equal(r.dropped, 0, 'queued, not dropped (the default policy)');
      assert.equal(r.held, true, 'the backlog drained within the case');
    });
  });
});

describe('a rate sweep', () => {
  it('steps up until a rate does not hold, skips the steps above with the reason, and reports the knee', async () => {
    await leakChecked(async (outDir) => {
      const result = await runCli([
        ...['run', '--target', 'local', '--channels', 'uds', '--modes', 'rate', '--rate', 'sweep', '--sizes', '64'],
        ...['--duration', '300ms', '--warmup', '10ms', '--out-dir', outDir, '-o', 'json'],
      ]);
      const doc = readResults(outDir);
      assert.deepEqual(
        doc.cases.map((c) => c.targetRatePerSec),
        SWEEP_RATES_PER_SEC,
        'every step is in the results, run or skipped',
      );
      const firstSkipped = doc.cases.findIndex((c) => c.status === 'skipped');
      assert.ok(firstSkipped > 0, `the sweep ended before ${SWEEP_RATES_PER_SEC.at(-1)}/s: ${result.stderr}`);
      const ran = doc.cases.slice(0, firstSkipped);
      const last = ran.at(-1)!;
      for (const c of ran) if (c.status === 'ok') assertRateAccounts(c);
      const limitNs = doc.run.settings.latencyLimitMs! * 1e6;
      for (const c of ran.slice(0, -1))
        assert.ok(c.rate?.held && c.latencyNs!.p99 <= limitNs, `${c.targetRatePerSec}/s held within the limit`);
      assert.ok(
        last.status !== 'ok' || !last.rate!.held || last.latencyNs!.p99 > limitNs,
        'the last step run did not hold',
      );
      for (const c of doc.cases.slice(firstSkipped)) {
        assert.equal(c.status, 'skipped');
        assert.match(c.reason ?? '', /^the sweep ended below this rate: /);
      }
      const [curve] = rateCurves(doc);
      assert.equal(curve?.knee?.targetPerSec, ran.at(-2)?.targetRatePerSec, 'the knee is the last step that held');
      assert.equal(result.code, 0, `skipped steps are not failures: ${result.stderr}`);
      const markdown = readFileSync(join(outDir, 'report.md'), 'utf8');
      assert.match(markdown, /Knee of uds at 64 B: /);
      assert.match(markdown, /\| not held \||\| over limit \|/);
    });
  });
});

describe('rate mode with --on-late drop and Poisson arrivals', () => {
  it('drops what it cannot send in time, counts it, and marks the rate as not held', async () => {
    await leakChecked(async (outDir) => {
      const result = await runCli([
        ...['run', '--target', 'local', '--channels', 'tcp', '--modes', 'rate', '--rate', '500,2M', '--sizes', '64'],
        ...['--on-late', 'drop', '--arrival', 'poisson', '--duration', '1s', '--warmup', '10ms'],
        ...['--out-dir', outDir],
      ]);
      assert.equal(result.code, 0, result.stderr);
      const doc = readResults(outDir);
      const [low, high] = doc.cases;
      for (const c of [low!, high!]) {
        assert.equal(c.status, 'ok', c.reason);
        assertRateAccounts(c);
        assert.equal(c.rate!.arrival, 'poisson');
        assert.equal(c.rate!.onLate, 'drop');
      }
      assert.equal(low!.rate!.held, true);
      // Poisson: the count is the target's give or take a few √n.
      assert.ok(Math.abs(low!.rate!.intended - 500) < 5 * Math.sqrt(500), `${low!.rate!.intended} intended at 500/s`);
      assert.equal(high!.rate!.held, false, 'no single connection completes 2M round trips a second');
      assert.ok(high!.rate!.dropped > high!.rate!.sent, `${high!.rate!.dropped} dropped`);
      assert.match(result.stdout, /NOT HELD \([\d,]+\/s achieved\)/);
    });
  });
});

describe('rate mode on every channel', () => {
  it('paces each channel at 500/s and accounts for every message', async () => {
    await leakChecked(async (outDir) => {
      const result = await runCli([
        ...['run', '--target', 'local', '--channels', 'all', '--modes', 'rate', '--rate', '500', '--sizes', '64'],
        ...['--duration', '400ms', '--warmup', '20ms', '--verify', 'full', '--out-dir', outDir, '-o', 'json'],
      ]);
      assert.equal(result.code, 0, result.stderr);
      const doc = readResults(outDir);
      assert.deepEqual(new Set(doc.cases.map((c) => c.channel)), new Set(CHANNEL_IDS));
      for (const c of doc.cases) {
        assert.equal(c.status, 'ok', `${c.channel}: ${c.reason}`);
        assertRateAccounts(c);
        assert.ok(c.rate!.intended >= 195 && c.rate!.intended <= 201, `${c.channel}: ${c.rate!.intended} intended`);
        assert.ok(c.cpu!.initiator.perMessageUs > 0, `${c.channel}: CPU per message is measured`);
        assert.ok(c.rate!.pacerCpuUs > 0, `${c.channel}: the pacer's waits are measured`);
      }
    });
  });
});
