/**
 * The HTML report: one self-contained file (styles, the charting library and the data inline;
 * nothing is fetched when it opens, so it works offline and as a CI artifact).
 *
 * Charts use uPlot, inlined: ~50 KB, no dependencies, canvas-based (thousands of points stay
 * fast) and with logarithmic axes, which both charts need — the HdrHistogram-style latency chart
 * puts percentiles on a "nines" axis (1/(1−p) on a log scale: 0 %, 90 %, 99 %, 99.9 % …) and the
 * throughput chart spans sizes and rates over orders of magnitude.
 *
 * A pure function of the results document and the library's text.
 */
import * as hdr from 'hdr-histogram-js';
import { CHANNELS, type ChannelId } from '../agents/contract/channels.js';
import { ALL_SUMMARY_FIELDS, MODES, MODE_IDS, primaryFigure, type ModeId } from '../agents/contract/modes.js';
import type { ResultsDocument } from '../agents/contract/schema.js';
import { groupCases, lossyCases, seriesName, warnedCases, type CaseGroup } from './case-groups.js';
import { SUMMARY_FIELDS, figureField, headlines, isWinner, winners } from './figures.js';
import { capitalised, caseLabel, escapeHtml, formatCpuUs, formatRate, formatSize, orDash } from './format.js';
import { COST_NOTE, costTables, protocolCosts, type ProtocolCost } from './protocol-cost.js';
import {
  RATE_HEADERS,
  RATE_NOTE,
  curveName,
  describeKnee,
  latencyLimitMsOf,
  rateCurves,
  rateRows,
  type RateCurve,
  type RatePoint,
} from './rate-curve.js';

/** The charting library's files, read by the caller (reports stay free of I/O). */
export interface ChartAssets {
  readonly uplotJs: string;
  readonly uplotCss: string;
}

/** The "nines" grid: 1/(1−p) = 10^(k/10), from the median… to 99.999 %. */
const NINES = Array.from({ length: 51 }, (_, k) => 10 ** (k / 10));

/** All repeats' round trips of a group, merged. */
function mergedHistogram(g: CaseGroup): hdr.Histogram | undefined {
  const parts = g.ok.flatMap((c) => (c.histogram ? [hdr.decodeFromCompressedBase64(c.histogram)] : []));
  if (!parts.length) return undefined;
  const merged = parts[0]!;
  for (const h of parts.slice(1)) merged.add(h);
  return merged;
}

/**
 * A chart: `nines`, a mode's round trips at each percentile (from histograms), or `by-size`, a
 * mode's headline figure against message size.
 */
interface ChartSpec {
  readonly id: string;
  readonly title: string;
  readonly kind: 'nines' | 'by-size' | 'protocol' | 'rate' | 'by-connections';
  /** The y axis's label (by-size charts: the figure's unit). */
  readonly yLabel: string;
  readonly x: number[];
  /** `dash`: a line pattern (lines of one channel told apart); `pointsOnly`: marks without a line (the knee). */
  readonly series: {
    label: string;
    colour: string;
    values: (number | null)[];
    dash?: number[];
    pointsOnly?: boolean;
  }[];
}

/** The line of one group on a nines chart, in µs; undefined without histograms. */
function ninesLine(g: CaseGroup): (number | null)[] | undefined {
  const h = mergedHistogram(g);
  // Beyond 1/(1−p) > count the percentile is just the maximum again: stop the line there.
  return h && NINES.map((x) => (x <= h.totalCount ? h.getValueAtPercentile(100 * (1 - 1 / x)) / 1000 : null));
}

/** A channel's colour from the registry (grey for a channel this podbench does not know). */
const colourOf = (channel: string) =>
  Object.hasOwn(CHANNELS, channel) ? CHANNELS[channel as ChannelId].colour : '#888';

/**
 * The modes whose cases record round trips at one load (nines charts), and the others (by-size
 * charts); paced modes have rate charts.
 */
