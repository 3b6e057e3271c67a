/**
 * The Mann–Whitney U test, in the two forms `compare` needs: exact, over a handful of per-repeat
 * values, and with the normal approximation (tie-corrected), over whole latency histograms —
 * thousands of round trips given as value → count.
 */

/** Two-sided p-value and the U statistic of the first sample. */
export interface MannWhitney {
  readonly u: number;
  readonly p: number;
}

/** Number of ways m + n ranks give U = u for the first sample (no ties), memoised. */
function countArrangements(m: number, n: number, u: number, memo: Map<string, number>): number {
  if (u < 0 || u > m * n) return 0;
  if (m === 0 || n === 0) return u === 0 ? 1 : 0;
  const key = `${m},${n},${u}`;
  const hit = memo.get(key);
  if (hit !== undefined) return hit;
  // The largest value belongs to the first sample (it beats all n others) or to the second.
  const value = countArrangements(m - 1, n, u - n, memo) + countArrangements(m, n - 1, u, memo);
  memo.set(key, value);
  return value;
}

/** The binomial coefficient C(n, k). */
export function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

/** U for sample `a` against `b` (ties count one half). */
function uStatistic(a: readonly number[], b: readonly number[]): number {
  let u = 0;
  for (const x of a) for (const y of b) u += x > y ? 1 : x === y ? 0.5 : 0;
  return u;
}

/** Exact two-sided Mann–Whitney U test for small samples (ties fall back to the approximation). */
export function mannWhitneyExact(a: readonly number[], b: readonly number[]): MannWhitney {
  const m = a.length;
  const n = b.length;
  const u = uStatistic(a, b);
  const tied = new Set([...a, ...b]).size < m + n;
  if (tied || m * n > 400) return mannWhitneyCounts(toCounts(a), toCounts(b));
  const memo = new Map<string, number>();
  const total = binomial(m + n, m);
  const extreme = Math.min(u, m * n - u);
  let tail = 0;
  for (let k = 0; k <= extreme; k++) tail += countArrangements(m, n, k, memo);
  return { u, p: Math.min(1, (2 * tail) / total) };
}

function toCounts(values: readonly number[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
}

/** Standard normal upper tail, P(Z > z) (Abramowitz–Stegun 7.1.26, error < 1.5e-7). */
function normalUpperTail(z: number): number {
  const t = 1 / (1 + 0.3275911 * (z / Math.SQRT2));
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erfc = poly * Math.exp(-(z * z) / 2);
  return erfc / 2;
}

/**
 * Mann–Whitney U with the normal approximation and tie correction, for samples given as
 * value → count (a latency histogram's buckets).
 */
export function mannWhitneyCounts(a: ReadonlyMap<number, number>, b: ReadonlyMap<number, number>): MannWhitney {
  const values = [...new Set([...a.keys(), ...b.keys()])].sort((x, y) => x - y);
  const m = [...a.values()].reduce((s, c) => s + c, 0);
  const n = [...b.values()].reduce((s, c) => s + c, 0);
  if (m === 0 || n === 0) return { u: 0, p: 1 };
  let rankSumA = 0;
  let below = 0;
  let tieTerm = 0;
  for (const v of values) {
    const ca = a.get(v) ?? 0;
    const cb = b.get(v) ?? 0;
    const t = ca + cb;
    const midRank = below + (t + 1) / 2;
    rankSumA += ca * midRank;
    tieTerm += t * t * t - t;
    below += t;
  }
  const u = rankSumA - (m * (m + 1)) / 2;
  const total = m + n;
  const variance = ((m * n) / 12) * (total + 1 - tieTerm / (total * (total - 1)));
  if (variance <= 0) return { u, p: 1 };
  const z = Math.abs(u - (m * n) / 2) / Math.sqrt(variance);
  return { u, p: Math.min(1, 2 * normalUpperTail(z)) };
}
