/** CSV: one row per case with every summary figure (RFC 4180 quoting). A pure function. */
import type { ResultsDocument } from '../agents/contract/schema.js';

const COLUMNS = [
  'index',
  'channel',
  'mode',
  'sizeBytes',
  'connections',
  'sessions',
  'inFlight',
  'targetRatePerSec',
  'sweep',
  'repeat',
  'status',
  'reason',
  'durationMs',
  'messages',
  'bytes',
  'errors',
  'verify',
  'p50Ns',
  'p90Ns',
  'p99Ns',
  'p999Ns',
  'maxNs',
  'meanNs',
  'count',
  'bytesPerSec',
  'messagesPerSec',
  'lost',
  'lossRate',
  'reordered',
  'duplicated',
  'intendedPerSec',
  'completedPerSec',
  'held',
  'late',
  'dropped',
  'serviceP50Ns',
  'serviceP99Ns',
  'serviceP999Ns',
  'sendLagP50Ns',
  'sendLagP99Ns',
  'sendLagP999Ns',
  'pacerCpuUs',
  'initiatorCpuUsPerMessage',
  'responderCpuUsPerMessage',
  'initiatorCpu',
  'responderCpu',
  'warning',
] as const;

function quote(value: unknown): string {
  if (value === undefined || value === null) return '';
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The CSV report. */
export function renderCsv(doc: ResultsDocument): string {
  const rows = doc.cases.map((c) => {
    const l = c.latencyNs;
    const r = c.rate;
    const values: Record<(typeof COLUMNS)[number], unknown> = {
      index: c.index,
      channel: c.channel,
      mode: c.mode,
      sizeBytes: c.sizeBytes,
      connections: c.connections ?? 1,
      sessions: c.sessions,
      inFlight: c.inFlight,
      targetRatePerSec: c.targetRatePerSec,
      sweep: c.sweep,
      repeat: c.repeat,
      status: c.status,
      reason: c.reason,
      durationMs: c.durationMs,
      messages: c.messages,
      bytes: c.bytes,
      errors: c.errors,
      verify: c.verify,
      p50Ns: l?.p50,
      p90Ns: l?.p90,
      p99Ns: l?.p99,
      p999Ns: l?.p999,
      maxNs: l?.max,
      meanNs: l?.mean,
      count: l?.count,
      bytesPerSec: c.throughput?.bytesPerSec,
      messagesPerSec: c.throughput?.messagesPerSec,
      lost: c.loss?.lost,
      lossRate: c.loss?.lossRate,
      reordered: c.loss?.reordered,
      duplicated: c.loss?.duplicated,
      intendedPerSec: r?.intendedPerSec,
      completedPerSec: r?.completedPerSec,
      held: r?.held,
      late: r?.late,
      dropped: r?.dropped,
      serviceP50Ns: r?.serviceNs.p50,
      serviceP99Ns: r?.serviceNs.p99,
      serviceP999Ns: r?.serviceNs.p999,
      sendLagP50Ns: r?.sendLagNs.p50,
      sendLagP99Ns: r?.sendLagNs.p99,
      sendLagP999Ns: r?.sendLagNs.p999,
      pacerCpuUs: r?.pacerCpuUs,
      initiatorCpuUsPerMessage: c.cpu?.initiator.perMessageUs,
      responderCpuUsPerMessage: c.cpu?.responder.perMessageUs,
      initiatorCpu: c.placement?.initiator.cpuAtStart,
      responderCpu: c.placement?.responder.cpuAtStart,
      warning: typeof c.details?.warning === 'string' ? c.details.warning : undefined,
    };
    return COLUMNS.map((k) => quote(values[k])).join(',');
  });
  return `${[COLUMNS.join(','), ...rows].join('\n')}\n`;
}