const NINES_MODES = MODE_IDS.filter((m) => MODES[m].recordsRoundTrips && !MODES[m].paced);
const BY_SIZE_MODES = MODE_IDS.filter((m) => !MODES[m].recordsRoundTrips);

const DASH = { p50: [6, 4], p99: undefined, p999: [2, 3] } as const;

/**
 * Per size, two charts against the achieved rate: latency (p50 dashed, p99 solid, p99.9 dotted,
 * the knees marked) and CPU per message (initiator solid, responder dashed), a colour per channel.
 */
function rateCharts(curves: readonly RateCurve[]): ChartSpec[] {
  return [...new Set(curves.map((c) => c.sizeBytes))]
    .sort((a, b) => a - b)
    .flatMap((size) => {
      // A rate that measured nothing has no place on a chart against the rate achieved.
      const ofSize = curves
        .filter((c) => c.sizeBytes === size)
        .map((c) => ({ ...c, points: c.points.filter((p) => !p.failed) }));
      const x = [...new Set(ofSize.flatMap((c) => c.points.map((p) => p.achievedPerSec)))].sort((a, b) => a - b);
      const at = (c: RateCurve, read: (p: RatePoint) => number | undefined) =>
        x.map((rate) => {
          const p = c.points.find((q) => q.achievedPerSec === rate);
          return p ? (read(p) ?? null) : null;
        });
      const latency = ofSize.flatMap((c) => [
        ...(['p50', 'p99', 'p999'] as const).map((p) => ({
          label: `${curveName(c)} ${p === 'p999' ? 'p99.9' : p}`,
          colour: colourOf(c.channel),
          values: at(c, (q) => {
            const ns = p === 'p50' ? q.group.p50Ns : p === 'p99' ? q.group.p99Ns : q.group.p999Ns;
            return ns === undefined ? undefined : ns / 1000;
          }),
          ...(DASH[p] ? { dash: [...DASH[p]] } : {}),
        })),
      ]);
      const knees = ofSize.flatMap((c) =>
        c.knee
          ? [
              {
                label: `${curveName(c)} knee ${formatRate(c.knee.targetPerSec)}`,
                colour: colourOf(c.channel),
                values: at(c, (q) => (q === c.knee && q.group.p99Ns !== undefined ? q.group.p99Ns / 1000 : undefined)),
                pointsOnly: true,
              },
            ]
          : [],
      );
      const cpu = ofSize.flatMap((c) => [
        {
          label: `${curveName(c)} initiator`,
          colour: colourOf(c.channel),
          values: at(c, (q) => q.group.cpuUs?.initiator),
        },
        {
          label: `${curveName(c)} responder`,
          colour: colourOf(c.channel),
          values: at(c, (q) => q.group.cpuUs?.responder),
          dash: [6, 4],
        },
      ]);
      return [
        {
          id: `rate-${size}`,
          title: `Latency against achieved rate at ${formatSize(size)}`,
          kind: 'rate' as const,
          yLabel: 'latency (µs)',
          x,
          series: [...latency, ...knees],
        },
        {
          id: `rate-cpu-${size}`,
          title: `CPU per message against achieved rate at ${formatSize(size)}`,
          kind: 'rate' as const,
          yLabel: 'CPU µs/msg',
          x,
          series: cpu,
        },
      ];
    });
}

/**
 * Per unpaced mode and size where the run has several connection counts: the mode's figures
 * against connections, a line per channel (latency: p50 dashed, p99 solid; throughput: its rate).
 */
