/** How the measurements of both sides become a case result: status, counts and rates. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { measuredResult, type MeasuredCase } from '../agents/case-result.js';
import type { RunSettings } from '../agents/contract/schema.js';
import { newLatencyHistogram } from '../agents/measure/loop.js';

const settings: RunSettings = {
  durationMs: 1000,
  warmupMs: 0,
  verify: 'sample',
  pin: 'none',
  connectTimeoutMs: 1000,
  peerTimeoutMs: 1000,
};
const placement = { allowedCpus: [0], cpuAtStart: 0, cpuAtEnd: 0 };
const cpu = { userUs: 500, systemUs: 500 };

function latencyCase(initiatorErrors: number, responderErrors: number): MeasuredCase {
  const histogram = newLatencyHistogram();
  for (let i = 1; i <= 100; i++) histogram.recordValue(i * 1000);
  return {
    spec: { index: 0, channel: 'mq', mode: 'latency', sizeBytes: 64, repeat: 0 },
    settings,
    initiator: {
      messages: 100,
      bytes: 6400,
      errors: initiatorErrors,
      firstError: initiatorErrors ? 'checksum mismatch at seq 3' : undefined,
      durationMs: 1000,
      sent: 100,
      cpu,
      histogram,
    },
    initiatorPlacement: placement,
    initiatorDetails: {},
    responder: {
      messages: 100,
      bytes: 6400,
      errors: responderErrors,
      firstError: responderErrors ? 'sequence mismatch at seq 9' : undefined,
      spanMs: 990,
      cpu,
      placement,
      details: { queueDepth: 10 },
    },
    plannedDetails: { queueDepth: 10 },
  };
}

test('a clean latency case is ok, with percentiles from the histogram and CPU per round trip', () => {
  const r = measuredResult(latencyCase(0, 0));
  assert.equal(r.status, 'ok');
  assert.equal(r.latencyNs!.count, 100);
  // HdrHistogram with 3 significant digits: values within 0.1 %.
  assert.ok(Math.abs(r.latencyNs!.p50 - 50_000) <= 50, String(r.latencyNs!.p50));
  assert.ok(Math.abs(r.latencyNs!.max - 100_000) <= 100, String(r.latencyNs!.max));
  assert.equal(r.bytes, 12_800);
  assert.equal(r.cpu!.initiator.perMessageUs, 10);
  assert.equal(r.details!['responder.queueDepth'], 10);
});

test('any verification error fails the case with the count and the first error', () => {
  const r = measuredResult(latencyCase(2, 1));
  assert.equal(r.status, 'failed');
  assert.equal(r.errors, 3);
  assert.equal(r.reason, '3 message(s) failed verification (first: checksum mismatch at seq 3)');
});

test("throughput is the receiver's count over its own span, and a lost message fails the case", () => {
  const base = latencyCase(0, 0);
  const spec = { ...base.spec, mode: 'throughput' as const };
  const ok = measuredResult({ ...base, spec, initiator: { ...base.initiator, histogram: undefined, sent: 100 } });
  assert.equal(ok.status, 'ok');
  assert.equal(ok.throughput!.messagesPerSec, 100); // 99 intervals in 990 ms
  const lost = measuredResult({ ...base, spec, initiator: { ...base.initiator, histogram: undefined, sent: 101 } });
  assert.equal(lost.status, 'failed');
  assert.match(lost.reason!, /sent 101 timed messages but the responder received 100/);
});
