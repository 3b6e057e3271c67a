/**
 * The renderers are pure functions of a results document, tested from fixtures: a run with
 * skipped and failed cases, a run with repeats and several sizes, and a single case.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { validateResultsDocument, type ResultsDocument } from '../agents/contract/schema.js';
import { groupCases, median } from '../reports/case-groups.js';
import { renderCsv } from '../reports/csv.js';
import { renderHgrm } from '../reports/hgrm.js';
import { renderMarkdown } from '../reports/markdown.js';
import { describeAddedNs, protocolCaseNote, protocolCosts } from '../reports/protocol-cost.js';
import { withProtocolCases } from './helpers/protocol-results.js';
import { runCli } from './helpers/run-cli.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'fixtures');
const load = (name: string) => validateResultsDocument(JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')), name);
const mixed = load('results-mixed.json');
const repeats = load('results-repeats.json');
const single: ResultsDocument = {
  ...mixed,
  run: { ...mixed.run, plannedCases: 1, complete: true },
  cases: [mixed.cases[0]!],
};

describe('case groups', () => {
  it('merge repeats into medians', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 2, 3]), 2.5);
    const groups = groupCases(repeats);
    assert.equal(groups.length, repeats.cases.length / 2);
    const g = groups.find((x) => x.channel === 'shm' && x.mode === 'latency' && x.sizeBytes === 64)!;
    assert.equal(g.ok.length, 2);
    assert.equal(g.p50Ns, median(g.ok.map((c) => c.latencyNs!.p50)));
  });
});

describe('markdown', () => {
  it('leads with the headline finding and marks the best per size', () => {
    const md = renderMarkdown(repeats);
    const lines = md.split('\n');
    assert.equal(lines[0], '# podbench results: fixture');
    assert.match(lines[2]!, /^- Lowest round trip at 64 B: \*\*(shm|uds|mq)\*\* \(p50 [\d.]+ µs\)$/);
    assert.match(md, /medians of 2 repeats/);
    for (const size of ['64 B', '1 KiB', '16 KiB']) {
      const best = groupCases(repeats).filter(
        (g) =>
          g.mode === 'latency' &&
          g.p50Ns !== undefined &&
          g.sizeBytes === { '64 B': 64, '1 KiB': 1024, '16 KiB': 16384 }[size],
      );
      const fastest = best.reduce((a, b) => (a.p50Ns! <= b.p50Ns! ? a : b));
      assert.ok(
        lines.some((l) => l.startsWith(`| ${fastest.channel} ★ | ${size} |`)),
        `${fastest.channel} marked at ${size}`,
      );
    }
  });

  it('lists skipped and failed cases with their reasons, escaping pipes', () => {
    const md = renderMarkdown(mixed);
    assert.match(md, /## Not measured/);
    assert.match(md, /\| mq latency 64 KiB \| skipped \| fs\.mqueue\.msgsize_max is 8192 bytes/);
    assert.match(md, /\| sysv-mq latency 64 B \| failed \| the responder did not send within 1000 ms/);
    assert.match(md, /incomplete: interrupted by SIGINT/);
  });

  it('renders a single case', () => {
    const md = renderMarkdown(single);
    assert.match(md, /Lowest round trip at 64 B: \*\*tcp\*\*/);
    assert.doesNotMatch(md, /throughput mode/);
  });
});