function connectionCharts(groups: readonly CaseGroup[]): ChartSpec[] {
  return MODE_IDS.filter((m) => !MODES[m].paced).flatMap((mode) => {
    const ofMode = groups.filter((g) => g.mode === mode && g.ok.length);
    return sortedSizes(ofMode).flatMap((size) => {
      const ofSize = ofMode.filter((g) => g.sizeBytes === size);
      const x = [...new Set(ofSize.map((g) => g.connections ?? 1))].sort((a, b) => a - b);
      if (x.length < 2) return [];
      const figures = MODES[mode].recordsRoundTrips ? (['p50', 'p99'] as const) : ([primaryFigure(mode)] as const);
      const series = [...new Set(ofSize.map((g) => g.channel))].flatMap((channel) =>
        figures.map((figure) => {
          const field = figureField(figure);
          return {
            label: figures.length > 1 ? `${channel} ${figure}` : channel,
            colour: colourOf(channel),
            values: x.map((n) => {
              const g = ofSize.find((q) => q.channel === channel && (q.connections ?? 1) === n);
              const v = g && field.ofGroup(g);
              return v === undefined ? null : field.inUnit(v);
            }),
            ...(figure === 'p50' ? { dash: [6, 4] } : {}),
          };
        }),
      );
      const unit = figureField(figures[figures.length - 1]!).unit;
      return [
        {
          id: `connections-${mode}-${size}`,
          title: `${MODES[mode].chartTitle} against connections at ${formatSize(size)}`,
          kind: 'by-connections' as const,
          yLabel: MODES[mode].recordsRoundTrips ? 'round trip (µs)' : unit,
          x,
          series,
        },
      ];
    });
  });
}

/** The rate section: knees, the table, the charts (empty without rate cases). */
function rateSection(doc: ResultsDocument, curves: readonly RateCurve[], charts: readonly ChartSpec[]): string {
  if (!curves.length) return '';
  const limitMs = latencyLimitMsOf(doc);
  const knees = curves.map(
    (c) =>
      `<li>Knee of <strong>${escapeHtml(curveName(c))}</strong> at ${formatSize(c.sizeBytes)}: ` +
      `${escapeHtml(describeKnee(c, limitMs))}</li>`,
  );
  const rows = rateRows(curves).map(
    (r) =>
      `<tr${r[4] === 'held' ? '' : ' class="not-held"'}>` +
      `${r.map((cell, i) => `<td${i > 1 ? ' class="num"' : ''}>${escapeHtml(cell)}</td>`).join('')}</tr>`,
  );
  return `<h2>Under load (rate mode)</h2>
<ul class="headline">${knees.join('')}</ul>
<table><thead><tr>${RATE_HEADERS.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>
<p class="note">${escapeHtml(RATE_NOTE)}</p>
${chartDivs(charts, 'rate', '')}`;
}

/** Text made safe inside an element id. */
const idPart = (text: string) => text.replace(/[^a-z0-9-]/gi, '-');

const sortedSizes = (groups: readonly CaseGroup[]) =>
  [...new Set(groups.map((g) => g.sizeBytes))].sort((a, b) => a - b);

/** One nines chart per mode and size, a line per channel. */
function ninesCharts(groups: CaseGroup[]): ChartSpec[] {
  return NINES_MODES.flatMap((mode) => {
    const ofMode = groups.filter((g) => g.mode === mode);
    return sortedSizes(ofMode).flatMap((size) => {
      const series = ofMode
        .filter((g) => g.sizeBytes === size)
        .flatMap((g) => {
          const values = ninesLine(g);
          return values ? [{ label: seriesName(g), colour: colourOf(g.channel), values }] : [];
        });
      return series.length
        ? [
            {
              id: `${mode}-${size}`,
              title: `${MODES[mode].chartTitle} at ${formatSize(size)}`,
              kind: 'nines' as const,
              yLabel: 'round trip (µs)',
              x: NINES,
              series,
            },
          ]
        : [];
    });
  });
}

