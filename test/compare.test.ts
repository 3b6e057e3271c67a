/**
 * compare: identical runs show no significant change and exit 0; an injected slowdown is called
 * slower and --fail-on-regression exits 3; a difference within the noise between repeats is not
 * called; a single repeat is never enough; unknown schema versions are refused.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { validateResultsDocument, type ResultsDocument } from '../agents/contract/schema.js';
import { caseKey, groupCases } from '../reports/case-groups.js';
import { compareRuns } from '../reports/compare.js';
import { mannWhitneyCounts, mannWhitneyExact } from '../reports/statistics.js';
import { runCli } from './helpers/run-cli.js';
import { scaledResults } from './helpers/scaled-results.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'fixtures');
const base = validateResultsDocument(
  JSON.parse(readFileSync(join(FIXTURES, 'results-repeats.json'), 'utf8')),
  'fixture',
);

describe('Mann–Whitney U', () => {
  it('exact p-values match the tables', () => {
    assert.equal(mannWhitneyExact([1, 2, 3, 4], [5, 6, 7, 8]).p.toFixed(4), (2 / 70).toFixed(4)); // fully separated, 4 vs 4
    assert.equal(mannWhitneyExact([1, 2], [3, 4]).p.toFixed(4), (2 / 6).toFixed(4)); // 2 vs 2 can never be significant
    assert.equal(mannWhitneyExact([1, 4], [2, 3]).p, 1);
  });
  it('the approximation over histograms finds a shift and not its absence', () => {
    const a = new Map([
      [10, 500],
      [11, 500],
    ]);
    assert.ok(
      mannWhitneyCounts(
        a,
        new Map([
          [11, 500],
          [12, 500],
        ]),
      ).p < 1e-6,
    );
    assert.ok(mannWhitneyCounts(a, a).p > 0.99);
  });
});

describe('compareRuns', () => {
  it('identical runs: no significant change anywhere (throughput with 2 repeats: too few to tell)', () => {
    const changes = compareRuns(base, base);
    assert.deepEqual([...new Set(changes.filter((c) => c.mode === 'latency').map((c) => c.verdict))].sort(), [
      'no significant change',
      'not comparable',
    ]);
    for (const c of changes.filter((x) => x.mode === 'throughput' && x.verdict !== 'not comparable')) {
      assert.equal(c.verdict, 'not enough repeats');
      assert.match(c.metrics[0]!.note!, /2 vs 2 repeats cannot show a significant throughput change; use --repeat 4/);
    }
  });

  it("throughput with 4 repeats a side: a rate cut to a fifth is called slower (beyond this VM's spread)", () => {
    const four = { ...base, cases: [...base.cases, ...base.cases.map((c) => ({ ...c, repeat: c.repeat + 2 }))] };
    const half = scaledResults(four, () => 5, 'fifth');
    const tp = compareRuns(four, half).filter((c) => c.mode === 'throughput' && c.verdict !== 'not comparable');
    assert.ok(tp.length > 0);
    for (const c of tp) assert.equal(c.verdict, 'slower', `${c.key} ${JSON.stringify(c.metrics)}`);
  });

  it('a run twice as slow is called slower on every latency case', () => {
    // The fixture's repeats differ by up to ~80 % in p50 (where the scheduler put the agents on
    // this VM), so a slowdown must be larger than that to be called: 2× is.
    const slow = scaledResults(base, () => 2, 'slow');
    for (const c of compareRuns(base, slow).filter((x) => x.mode === 'latency' && x.verdict !== 'not comparable')) {
      assert.equal(c.verdict, 'slower', c.key);
      assert.ok(c.metrics[0]!.changePct > 95 && c.metrics[0]!.changePct < 105, `${c.key}: ${c.metrics[0]!.changePct}`);
    }
  });

  it('a 30 % slowdown within the spread between repeats is not called (shm at 64 B varies ~70 % here)', () => {
    const slow = scaledResults(base, () => 1.3, 'slow');
    const shm = compareRuns(base, slow).find((c) => c.key === 'shm/latency/64')!;
    assert.equal(shm.verdict, 'no significant change');
    assert.ok(shm.metrics[0]!.noise! > 0.3, `noise ${shm.metrics[0]!.noise}`);
  });

  it('a difference within the spread between repeats is not called', () => {
    const spreadOf = (values: number[]) => (Math.max(...values) - Math.min(...values)) / Math.min(...values);
    const groups = new Map(groupCases(base).map((g) => [g.key, g]));
    const noisy = scaledResults(
      base,
      (c) => {
        const g = groups.get(caseKey(c))!;
        const figures =
          c.mode === 'latency'
            ? [g.ok.map((x) => x.latencyNs!.p50), g.ok.map((x) => x.latencyNs!.p99)]
            : [g.ok.map((x) => x.throughput!.bytesPerSec)];
        return 1 + 0.4 * Math.min(...figures.map(spreadOf));
      },
      'noisy',
    );
    for (const c of compareRuns(base, noisy)) {
      assert.notEqual(c.verdict, 'slower', `${c.key} ${JSON.stringify(c.metrics)}`);
      assert.ok(
        c.metrics.every((m) => !m.significant),
        c.key,
      );
    }
  });

  it('never calls a change from a single sample', () => {
    const first = { ...base, cases: base.cases.filter((c) => c.repeat === 0) };
    const slow = scaledResults(first, () => 2, 'slow');
    const verdicts = new Set(compareRuns(first, slow).map((c) => c.verdict));
    assert.ok(!verdicts.has('slower') && verdicts.has('not enough repeats'));
  });
});

describe('podbench compare', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'pbtest-'));
    writeFileSync(join(dir, 'slow.json'), JSON.stringify(scaledResults(base, () => 2, 'slow-pool')));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const fixture = join(FIXTURES, 'results-repeats.json');

  it('a run against itself: nothing changed, exit 0 even with --fail-on-regression', async () => {
    const r = await runCli(['compare', fixture, fixture, '--fail-on-regression', 'p99:10%']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^fixture against fixture: 0 slower, 0 faster, \d+ no significant change/);
  });

  it('an injected slowdown: named by label, flagged, exit 3 with the cases listed', async () => {
    const r = await runCli([
      'compare',
      fixture,
      join(dir, 'slow.json'),
      '--fail-on-regression',
      'p99:10%',
      '-o',
      'markdown',
    ]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, /## slow-pool against fixture/);
    assert.match(r.stdout, /- slower: shm latency 64 B — [\d.]+ → [\d.]+ µs \(\+\d+(\.\d)? %\*\)/);
    assert.match(
      r.stderr,
      /^podbench: \d+ regression\(s\) beyond --fail-on-regression: slow-pool shm latency 64 B: p99 \+\d/,
    );
  });

  it('refuses an unknown schema version and a bad rule', async () => {
    const newer: ResultsDocument = { ...base, schemaVersion: 7 as 1 };
    writeFileSync(join(dir, 'newer.json'), JSON.stringify(newer));
    const r = await runCli(['compare', fixture, join(dir, 'newer.json')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /schemaVersion 7; podbench [\d.]+ reads schemaVersion 1/);
    const bad = await runCli(['compare', fixture, fixture, '--fail-on-regression', 'p42:10']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--fail-on-regression.*METRIC:PERCENT%/);
  });
});
