/// <reference lib="dom" />
/**
 * The HTML report in a real headless Chromium (Debian's, driven by playwright-core; no browser is
 * downloaded): no console errors, no network requests, every chart drawn with data, readable at
 * laptop width in light and dark schemes. Screenshots go to dist/test-output/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { ResultsDocument } from '../agents/contract/schema.js';
import { withProtocolCases } from './helpers/protocol-results.js';
import { runCli } from './helpers/run-cli.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const FIXTURE = join(HERE, '..', '..', 'test', 'fixtures', 'results-repeats.json');
const RATE_FIXTURE = join(HERE, '..', '..', 'test', 'fixtures', 'results-rate.json');
const SHOTS = join(HERE, '..', 'test-output');
const CHROMIUM = process.env.PODBENCH_CHROMIUM ?? '/usr/bin/chromium';

/** What a report page showed once its charts were drawn. */
interface OpenedReport {
  readonly page: Page;
  readonly errors: string[];
  readonly requests: string[];
  readonly charts: { id: string; series: number; points: number }[];
}

/** Opens a report file at laptop width and waits for its charts, collecting errors and requests. */
async function openReport(browser: Browser, file: string): Promise<OpenedReport> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('request', (req) => requests.push(req.url()));
  await page.goto(pathToFileURL(file).href);
  await page.waitForFunction(
    () => (window as unknown as { podbenchCharts?: unknown }).podbenchCharts !== undefined,
    null,
    { timeout: 15_000 },
  );
  const charts = await page.evaluate(
    () => (window as unknown as { podbenchCharts: OpenedReport['charts'] }).podbenchCharts,
  );
  return { page, errors, requests, charts };
}