/** The two histograms of each protocol latency case: the protocol's line beside its raw channel's. */
function protocolCharts(costs: readonly ProtocolCost[]): ChartSpec[] {
  return costs.flatMap((c) => {
    const mine = ninesLine(c.protocol);
    const raw = c.raw && ninesLine(c.raw);
    if (!mine || !raw) return [];
    const what = `${MODES[c.protocol.mode].chartTitle.toLowerCase()} at ${formatSize(c.protocol.sizeBytes)}`;
    return [
      {
        id: `cost-${c.protocol.key.replace(/[^a-z0-9-]/gi, '-')}`,
        title: `${c.protocol.channel} over ${c.rawChannel}: ${what}`,
        kind: 'protocol' as const,
        yLabel: 'round trip (µs)',
        x: NINES,
        series: [
          { label: c.protocol.channel, colour: colourOf(c.protocol.channel), values: mine },
          { label: c.rawChannel, colour: colourOf(c.rawChannel), values: raw },
        ],
      },
    ];
  });
}

/** The protocol-cost section: its tables, then the histograms side by side (empty without protocol cases). */
function protocolCostSection(costs: readonly ProtocolCost[], charts: readonly ChartSpec[]): string {
  if (!costs.length) return '';
  const head = (headers: readonly string[]) => headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  // The protocol and the raw channel read as text; every other column is a figure.
  const cells = (row: readonly string[]) =>
    row.map((cell, i) => `<td${i > 1 ? ' class="num"' : ''}>${escapeHtml(cell)}</td>`).join('');
  const tables = costTables(costs).map(
    (t) =>
      `<h3>${escapeHtml(t.title)}</h3><table><thead><tr>${head(t.headers)}</tr></thead>` +
      `<tbody>${t.rows.map((r) => `<tr>${cells(r)}</tr>`).join('')}</tbody></table>`,
  );
  return `<h2>Protocol cost</h2>
<p class="note">${escapeHtml(COST_NOTE)}</p>
${tables.join('\n')}
${chartDivs(charts, 'protocol', '')}`;
}

/** One chart per mode: its headline figure against message size, a line per channel. */
function bySizeCharts(groups: CaseGroup[]): ChartSpec[] {
  return BY_SIZE_MODES.flatMap((mode) => {
    const field = figureField(primaryFigure(mode));
    const measured = groups.filter((g) => g.mode === mode && field.ofGroup(g) !== undefined);
    if (!measured.length) return [];
    const sizes = sortedSizes(measured);
    const lines = [...new Map(measured.map((g) => [seriesName(g), g.channel])).entries()];
    return [
      {
        id: mode,
        title: `${MODES[mode].chartTitle} against message size`,
        kind: 'by-size' as const,
        yLabel: field.unit,
        x: sizes,
        series: lines.map(([name, channel]) => ({
          label: name,
          colour: colourOf(channel),
          values: sizes.map((s) => {
            const g = measured.find((x) => seriesName(x) === name && x.sizeBytes === s);
            const v = g && field.ofGroup(g);
            return v === undefined ? null : field.inUnit(v);
          }),
        })),
      },
    ];
  });
}

/** Every summary field any mode shows: the summary table's figure columns. */
const FIELDS = ALL_SUMMARY_FIELDS.map((f) => SUMMARY_FIELDS[f]);

