/** Parsing of the sizes and durations users type, and printing of durations (sizes: reports/format.ts). */

const SIZE_SUFFIXES: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1000,
  kb: 1000,
  ki: 1024,
  kib: 1024,
  m: 1_000_000,
  mb: 1_000_000,
  mi: 1024 * 1024,
  mib: 1024 * 1024,
};

/** Parses `64`, `1k` (1000), `1Ki` (1024), `1M`, `1Mi` (also with a `B`); undefined if not a size. */
export function parseSizeBytes(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  if (!m) return undefined;
  const factor = SIZE_SUFFIXES[m[2]!.toLowerCase()];
  if (factor === undefined) return undefined;
  const bytes = Number(m[1]) * factor;
  return Number.isInteger(bytes) ? bytes : undefined;
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

/** Parses `500ms`, `2s`, `1.5s`, `1m`; undefined if not a duration. */
export function parseDurationMs(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m)$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * DURATION_UNITS_MS[m[2]!]!;
}

/** `250ms`, `1s`, `1.5s`, `2m`. */
export function formatDuration(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1000) return `${ms / 1000}s`;
  return `${ms}ms`;
}
