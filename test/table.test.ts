/** The terminal table, rendered from a fixture document with ok, skipped and failed cases. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { validateResultsDocument } from '../agents/contract/schema.js';
import { renderTable } from '../reports/table.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'fixtures');
const doc = validateResultsDocument(JSON.parse(readFileSync(join(FIXTURES, 'results-mixed.json'), 'utf8')), 'fixture');

test('one row per case with µs, MB/s and msgs/s, reasons for the rest, and a summary', () => {
  const lines = renderTable(doc).split('\n');
  assert.match(lines[0]!, /^channel\s+mode\s+size\s+status\s+p50 µs\s+p99 µs\s+p99\.9 µs\s+max µs\s+MB\/s\s+msgs\/s/);
  const tcp = doc.cases[0]!;
  const tcpRow = lines.find((l) => l.startsWith('tcp'))!;
  assert.ok(tcpRow.includes((tcp.latencyNs!.p50 / 1000).toFixed(1)), tcpRow);
  const shm = doc.cases[1]!;
  const shmRow = lines.find((l) => l.startsWith('shm'))!;
  assert.ok(
    shmRow.includes(
      (shm.throughput!.bytesPerSec / 1e6).toLocaleString('en-US', {
        maximumFractionDigits: 1,
        minimumFractionDigits: 1,
      }),
    ),
    shmRow,
  );
  assert.match(
    lines.find((l) => l.startsWith('mq'))!,
    /skipped\s+fs\.mqueue\.msgsize_max is 8192 bytes/,
  );
  assert.match(
    lines.find((l) => l.startsWith('sysv-mq'))!,
    /failed\s+the responder did not send within 1000 ms/,
  );
  assert.equal(lines.at(-1), '4 of 5 cases: 2 ok, 1 skipped, 1 failed');
});

test('columns line up', () => {
  const lines = renderTable(doc).split('\n').slice(0, 5);
  const statusColumn = lines[0]!.indexOf('status');
  for (const line of lines.slice(1)) assert.match(line.slice(statusColumn), /^(ok|skipped|failed)/, line);
});