describe('HTML report in headless Chromium', () => {
  let browser: Browser;
  let dir: string;
  let reportUrl: string;

  before(async () => {
    assert.ok(
      existsSync(CHROMIUM),
      `Chromium is needed at ${CHROMIUM} (apt-get install chromium; npm run test:ci installs it)`,
    );
    dir = mkdtempSync(join(tmpdir(), 'pbtest-'));
    const r = await runCli(['report', FIXTURE, '--format', 'html', '-o', join(dir, 'report.html')]);
    assert.equal(r.code, 0, r.stderr);
    reportUrl = pathToFileURL(join(dir, 'report.html')).href;
    mkdirSync(SHOTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--no-first-run',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  after(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const [scheme, width] of [
    ['light', 1280],
    ['dark', 1280],
    ['light', 900],
  ] as const) {
    it(`${scheme} scheme at ${width} px: charts drawn, nothing fetched, no errors`, async () => {
      const page = await browser.newPage({ viewport: { width, height: 900 }, colorScheme: scheme });
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('request', (req) => requests.push(req.url()));
      await page.goto(reportUrl);
      await page.waitForFunction(
        () => (window as unknown as { podbenchCharts?: unknown }).podbenchCharts !== undefined,
        null,
        { timeout: 15_000 },
      );
      const charts = await page.evaluate(
        () =>
          (window as unknown as { podbenchCharts: { id: string; series: number; points: number }[] }).podbenchCharts,
      );
      // Three sizes of latency charts and one throughput chart, each with every channel's line.
      assert.deepEqual(
        charts.map((c) => c.id),
        ['latency-64', 'latency-1024', 'latency-16384', 'throughput'],
      );
      for (const c of charts) assert.ok(c.series >= 2 && c.points >= c.series * 2, JSON.stringify(c));
      // Drawn, not just created: each chart's canvas holds many colours (lines, grid, text).
      const colours = await page.evaluate(() =>
        Array.from(document.querySelectorAll('.chart canvas')).map((canvas) => {
          const c = canvas as HTMLCanvasElement;
          const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
          const seen = new Set<number>();
          for (let i = 0; i < data.length; i += 16) seen.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
          return seen.size;
        }),
      );
      assert.equal(colours.length, 4);
      for (const n of colours) assert.ok(n > 10, `a chart canvas has only ${n} colours`);
      assert.deepEqual(errors, []);
      assert.deepEqual(
        requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:')),
        [],
        'nothing fetched from the network',
      );
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `the page is ${overflow} px wider than the window`);
      const shot = join(SHOTS, `report-${scheme}-${width}.png`);
      await page.screenshot({ path: shot, fullPage: true });
      assert.ok(statSync(shot).size > 20_000);
      await page.close();
    });
  }

  it('compare -o html: the same charts with one line per run', async () => {
    const r = await runCli(['compare', FIXTURE, FIXTURE, '-o', 'html']);
    assert.equal(r.code, 0, r.stderr);
    writeFileSync(join(dir, 'compare.html'), r.stdout);
    const { page, errors, requests, charts } = await openReport(browser, join(dir, 'compare.html'));
    assert.ok(
      charts.some((c) => c.id === 'latency-shm-64') && charts.some((c) => c.id === 'throughput-uds'),
      JSON.stringify(charts.map((c) => c.id)),
    );
    for (const c of charts) assert.ok(c.series === 2 && c.points > 0, JSON.stringify(c));
    assert.deepEqual(errors, []);
    assert.deepEqual(
      requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:')),
      [],
    );
    assert.match((await page.textContent('body')) ?? '', /0 slower, 0 faster/);
    await page.screenshot({ path: join(SHOTS, 'compare.png'), fullPage: true });
    await page.close();
  });

  it('a run with protocol cases: the protocol-cost tables and each pair of histograms drawn', async () => {
    const fixture = JSON.parse(readFileSync(FIXTURE, 'utf8')) as ResultsDocument;
    const file = join(dir, 'protocol.json');
    writeFileSync(file, JSON.stringify(withProtocolCases(fixture, [40_000, 60_000])));
    const r = await runCli(['report', file, '--format', 'html', '-o', join(dir, 'protocol.html')]);
    assert.equal(r.code, 0, r.stderr);
    const { page, errors, charts } = await openReport(browser, join(dir, 'protocol.html'));
    const pairs = charts.filter((c) => c.id.startsWith('cost-'));
    assert.deepEqual(
      pairs.map((c) => c.id),
      ['cost-http1-uds-latency-64', 'cost-http1-uds-latency-1024', 'cost-http1-uds-latency-16384'],
    );
    for (const c of pairs) assert.ok(c.series === 2 && c.points >= 4, JSON.stringify(c));
    const section = (await page.textContent('body')) ?? '';
    assert.match(section, /Protocol cost/);
    assert.match(section, /\+50\.0 µs \(\+40\.0 to \+60\.0 µs over 2 repeats\)/);
    assert.deepEqual(errors, []);
    await page.screenshot({ path: join(SHOTS, 'protocol-cost.png'), fullPage: true });
    await page.close();
  });

  it('a run with rate and connection cases: the Under load section and the charts against rate and connections', async () => {
    const rate = JSON.parse(readFileSync(RATE_FIXTURE, 'utf8')) as ResultsDocument;
    const base = JSON.parse(readFileSync(FIXTURE, 'utf8')) as ResultsDocument;
    // The fixture's latency cases once more as if over four connections: a second count to chart against.
    const four = base.cases
      .filter((c) => c.mode === 'latency')
      .map((c) => ({ ...c, index: c.index + 1000, connections: 4 }));
    const file = join(dir, 'rate.json');
    writeFileSync(file, JSON.stringify({ ...rate, cases: [...rate.cases, ...base.cases, ...four] }));
    const r = await runCli(['report', file, '--format', 'html', '-o', join(dir, 'rate.html')]);
    assert.equal(r.code, 0, r.stderr);
    const { page, errors, charts } = await openReport(browser, join(dir, 'rate.html'));
    const byId = new Map(charts.map((c) => [c.id, c]));
    // Four curves (tcp, tcp ×2, shm, shm ×2): p50, p99 and p99.9 each, and the knees found.
    assert.ok(
      byId.get('rate-64')!.series >= 12 && byId.get('rate-64')!.points >= 24,
      JSON.stringify(byId.get('rate-64')),
    );
    assert.equal(byId.get('rate-cpu-64')?.series, 8);
    assert.ok(byId.get('rate-cpu-64')!.points >= 16);
    const againstConnections = charts.filter((c) => c.id.startsWith('connections-latency-'));
    assert.ok(againstConnections.length > 0, 'charts against connections');
    for (const c of againstConnections) assert.ok(c.points > 0, JSON.stringify(c));
    const body = (await page.textContent('body')) ?? '';
    assert.match(body, /Under load \(rate mode\)/);
    assert.match(body, /Knee of shm ×2 at 64 B: /);
    assert.deepEqual(errors, []);
    await page.screenshot({ path: join(SHOTS, 'rate.png'), fullPage: true });
    await page.close();
  });
});