describe('csv', () => {
  it('one row per case with every summary figure, quoted where needed', () => {
    const rows = renderCsv(mixed).trim().split('\n');
    assert.equal(rows.length, mixed.cases.length + 1);
    const header = rows[0]!.split(',');
    const tcp = rows[1]!.split(',');
    assert.equal(tcp[header.indexOf('p50Ns')], String(mixed.cases[0]!.latencyNs!.p50));
    assert.equal(tcp[header.indexOf('status')], 'ok');
    // The reason holds commas and parentheses: quoted, so the row still has one cell per column.
    assert.match(rows[3]!, /,skipped,"fs\.mqueue\.msgsize_max is 8192 bytes, below the 65536-byte message/);
  });
});

describe('hgrm', () => {
  it('one percentile distribution per latency case, in microseconds', () => {
    const files = renderHgrm(repeats);
    const latencyCases = repeats.cases.filter((c) => c.histogram);
    assert.equal(Object.keys(files).length, latencyCases.length);
    const first = latencyCases[0]!;
    const text = files[Object.keys(files)[0]!]!;
    assert.match(text, /^\s+Value\s+Percentile\s+TotalCount 1\/\(1-Percentile\)/);
    assert.match(text, new RegExp(`Total count\\s+=\\s+${first.latencyNs!.count}\\]`));
    const p50Line = text.split('\n').find((l) => /\s0\.5000+\s/.test(l))!;
    assert.ok(
      Math.abs(Number(p50Line.trim().split(/\s+/)[0]) - first.latencyNs!.p50 / 1000) / (first.latencyNs!.p50 / 1000) <
        0.01,
      p50Line,
    );
  });
});

describe('podbench report', () => {
  it('writes each format; refuses unknown schema versions and non-documents with exit 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pbtest-'));
    try {
      const results = join(FIXTURES, 'results-repeats.json');
      const md = await runCli(['report', results, '--format', 'markdown']);
      assert.equal(md.code, 0, md.stderr);
      assert.equal(md.stdout, renderMarkdown(repeats));
      const csv = await runCli(['report', results, '--format', 'csv', '-o', join(dir, 'r.csv')]);
      assert.equal(csv.code, 0, csv.stderr);
      assert.equal(readFileSync(join(dir, 'r.csv'), 'utf8'), renderCsv(repeats));
      const hgrm = await runCli(['report', results, '--format', 'hgrm', '-o', join(dir, 'h')]);
      assert.equal(hgrm.code, 0, hgrm.stderr);
      assert.equal(readdirSync(join(dir, 'h')).length, Object.keys(renderHgrm(repeats)).length);
      const json = await runCli(['report', results, '--format', 'json']);
      assert.deepEqual(JSON.parse(json.stdout), repeats);

      writeFileSync(join(dir, 'v9.json'), JSON.stringify({ ...repeats, schemaVersion: 9 }));
      writeFileSync(join(dir, 'bad.json'), JSON.stringify({ schemaVersion: 1, cases: 'no' }));
      for (const [file, expected] of [
        ['v9.json', /schemaVersion 9; podbench [\d.]+ reads schemaVersion 1 \(upgrade podbench\)/],
        ['bad.json', /does not match the podbench schema/],
        ['missing.json', /cannot read .*missing\.json: no such file/],
      ] as const) {
        const r = await runCli(['report', join(dir, file), '--format', 'csv']);
        assert.equal(r.code, 2, r.stderr);
        assert.equal(r.stderr.trim().split('\n').length, 1);
        assert.match(r.stderr, expected);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a results file with one damaged histogram', () => {
  it('report and compare render the rest, mark the case, name the file and case in one line, and exit 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pbtest-damaged-'));
    try {
      const doc = JSON.parse(JSON.stringify(repeats)) as ResultsDocument;
      const victim = doc.cases.findIndex((c) => c.histogram);
      const h = doc.cases[victim]!.histogram!;
      // The middle of the compressed stream replaced: the zlib data no longer inflates.
      doc.cases[victim]!.histogram = h.slice(0, 60) + 'A'.repeat(h.length - 120) + h.slice(-60);
      const damaged = join(dir, 'damaged.json');
      writeFileSync(damaged, JSON.stringify(doc));
      const c = doc.cases[victim]!;
      const named = new RegExp(
        `^podbench: 1 histogram\\(s\\) could not be read, the rest was rendered: ${damaged.replace(/[.]/g, '\\.')}: case ${c.index + 1} \\(${c.channel} ${c.mode} ${c.sizeBytes} B, repeat ${c.repeat + 1}\\): histogram unreadable \\(.+\\)$`,
      );

      for (const format of ['markdown', 'html', 'csv', 'hgrm']) {
        const r = await runCli([
          'report',
          damaged,
          '--format',
          format,
          ...(format === 'hgrm' ? ['-o', join(dir, 'hgrm')] : []),
        ]);
        assert.equal(r.code, 1, `${format}: ${r.stderr}`);
        assert.match(r.stderr.trim(), named, format);
        assert.ok(r.stdout.length > 0, `${format}: the rest is rendered`);
        if (format !== 'hgrm')
          assert.match(r.stdout, /histogram unreadable \(.+\): summary figures only/, `${format}: the case is marked`);
      }
      const table = await runCli(['report', damaged, '--format', 'markdown']);
      assert.ok(table.stdout.includes(`${c.channel}`), 'the other cases are there');
      assert.equal(
        readdirSync(join(dir, 'hgrm')).length,
        repeats.cases.filter((x) => x.histogram).length - 1,
        'every other .hgrm is written',
      );

      const compared = await runCli(['compare', join(FIXTURES, 'results-repeats.json'), damaged]);
      assert.equal(compared.code, 1, compared.stderr);
      assert.match(compared.stderr.trim(), named);
      assert.match(compared.stdout, /p50/, 'the comparison is printed');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('protocol cost', () => {
  const addedP50Ns = [40_000, 60_000];
  it('pairs each protocol case with its raw channel repeat by repeat, with the spread', () => {
    const costs = protocolCosts(withProtocolCases(repeats, addedP50Ns));
    assert.equal(costs.length, 6, 'http1-uds: two modes × three sizes');
    for (const c of costs) {
      assert.equal(c.rawChannel, 'uds');
      assert.equal(c.raw?.channel, 'uds');
      assert.deepEqual(c.wireBytes, { request: c.protocol.sizeBytes + 123, answer: 111 });
      assert.ok(Math.abs(c.addedCpuUs!.initiator.median - 50) < 1e-9);
      assert.ok(Math.abs(c.addedCpuUs!.responder.max - 30) < 1e-9);
      if (c.protocol.mode === 'latency') {
        assert.deepEqual(c.addedNs!.p50, { median: 50_000, min: 40_000, max: 60_000, pairs: 2 });
        assert.equal(describeAddedNs(c.addedNs!.p50), '+50.0 µs (+40.0 to +60.0 µs over 2 repeats)');
      } else assert.ok(Math.abs(c.rateRatio!.median - 0.1) < 1e-9);
    }
  });

  it('never shows a lone negative added latency', () => {
    const crossing = protocolCosts(withProtocolCases(repeats, [-3_000, 5_000])).find((c) => c.addedNs)!;
    assert.equal(
      describeAddedNs(crossing.addedNs!.p50),
      'no difference beyond the spread of 2 repeats (−3.00 to +5.00 µs)',
    );
    assert.equal(describeAddedNs({ median: -2_100, min: -2_100, max: -2_100, pairs: 1 }), 'none measured (−2.10 µs)');
  });

  it('shows the comparison in Markdown, and in the table note beside the raw case', () => {
    const doc = withProtocolCases(repeats, addedP50Ns);
    const md = renderMarkdown(doc);
    assert.match(md, /## Protocol cost/);
    assert.match(
      md,
      /\| http1-uds \| uds \(libc\) \| 64 B \| 187 B \/ 111 B \| [\d.]+ \/ [\d.]+ \| \+50\.0 µs \(\+40\.0 to \+60\.0 µs over 2 repeats\) \|/,
    );
    const latency64 = doc.cases.find((c) => c.channel === 'http1-uds' && c.mode === 'latency' && c.sizeBytes === 64)!;
    assert.match(protocolCaseNote(latency64, doc)!, /^wire 187\/111 B per msg, p50 [\d.]+ vs uds [\d.]+ µs, uds cpu /);
    // Without the raw channel in the run, the section says so rather than inventing a difference.
    const alone = { ...doc, cases: doc.cases.filter((c) => c.channel !== 'uds') };
    assert.match(renderMarkdown(alone), /\| http1-uds \| uds \(no measured case in this run\) \| 64 B \|/);
    assert.match(protocolCaseNote(latency64, alone)!, /no uds case to compare/);
  });
});
