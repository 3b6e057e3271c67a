/**
 * Rate and connection cases in the reports and in compare, from a real run's results
 * (test/fixtures/results-rate.json: tcp and shm at 1k/s and 5k/s over one and two connections,
 * three repeats): keys keep rates and connection counts apart, the knee is the last rate that
 * held within the limit, a rate that did not hold is never shown as if it did, and the
 * regression gate judges the corrected latency of each rate case.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { validateResultsDocument, type CaseResult, type ResultsDocument } from '../agents/contract/schema.js';
import { groupCases } from '../reports/case-groups.js';
import { renderCsv } from '../reports/csv.js';
import { renderMarkdown } from '../reports/markdown.js';
import { latencyLimitMsOf, rateCurves } from '../reports/rate-curve.js';
import { renderTable } from '../reports/table.js';
import { runCli } from './helpers/run-cli.js';
import { scaledResults } from './helpers/scaled-results.js';

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'fixtures', 'results-rate.json');
const doc = validateResultsDocument(JSON.parse(readFileSync(FIXTURE, 'utf8')), 'fixture');
const dir = mkdtempSync(join(tmpdir(), 'pbtest-rate-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A copy of the fixture where `pick`'s cases did not hold their rate. */
function notHeld(pick: (c: CaseResult) => boolean): ResultsDocument {
  return {
    ...doc,
    cases: doc.cases.map((c) =>
      pick(c) && c.rate ? { ...c, rate: { ...c.rate, held: false, completedPerSec: c.rate.completedPerSec * 0.8 } } : c,
    ),
  };
}

describe('rate and connection cases in the reports', () => {
  it('keeps every channel × connections × rate apart, with its repeats', () => {
    const groups = groupCases(doc);
    assert.equal(groups.length, 8);
    for (const g of groups) assert.equal(g.ok.length, 3, g.key);
    assert.ok(groups.some((g) => g.key === 'shm/rate/64x2@5000'));
  });

  it('finds each curve’s knee: the last rate that held with p99 within the limit', () => {
    const limitNs = latencyLimitMsOf(doc) * 1e6;
    const curves = rateCurves(doc);
    assert.equal(curves.length, 4);
    for (const curve of curves) {
      const ok = (c: CaseResult) => c.rate!.held && true;
      const points = curve.points.map((p) => ({
        rate: p.targetPerSec,
        fine: p.group.ok.every(ok) && (p.group.p99Ns ?? Infinity) <= limitNs,
      }));
      const firstMiss = points.findIndex((p) => !p.fine);
      const expected = firstMiss < 0 ? points.at(-1)?.rate : points[firstMiss - 1]?.rate;
      assert.equal(curve.knee?.targetPerSec, expected, `${curve.channel} ×${curve.connections ?? 1}`);
    }
  });

  it('shows a rate that did not hold as not held, in every format', () => {
    const missed = notHeld((c) => c.channel === 'tcp' && c.targetRatePerSec === 5000 && !c.connections);
    const markdown = renderMarkdown(missed);
    assert.match(markdown, /\| tcp \| 64 B \| 5k\/s \| [\d,]+ \| not held \|/);
    assert.doesNotMatch(markdown, /\| tcp \| 64 B \| 5k\/s \| [\d,]+ \| held \|/);
    assert.match(renderTable(missed), /tcp +rate 5k\/s #1 +64 B +ok .*NOT HELD \([\d,]+\/s achieved\)/);
    const csv = renderCsv(missed).split('\n');
    const header = csv[0]!.split(',');
    const row = csv.find((l) => l.includes(',tcp,rate,64,1,,,5000,'))!.split(',');
    assert.equal(row[header.indexOf('held')], 'false');
    assert.ok(Number(row[header.indexOf('serviceP99Ns')]) > 0);
    assert.ok(Number(row[header.indexOf('sendLagP99Ns')]) >= 0);
  });

  it('labels connections and rates in the table and the markdown', () => {
    assert.match(renderTable(doc), /shm +rate 5k\/s ×2 #3 +64 B +ok/);
    assert.match(renderMarkdown(doc), /Knee of shm ×2 at 64 B: /);
  });
});

describe('compare on rate cases', () => {
  const fixture = join(dir, 'base.json');
  writeFileSync(fixture, JSON.stringify(doc));

  it('matches each case by channel, size, connections and target rate: a run against itself is unchanged', async () => {
    const r = await runCli(['compare', fixture, fixture, '--fail-on-regression', 'p99:10%']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /0 slower, 0 faster, 8 no significant change/);
  });

  it('a slower rate case fails the regression gate on the corrected p99, named with its rate and connections', async () => {
    const slow = scaledResults(
      doc,
      (c) => (c.channel === 'shm' && c.connections === 2 && c.targetRatePerSec === 5000 ? 1.5 : 1),
      'slow',
    );
    writeFileSync(join(dir, 'slow.json'), JSON.stringify(slow));
    const r = await runCli(['compare', fixture, join(dir, 'slow.json'), '--fail-on-regression', 'p99:10%']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /regression\(s\) beyond --fail-on-regression: slow shm rate 64 B ×2 at 5k\/s: p99 \+\d/);
    assert.doesNotMatch(r.stderr, /tcp rate|shm rate 64 B at|×2 at 1k/);
  });

  it('a rate that no longer holds is slower whatever its latency, and fails the gate', async () => {
    writeFileSync(join(dir, 'missed.json'), JSON.stringify(notHeld((c) => c.channel === 'shm' && !c.connections)));
    const shown = await runCli(['compare', fixture, join(dir, 'missed.json'), '-o', 'markdown']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /the rate no longer held in the other run/);
    assert.match(shown.stdout, /- slower: shm rate 64 B at 1k\/s/);
    const gated = await runCli(['compare', fixture, join(dir, 'missed.json'), '--fail-on-regression', 'p99:10%']);
    assert.equal(gated.code, 3, gated.stderr);
    assert.match(gated.stderr, /shm rate 64 B at 5k\/s: the rate no longer held/);
    // The other way round: the baseline did not hold, the other run does.
    const back = await runCli(['compare', join(dir, 'missed.json'), fixture, '--fail-on-regression', 'p99:10%']);
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, /did not hold in the baseline and holds in the other run/);
  });
});