function summaryTable(groups: CaseGroup[]): string {
  const best = winners(groups);
  const rows = groups
    .filter((g) => g.ok.length && !MODES[g.mode].paced) // rate cases have their own section
    .map((g) => {
      const won = isWinner(best, g);
      const cells = [
        `${escapeHtml(seriesName(g))}` + `${won ? ' <span class="best" title="best at this size">★</span>' : ''}`,
        g.mode,
        formatSize(g.sizeBytes),
        ...FIELDS.map((f) => orDash(f.ofGroup(g), f.show)),
        orDash(g.cpuUs?.initiator, formatCpuUs),
        orDash(g.cpuUs?.responder, formatCpuUs),
      ];
      return `<tr${won ? ' class="best-row"' : ''}>${cells.map((c, i) => `<td${i > 2 ? ' class="num"' : ''}>${c}</td>`).join('')}</tr>`;
    });
  const head = [
    'channel',
    'mode',
    'size',
    ...FIELDS.map((f) => f.header),
    'CPU µs/msg initiator',
    'CPU µs/msg responder',
  ];
  return `<table><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function keyValues(entries: [string, unknown][]): string {
  const shown = (v: unknown) => escapeHtml(typeof v === 'object' ? JSON.stringify(v) : String(v ?? '–'));
  return `<dl>${entries.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${shown(v)}</dd>`).join('')}</dl>`;
}

function environmentSection(doc: ResultsDocument): string {
  const env = doc.environment;
  const placement = doc.cases.find((c) => c.placement)?.placement;
  const parts = [
    env
      ? keyValues([
          ['host / pod', env.hostname],
          ['CPU', `${env.cpuModel} × ${env.cpuCount}`],
          ['kernel', env.kernel],
          ['Node', env.nodeVersion],
          ['cgroup CPU limit (cores)', env.cgroup.cpuLimitCores ?? 'none'],
          ['cgroup memory limit', env.cgroup.memoryLimitBytes ?? 'none'],
          ['/dev/shm bytes', env.devShmBytes],
          ...Object.entries(env.limits),
          ...Object.entries(env.dirs).map(([k, d]) => [`${k} dir`, `${d.path} (${d.fsType})`] as [string, unknown]),
          ...(placement
            ? ([
                ['initiator CPUs (first case)', placement.initiator.allowedCpus.join(',')],
                ['responder CPUs (first case)', placement.responder.allowedCpus.join(',')],
              ] as [string, unknown][])
            : []),
        ])
      : '<p>No environment was recorded.</p>',
  ];
  const floor = doc.harnessFloor;
  if (floor) {
    parts.push(
      '<h3>Harness floor (cost of measuring, per operation)</h3>',
      keyValues([
        ['clock read ns', floor.clockReadNs],
        ['empty interval ns (median)', floor.emptyIntervalNs ?? '-'],
        ['sample store ns', floor.sampleStoreNs ?? '-'],
        ['histogram record ns', floor.histogramRecordNs],
        ['one FFI call ns', floor.ffiCallNs],
        ...(floor.pacer
          ? ([
              [
                `pacer send lag ns at ${formatRate(floor.pacer.ratePerSec)}, p50 / p99`,
                `${floor.pacer.sendLagP50Ns} / ${floor.pacer.sendLagP99Ns}`,
              ],
              ['pacer CPU per wait ns', floor.pacer.cpuPerWaitNs],
            ] as [string, unknown][])
          : []),
        ...Object.entries(floor.payloadCopyNs).map(
          ([s, ns]) => [`copy ${formatSize(Number(s))} ns`, ns] as [string, unknown],
        ),
      ]),
    );
  }
  parts.push('<h3>Options</h3>', keyValues(Object.entries(doc.run.settings)));
  return parts.join('\n');
}

function notMeasured(doc: ResultsDocument): string {
  const rows = doc.cases.filter((c) => c.status !== 'ok');
  const missing = doc.run.plannedCases - doc.cases.length;
  if (!rows.length && !missing) return '<p>Every case was measured.</p>';
  const table = rows.length
    ? `<table><thead><tr><th>case</th><th>status</th><th>reason</th></tr></thead><tbody>${rows
        .map(
          (c) =>
            `<tr><td>${escapeHtml(caseLabel(c))}</td><td>${c.status}</td><td>${escapeHtml(c.reason ?? '')}</td></tr>`,
        )
        .join('')}</tbody></table>`
    : '';
  const why = escapeHtml(doc.run.incompleteReason ?? 'the run did not finish');
  const noResult = missing ? `<p>${missing} planned case(s) have no result: ${why}.</p>` : '';
  return `${table}${noResult}`;
}

function losses(doc: ResultsDocument): string {
  const lossy = lossyCases(doc);
  if (!lossy.length) return '';
  const rows = lossy.map((l) => `<tr><td>${escapeHtml(caseLabel(l.case))}</td><td>${escapeHtml(l.loss)}</td></tr>`);
  return (
    '<h2>Losses</h2>\n<p>Datagram channels count what was lost, reordered or duplicated instead of failing.</p>\n' +
    `<table><thead><tr><th>case</th><th>losses</th></tr></thead><tbody>${rows.join('')}</tbody></table>`
  );
}

function warnings(doc: ResultsDocument): string {
  const warned = warnedCases(doc);
  if (!warned.length) return '';
  const rows = warned.map((w) => `<tr><td>${escapeHtml(caseLabel(w.case))}</td><td>${escapeHtml(w.warning)}</td></tr>`);
  return `<table><thead><tr><th>case</th><th>warning</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** The script that draws the charts in the browser (uPlot is inlined before it). */
const CHART_SCRIPT = `
(() => {
  const charts = JSON.parse(document.getElementById('podbench-charts').textContent);
  const css = getComputedStyle(document.documentElement);
  const ink = css.getPropertyValue('--ink').trim(), grid = css.getPropertyValue('--grid').trim();
  const nines = (x) => {
    const p = 100 * (1 - 1 / x);
    return p === 0 ? '0%' : (p >= 99 ? p.toFixed(Math.max(0, Math.round(Math.log10(x)) - 2)) : p.toFixed(0)) + '%';
  };
  const size = (b) => b >= 1048576 ? (b / 1048576) + ' MiB' : b >= 1024 ? (b / 1024) + ' KiB' : b + ' B';
  const drawn = [];
  for (const c of charts) {
    const el = document.getElementById(c.id);
    const axis = { stroke: ink, grid: { stroke: grid }, ticks: { stroke: grid } };
    const latency = c.kind === 'nines' || c.kind === 'protocol', rate = c.kind === 'rate';
    const conns = c.kind === 'by-connections';
    const xText = (v) => (v == null ? '' : latency ? nines(v) : rate ? Math.round(v).toLocaleString('en-US') + '/s'
      : conns ? String(v) : size(v));
    const opts = {
      width: Math.max(320, el.clientWidth), height: 320,
      scales: { x: { time: false, distr: 3, log: latency || rate ? 10 : 2 }, y: { distr: 3, log: 10 } },
      axes: [
        { ...axis, label: latency ? 'percentile' : rate ? 'achieved rate (messages/s)' : conns ? 'connections' : 'message size',
          values: (u, vals) => vals.map(xText) },
        { ...axis, label: c.yLabel, size: 70 },
      ],
      series: [{ label: latency ? 'percentile' : rate ? 'rate' : conns ? 'connections' : 'size', value: (u, v) => xText(v) },
        ...c.series.map((s) => ({ label: s.label, stroke: s.colour, width: s.pointsOnly ? 0 : 2, dash: s.dash,
          points: { show: !latency, size: s.pointsOnly ? 12 : 5 }, spanGaps: rate }))],
    };
    const plot = new uPlot(opts, [c.x, ...c.series.map((s) => s.values)], el);
    drawn.push({ id: c.id, series: c.series.length,
      points: c.series.reduce((n, s) => n + s.values.filter((v) => v != null).length, 0) });
    new ResizeObserver(() => plot.setSize({ width: Math.max(320, el.clientWidth), height: 320 })).observe(el);
  }
  window.podbenchCharts = drawn;
})();`;

const STYLE = `
:root { --bg: #ffffff; --ink: #1d2330; --muted: #5b6475; --grid: #e3e6ec; --row: #f6f7f9; --best: #fff4cc;
  --regression: #fde2e1; color-scheme: light dark; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #14171d; --ink: #e6e9ef; --muted: #9aa3b2; --grid: #2c323d; --row: #1b1f27; --best: #3a3318;
    --regression: #4a2022; }
}
body { background: var(--bg); color: var(--ink); font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
  margin: 0 auto; max-width: 1100px; padding: 1.5rem; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid var(--grid); padding-bottom: .25rem; }
h3 { font-size: 1rem; }
.meta, .note { color: var(--muted); } ul.headline { padding-left: 1.2rem; } ul.headline li { margin: .15rem 0; }
table { border-collapse: collapse; width: 100%; font-size: 13px; display: block; overflow-x: auto; }
th, td { padding: .3rem .5rem; border-bottom: 1px solid var(--grid); text-align: left; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:nth-child(even) { background: var(--row); } tr.best-row { background: var(--best) !important; } .best { color: #d4a000; }
tr.regression { background: var(--regression) !important; } tr.not-held td { color: var(--muted); font-style: italic; }
.chart { margin: 1rem 0 1.5rem; } .chart h3 { margin: 0 0 .25rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; font-size: 13px; }
dt { color: var(--muted); } dd { margin: 0; overflow-wrap: anywhere; }
.uplot, .u-legend { color: var(--ink); }`;

/** The page around the content: styles, library, chart data and the drawing script. */
function page(title: string, body: string, charts: readonly ChartSpec[], assets: ChartAssets): string {
  const data = JSON.stringify(charts).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${assets.uplotCss}</style><style>${STYLE}</style></head>
<body>
<h1>${escapeHtml(title)}</h1>
${body}
<script type="application/json" id="podbench-charts">${data}</script>
<script>${assets.uplotJs}</script>
<script>${CHART_SCRIPT}</script>
</body></html>
`;
}

const chartDivs = (charts: readonly ChartSpec[], kind: ChartSpec['kind'], none: string) =>
  charts
    .filter((c) => c.kind === kind)
    .map((c) => `<div class="chart"><h3>${escapeHtml(c.title)}</h3><div id="${c.id}"></div></div>`)
    .join('\n') || `<p>${none}</p>`;

/** The HTML report. */
export function renderHtml(doc: ResultsDocument, assets: ChartAssets): string {
  const groups = groupCases(doc);
  const costs = protocolCosts(doc);
  const curves = rateCurves(doc);
  const charts = [
    ...ninesCharts(groups),
    ...bySizeCharts(groups),
    ...connectionCharts(groups),
    ...protocolCharts(costs),
    ...rateCharts(curves),
  ];
  const title = `podbench results${doc.run.label ? `: ${doc.run.label}` : ''}`;
  const headline = headlines(winners(groups)).map(
    (h) =>
      `${capitalised(h.best)} at ${formatSize(h.sizeBytes)}: <strong>${escapeHtml(h.channel)}</strong> (${h.figure})`,
  );
  const repeats = Math.max(1, ...doc.cases.map((c) => c.repeat + 1));
  const incomplete = doc.run.complete ? '' : ` (incomplete: ${escapeHtml(doc.run.incompleteReason ?? 'interrupted')})`;
  const medians = repeats > 1 ? ` · medians of ${repeats} repeats` : '';
  const meta =
    `Run ${escapeHtml(doc.run.id)} on target ${escapeHtml(doc.run.target)}, ${escapeHtml(doc.run.startedAt)} · ` +
    `${doc.cases.length} of ${doc.run.plannedCases} cases${incomplete}${medians} · ` +
    `podbench ${escapeHtml(doc.run.podbenchVersion)}`;
  const summaryNote =
    '★ best at that size. Latency is the round trip in microseconds; ' +
    'MB/s is 10⁶ bytes per second as the receiver counted; ' +
    'CPU is user + system time per message (per round trip in latency mode).';
  const body = `<p class="meta">${meta}</p>
${headline.length ? `<ul class="headline">${headline.map((h) => `<li>${h}</li>`).join('')}</ul>` : ''}
<h2>Summary</h2>
${summaryTable(groups)}
<p class="note">${summaryNote}</p>
<h2>Latency distribution</h2>
<p class="note">HdrHistogram style: the round trip at each percentile, on a logarithmic "nines" axis; all repeats merged.</p>
${chartDivs(charts, 'nines', 'No latency cases.')}
<h2>Throughput</h2>
${chartDivs(charts, 'by-size', 'No throughput cases.')}
${charts.some((c) => c.kind === 'by-connections') ? `<h2>Against connections</h2>\n${chartDivs(charts, 'by-connections', '')}` : ''}
${rateSection(doc, curves, charts)}
${protocolCostSection(costs, charts)}
<h2>Skipped and failed cases</h2>
${notMeasured(doc)}
${losses(doc)}
${warnedCases(doc).length ? `<h2>Warnings</h2>\n${warnings(doc)}` : ''}
<h2>Environment</h2>
${environmentSection(doc)}`;
  return page(title, body, charts, assets);
}

/** A run in a comparison: its name and document. */
export interface NamedRun {
  readonly name: string;
  readonly doc: ResultsDocument;
}

/** Line styles that tell runs apart when the colour is the channel's. */
const RUN_COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

/**
 * The comparison as HTML: the verdict table, then the same charts with one line per run — a
 * nines chart per channel and size, and throughput against size per channel.
 */
export function renderCompareHtml(runs: readonly NamedRun[], verdictTable: string, assets: ChartAssets): string {
  const grouped = runs.map((r) => ({ name: r.name, groups: groupCases(r.doc) }));
  const all = grouped.flatMap((r) => r.groups);
  const channelsOf = (mode: ModeId) => [...new Set(all.filter((g) => g.mode === mode).map(seriesName))];
  const runColour = (i: number) => RUN_COLOURS[i % RUN_COLOURS.length]!;
  const charts: ChartSpec[] = [];
  for (const mode of NINES_MODES) {
    for (const channel of channelsOf(mode)) {
      for (const size of sortedSizes(all.filter((g) => g.mode === mode && seriesName(g) === channel))) {
        const series = grouped.flatMap((r, i) => {
          const g = r.groups.find((x) => seriesName(x) === channel && x.mode === mode && x.sizeBytes === size);
          const values = g && ninesLine(g);
          return values ? [{ label: r.name, colour: runColour(i), values }] : [];
        });
        const title = `${channel}: ${MODES[mode].chartTitle.toLowerCase()} at ${formatSize(size)}`;
        if (series.length)
          charts.push({
            id: `${mode}-${idPart(channel)}-${size}`,
            title,
            kind: 'nines',
            yLabel: 'round trip (µs)',
            x: NINES,
            series,
          });
      }
    }
  }
  for (const mode of BY_SIZE_MODES) {
    const field = figureField(primaryFigure(mode));
    for (const channel of channelsOf(mode)) {
      const sizes = sortedSizes(all.filter((g) => g.mode === mode && seriesName(g) === channel));
      const series = grouped.map((r, i) => ({
        label: r.name,
        colour: runColour(i),
        values: sizes.map((s) => {
          const g = r.groups.find((x) => seriesName(x) === channel && x.mode === mode && x.sizeBytes === s);
          const v = g && field.ofGroup(g);
          return v === undefined ? null : field.inUnit(v);
        }),
      }));
      const title = `${channel}: ${MODES[mode].chartTitle.toLowerCase()} against message size`;
      charts.push({ id: `${mode}-${idPart(channel)}`, title, kind: 'by-size', yLabel: field.unit, x: sizes, series });
    }
  }
  const runsShown = runs.map((r) =>
    escapeHtml(`${r.name} (run ${r.doc.run.id}, ${r.doc.run.target}, ${r.doc.run.startedAt})`),
  );
  const body = `<p class="meta">${runsShown.join(' · ')}</p>
${verdictTable}
<h2>Latency distribution, one line per run</h2>
${chartDivs(charts, 'nines', 'No latency cases in common.')}
<h2>Throughput, one line per run</h2>
${chartDivs(charts, 'by-size', 'No throughput cases.')}`;
  return page(`podbench comparison: ${runs.map((r) => r.name).join(' vs ')}`, body, charts, assets);
}
