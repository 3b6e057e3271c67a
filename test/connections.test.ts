/**
 * `--connections N` between real agent processes: each connection a channel instance of its own
 * on a thread of its own on both sides, their counts and histograms adding up to one case, for
 * the socket, protocol and queue channels in every mode; a Ctrl-C in a long case with several
 * connections stops them all and leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as hdr from 'hdr-histogram-js';
import type { ResultsDocument } from '../agents/contract/schema.js';
import { interruptFirstCase, runCli } from './helpers/run-cli.js';
import { NOTHING_LEFT, newLeftovers, snapshotLeftovers } from './helpers/leftovers.js';

const readResults = (dir: string) => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as ResultsDocument;

async function inOutDir(body: (outDir: string) => Promise<void>): Promise<void> {
  const before = snapshotLeftovers();
  const outDir = mkdtempSync(join(tmpdir(), 'pbtest-'));
  try {
    await body(outDir);
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
  assert.deepEqual(newLeftovers(before, snapshotLeftovers()), NOTHING_LEFT);
}

describe('four connections', () => {
  it('tcp, http1, h2, grpc and mq run four instances each, in every mode, and their counts add up', async () => {
    await inOutDir(async (outDir) => {
      const result = await runCli([
        ...['run', '--target', 'local', '--channels', 'tcp,http1,h2,grpc,mq', '--modes', 'latency,throughput,rate'],
        ...['--connections', '4', '--rate', '1k', '--sizes', '64', '--duration', '500ms', '--warmup', '20ms'],
        ...['--verify', 'full', '--out-dir', outDir, '-o', 'json'],
      ]);
      assert.equal(result.code, 0, result.stderr);
      const doc = readResults(outDir);
      assert.equal(doc.cases.length, 15);
      for (const c of doc.cases) {
        const label = `${c.channel} ${c.mode}`;
        assert.equal(c.status, 'ok', `${label}: ${c.reason}`);
        assert.equal(c.connections, 4, label);
        assert.equal(c.details?.['initiator.threads'], 4, `${label}: four initiator threads`);
        assert.equal(c.details?.['responder.threads'], 4, `${label}: four responder threads`);
        // The protocols count the sockets that carried their messages: one kept alive per connection.
        if (['http1', 'h2', 'grpc'].includes(c.channel))
          assert.equal(c.details?.['responder.connections'], 4, `${label}: four sockets, each kept alive`);
        assert.equal(c.errors, 0);
        assert.ok(c.cpu!.initiator.perMessageUs > 0 && c.cpu!.responder.perMessageUs > 0, `${label}: CPU measured`);
        if (c.mode === 'throughput') {
          assert.ok(c.messages > 4, `${label}: ${c.messages} messages`);
          continue;
        }
        // One merged histogram holds every round trip of the four connections.
        assert.equal(hdr.decodeFromCompressedBase64(c.histogram!).totalCount, c.messages, label);
        if (c.mode === 'rate') {
          const r = c.rate!;
          assert.equal(r.sent + r.dropped, r.intended, label);
          assert.equal(r.completed, c.messages, label);
          // Four schedules of 250/s each over 500 ms: about 500 intended, give or take a slot each.
          assert.ok(Math.abs(r.intended - 500) <= 4, `${label}: ${r.intended} intended`);
        }
      }
      // Protocols have their raw channel at the same connection count beside them.
      const markdown = readFileSync(join(outDir, 'report.md'), 'utf8');
      assert.match(markdown, /\| tcp ×4 \| 64 B \|/);
      assert.match(markdown, /Knee of mq ×4 at 64 B: /);
    });
  });

  it('leaves out, with the reason, a channel that runs one connection only', async () => {
    const result = await runCli([
      'run',
      '--dry-run',
      '--channels',
      'udp,tcp',
      '--connections',
      '1,2',
      '--modes',
      'latency',
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout + result.stderr, /udp latency 64 B ×2: the channel runs one connection only/);
  });
});

describe('Ctrl-C in a long case with several connections', () => {
  it('stops every connection, records the case as interrupted and leaves nothing', async () => {
    await inOutDir(async (outDir) => {
      await interruptFirstCase(
        ['--target', 'local', '--channels', 'mq', '--modes', 'latency', '--sizes', '64', '--connections', '3'],
        outDir,
        2000,
        5000,
      );
      assert.ok(existsSync(join(outDir, 'report.md')), 'the reports are written');
    });
  });
});
