/**
 * `--connections N` between real agent processes: each connection a channel instance of its own
 * on a thread of its own on both sides, their counts and histograms adding up to one case, for
 * the socket, protocol and queue channels in every mode; a Ctrl-C in a long case with several
 * connections stops them all and leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as hdr from 'hdr-histogram-js';
import type { ResultsDocument } from '../agents/contract/schema.js';
import { interruptFirstCase, runCli } from './helpers/run-cli.js';
import { leakChecked } from './helpers/leftovers.js';

const readResults = (dir: string) => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as ResultsDocument;

describe('four connections', () => {
  it('tcp, http1, h2, grpc and mq run four connections in every mode (h2, grpc: a session each); counts add up', async () => {
    await leakChecked(async (outDir) => {
      const result = await runCli([
        ...['run', '--target', 'local', '--channels', 'tcp,http1,h2,grpc,mq', '--modes', 'latency,throughput,rate'],
        ...['--connections', '4', '--sessions', '4', '--rate', '1k', '--sizes', '64', '--duration', '500ms'],
        ...['--warmup', '20ms'],
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
        // The protocols count the sockets that carried their messages: each kept alive.
        if (['http1', 'h2', 'grpc'].includes(c.channel))
          assert.equal(c.details?.['responder.connections'], 4, `${label}: four sockets`);
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

  it('h2 and grpc: eight streams on two sessions (four connections, two in flight each), one thread per session', async () => {
    await leakChecked(async (outDir) => {
      const result = await runCli([
        ...['run', '--target', 'local', '--channels', 'h2,grpc-uds', '--modes', 'latency,throughput'],
        ...['--connections', '4', '--sessions', '2', '--in-flight', '2', '--sizes', '64', '--duration', '500ms'],
        ...['--warmup', '20ms', '--verify', 'full', '--out-dir', outDir, '-o', 'json'],
      ]);
      assert.equal(result.code, 0, result.stderr);
      const doc = readResults(outDir);
      const streams = doc.cases.filter((c) => c.channel === 'h2' || c.channel === 'grpc-uds');
      assert.equal(streams.length, 4);
      for (const c of streams) {
        const label = `${c.channel} ${c.mode}`;
        assert.equal(c.status, 'ok', `${label}: ${c.reason}`);
        assert.deepEqual([c.connections, c.sessions, c.inFlight], [4, 2, 2], label);
        assert.equal(c.details?.['initiator.threads'], 2, `${label}: a thread per session`);
        assert.equal(c.details?.['responder.connections'], 2, `${label}: one socket per session, kept alive`);
        // Every request of the eight lanes is counted once: the bytes per request are one request's.
        const perRequest = Number(c.details?.['responder.wireBytesInPerMessage']);
        assert.ok(perRequest > 64 && perRequest < 64 + 400, `${label}: ${perRequest} B per request`);
        if (c.mode === 'latency')
          assert.equal(hdr.decodeFromCompressedBase64(c.histogram!).totalCount, c.messages, label);
        else assert.ok(c.messages > 8, `${label}: ${c.messages} messages`);
      }
      // The raw channels keep one request in flight per connection: no in-flight count on them.
      for (const c of doc.cases.filter((x) => x.channel === 'tcp' || x.channel === 'uds')) {
        assert.equal(c.status, 'ok', `${c.channel}: ${c.reason}`);
        assert.deepEqual([c.connections, c.sessions, c.inFlight], [4, undefined, undefined]);
      }
    });
  });

  it('leaves out, with the reason, a channel that runs one connection only, and rate mode over streams on a session', async () => {
    const result = await runCli([
      ...[
        'run',
        '--dry-run',
        '--channels',
        'udp,h2',
        '--connections',
        '1,2',
        '--modes',
        'latency,rate',
        '--rate',
        '1k',
      ],
    ]);
    assert.equal(result.code, 0, result.stderr);
    const said = result.stdout + result.stderr;
    assert.match(said, /udp latency 64 B ×2: the channel runs one connection only/);
    assert.match(said, /h2 rate 64 B ×2: rate mode paces one request stream per thread, and this case has 2 streams/);
  });
});

describe('Ctrl-C in a long case with several connections', () => {
  it('stops every connection, records the case as interrupted and leaves nothing', async () => {
    await leakChecked(async (outDir) => {
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
