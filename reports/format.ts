/** How reports (and the CLI) print sizes, durations, rates and case names: each written once. */
import type { CaseResult, CaseSpec } from '../agents/contract/schema.js';

/** `64 B`, `16 KiB`, `1 MiB`, `1000 B`: the unit is binary when the size divides evenly. */
export function formatSize(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

/** A number with thousands separators and exactly `digits` decimals: `12,345.6`. */
const grouped = (x: number, digits: number): string =>
  x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** Nanoseconds as microseconds: two decimals below 10 µs, one above. */
export const formatUs = (ns: number): string => (ns / 1000).toFixed(ns < 10_000 ? 2 : 1);

/** Bytes per second as MB/s (10⁶ bytes), one decimal. */
export const formatMBps = (bytesPerSec: number): string => grouped(bytesPerSec / 1e6, 1);

/** A whole count with thousands separators: `12,345`. */
export const formatCount = (n: number): string => grouped(n, 0);

/** CPU microseconds per message, two decimals. */
export const formatCpuUs = (us: number): string => us.toFixed(2);

/** A value that may be missing, formatted, or `missing` (an en dash unless given). */
export const orDash = (value: number | undefined, format: (v: number) => string, missing = '–'): string =>
  value === undefined ? missing : format(value);

/** Messages per second in a few characters: `950/s`, `1.5k/s`, `20k/s`, `1.2M/s`. */
export function formatRate(perSec: number): string {
  const short = (x: number) => String(Number(x.toPrecision(3)));
  if (perSec >= 1e6) return `${short(perSec / 1e6)}M/s`;
  if (perSec >= 1e3) return `${short(perSec / 1e3)}k/s`;
  return `${short(perSec)}/s`;
}

/**
 * A case's concurrency in a few characters, empty for one connection: ` ×4` (four connections),
 * ` ×8 on 2 sessions`, ` ×2, 4 in flight` (h2 and grpc).
 */
export function concurrencyLabel(c: Partial<Pick<CaseSpec, 'connections' | 'sessions' | 'inFlight'>>): string {
  const connections = c.connections ? ` ×${c.connections}` : '';
  const sessions = c.sessions ? ` on ${c.sessions} sessions` : '';
  const inFlight = c.inFlight ? `${connections ? ',' : ''} ${c.inFlight} in flight` : '';
  return `${connections}${sessions}${inFlight}`;
}

/** `shm latency 64 B`, `tcp rate 64 B ×4 at 10k/s` (4 connections), with `#2` for a repeat when a run has several. */
export function caseLabel(
  spec: Pick<CaseSpec, 'channel' | 'mode' | 'sizeBytes'> &
    Partial<Pick<CaseSpec, 'repeat' | 'targetRatePerSec' | 'connections' | 'sessions' | 'inFlight'>>,
  repeats = 1,
): string {
  const rate = spec.targetRatePerSec === undefined ? '' : ` at ${formatRate(spec.targetRatePerSec)}`;
  const base = `${spec.channel} ${spec.mode} ${formatSize(spec.sizeBytes)}${concurrencyLabel(spec)}${rate}`;
  return repeats > 1 && spec.repeat !== undefined ? `${base} #${spec.repeat + 1}` : base;
}

/** Text made safe for HTML element content and attribute values. */
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The first letter in upper case: a headline's fragment as a sentence. */
export const capitalised = (text: string): string => `${text.charAt(0).toUpperCase()}${text.slice(1)}`;

/**
 * A lossy channel's losses in a few words (`lost 2,934 of 291,123 (1.01 %), 0 reordered, 0
 * duplicated`), or undefined for a case without them.
 */
export function lossNote(c: CaseResult): string | undefined {
  const l = c.loss;
  if (!l) return undefined;
  const what = c.mode === 'latency' ? 'round trips' : 'messages';
  return (
    `lost ${formatCount(l.lost)} of ${formatCount(l.sent)} ${what} (${(l.lossRate * 100).toFixed(2)} %), ` +
    `${formatCount(l.reordered)} reordered, ${formatCount(l.duplicated)} duplicated`
  );
}
