/**
 * Every channel × mode at a small and a large size, between two real agent processes over real
 * kernel IPC, through the built CLI: every byte verified (--verify full), counts that agree, a
 * histogram holding one value per round trip, and nothing left on the host afterwards.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as hdr from 'hdr-histogram-js';
import { CHANNEL_IDS, channelInfo } from '../agents/contract/channels.js';
import type { CaseResult, ResultsDocument } from '../agents/contract/schema.js';
import { runCli, type CliResult } from './helpers/run-cli.js';
import { NOTHING_LEFT, newLeftovers, snapshotLeftovers, type Leftovers } from './helpers/leftovers.js';

const SMALL = 64;
const LARGE = 64 * 1024;

/** What one verified run left to check: the CLI's outcome, the document and the host before it. */
interface VerifiedRun {
  run: CliResult;
  doc: ResultsDocument;
  before: Leftovers;
  outDir: string;
}

/**
 * Runs `channels` in both modes at both sizes with every byte verified (--verify full), before
 * the enclosing suite's tests, and removes the results afterwards.
 */
function verifiedRun(channels: string, extraArgs: readonly string[] = []): VerifiedRun {
  const state = {} as VerifiedRun;
  before(async () => {
    state.before = snapshotLeftovers();
    state.outDir = mkdtempSync(join(tmpdir(), 'pbtest-'));
    state.run = await runCli([
      'run',
      '--target',
      'local',
      '--channels',
      channels,
      '--modes',
      'latency,throughput',
      '--sizes',
      `${SMALL},64Ki`,
      '--duration',
      '150ms',
      '--warmup',
      '20ms',
      '--verify',
      'full',
      ...extraArgs,
      '--out-dir',
      state.outDir,
      '-o',
      'json',
    ]);
    state.doc = JSON.parse(readFileSync(join(state.outDir, 'results.json'), 'utf8')) as ResultsDocument;
  });
  after(() => rmSync(state.outDir, { recursive: true, force: true }));
  return state;
}

describe('every channel between two real processes', () => {
  const measured = verifiedRun('all');

  it('exits 0 and prints the same document it saved', () => {
    assert.equal(measured.run.code, 0, measured.run.stderr);
    assert.deepEqual(JSON.parse(measured.run.stdout), measured.doc);
    assert.equal(measured.doc.run.complete, true);
    assert.equal(measured.doc.cases.length, CHANNEL_IDS.length * 2 * 2);
  });

  for (const channel of CHANNEL_IDS) {
    it(`${channel}: every case ok, or skipped naming the limit`, () => {
      const cases = measured.doc.cases.filter((c) => c.channel === channel);
      assert.equal(cases.length, 4);
      for (const c of cases) checkCase(c);
    });
  }

  it('skips only what the kernel limits rule out, and says which limit', () => {
    const skipped = measured.doc.cases.filter((c) => c.status === 'skipped');
    for (const c of skipped) {
      assert.ok(['mq', 'sysv-mq', 'udp'].includes(c.channel), `${c.channel} skipped: ${c.reason}`);
      assert.equal(c.sizeBytes, LARGE);
      assert.match(
        c.reason ?? '',
        /(fs\.mqueue\.msgsize_max|kernel\.msgmax) is \d+ bytes|a UDP datagram over IPv4 carries at most 65507 bytes/,
      );
    }
    // 64 KiB is over UDP's 65,507-byte payload, whatever the host.
    assert.equal(skipped.filter((c) => c.channel === 'udp').length, 2);
  });

  it('protocol channels keep one connection, Nagle off on TCP, and count what the protocol adds on the wire', () => {
    const protocols = measured.doc.cases.filter((x) => channelInfo(x.channel).ridesOn);
    assert.equal(protocols.length, 6 * 2 * 2, 'http1, h2 and grpc, each over tcp and uds');
    for (const c of protocols) {
      const d = c.details ?? {};
      const label = `${c.channel} ${c.mode} ${c.sizeBytes} B`;
      for (const side of ['initiator', 'responder']) {
        assert.equal(d[`${side}.connections`], 1, `${label}: one connection (${side})`);
        if (channelInfo(c.channel).ridesOn === 'tcp')
          assert.equal(d[`${side}.noDelay`], true, `${label}: TCP_NODELAY (${side})`);
      }
      // The responder reads every request whole: body plus the protocol's headers and framing.
      const request = Number(d['responder.wireBytesInPerMessage']);
      assert.ok(request > c.sizeBytes && request < c.sizeBytes + 400, `${label}: ${request} bytes a request`);
      if (c.mode === 'latency') {
        const answer = Number(d['responder.wireBytesOutPerMessage']);
        assert.ok(answer > c.sizeBytes && answer < c.sizeBytes + 400, `${label}: ${answer} bytes an echo`);
      }
    }
    for (const c of protocols.filter((x) => x.channel.startsWith('h2'))) {
      // The windows were raised past HTTP/2's 65,535-byte default so a 64 KiB body is not paced.
      assert.ok(Number(c.details?.['initiator.connectionWindowBytes']) >= 2 * LARGE, `${c.channel}: connection window`);
      assert.ok(Number(c.details?.['responder.streamWindowBytes']) >= 2 * LARGE, `${c.channel}: stream window`);
    }
  });

  it('plans the raw channel each protocol rides on, and reports the protocol beside it', () => {
    const md = readFileSync(join(measured.outDir, 'report.md'), 'utf8');
    assert.match(md, /## Protocol cost/);
    for (const protocol of ['http1', 'h2', 'grpc']) {
      assert.match(
        md,
        new RegExp(`\\| ${protocol} \\| tcp \\(libc\\) \\| 64 B \\| \\d+ B / \\d+ B \\|`),
        `${protocol} over tcp`,
      );
      assert.match(md, new RegExp(`\\| ${protocol}-uds \\| uds \\(libc\\) \\| 64 KiB \\|`), `${protocol}-uds over uds`);
    }
  });

  it('counts what a lossy channel lost instead of failing, and only for it', () => {
    for (const c of measured.doc.cases.filter((x) => x.status === 'ok')) {
      if (c.channel !== 'udp') {
        assert.equal(c.loss, undefined, `${c.channel} has no losses`);
        continue;
      }
      const loss = c.loss!;
      assert.ok(loss, `${c.mode}: udp records its losses`);
      assert.equal(c.messages, loss.sent - loss.lost, `${c.mode}: received (or answered) = sent - lost`);
      assert.ok(loss.lossRate >= 0 && loss.lossRate <= 1);
    }
  });

  it('records where each agent ran', () => {
    const ok = measured.doc.cases.find((c) => c.status === 'ok')!;
    for (const side of [ok.placement!.initiator, ok.placement!.responder]) {
      assert.ok(side.allowedCpus.length >= 1);
      assert.ok(side.allowedCpus.includes(side.cpuAtStart));
    }
  });

  it("records each agent's peak memory and the orchestrator's CPU per case", () => {
    for (const c of measured.doc.cases.filter((x) => x.status === 'ok')) {
      const d = c.details ?? {};
      for (const key of ['initiator.peakRssKiB', 'responder.peakRssKiB'])
        assert.ok(Number(d[key]) > 1024, `${c.channel}: ${key} = ${d[key]}`);
      const cpu = Number(d['orchestrator.cpuPercent']);
      assert.ok(cpu >= 0 && cpu <= 100, `${c.channel}: orchestrator.cpuPercent = ${cpu}`);
    }
  });

  it('leaves nothing behind: /dev/shm, /dev/mqueue, System V queues, temp dirs', () => {
    assert.deepEqual(newLeftovers(measured.before, snapshotLeftovers()), NOTHING_LEFT);
  });
});

describe('--driver node: tcp and uds through net.Socket, as a Node sidecar would', () => {
  const measured = verifiedRun('tcp,uds', ['--driver', 'node']);

  it('every case ok and verified, and driven by net.Socket', () => {
    assert.equal(measured.run.code, 0, measured.run.stderr);
    assert.equal(measured.doc.cases.length, 8);
    for (const c of measured.doc.cases) {
      checkCase(c);
      assert.equal(c.details?.['initiator.driver'], 'node', `${c.channel} ${c.mode}`);
      assert.equal(c.details?.['responder.driver'], 'node', `${c.channel} ${c.mode}`);
    }
  });

  it('leaves nothing behind', () => {
    assert.deepEqual(newLeftovers(measured.before, snapshotLeftovers()), NOTHING_LEFT);
  });
});

function checkCase(c: CaseResult): void {
  const label = `${c.channel} ${c.mode} ${c.sizeBytes}`;
  if (c.status === 'skipped') {
    assert.ok(c.reason, `${label}: skipped without a reason`);
    return;
  }
  assert.equal(c.status, 'ok', `${label}: ${c.reason}`);
  assert.equal(c.errors, 0, label);
  assert.equal(c.verify, 'full');
  assert.ok(c.messages > 10, `${label}: only ${c.messages} messages`);
  if (c.mode === 'latency') {
    // Both directions verified: the request by the responder, the echo by the initiator.
    assert.equal(c.bytes, 2 * c.messages * c.sizeBytes, label);
    assert.equal(c.latencyNs!.count, c.messages, label);
    const histogram = hdr.decodeFromCompressedBase64(c.histogram!);
    assert.equal(histogram.totalCount, c.messages, `${label}: histogram count`);
    const l = c.latencyNs!;
    assert.ok(
      l.p50 > 0 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.p999 && l.p999 <= l.max,
      `${label}: ${JSON.stringify(l)}`,
    );
  } else {
    assert.equal(c.bytes, c.messages * c.sizeBytes, label);
    assert.ok(c.throughput!.messagesPerSec > 0, label);
    // Both are rounded for storage; they must still describe the same rate.
    assert.ok(Math.abs(c.throughput!.bytesPerSec - c.throughput!.messagesPerSec * c.sizeBytes) <= c.sizeBytes, label);
  }
  assert.ok(c.cpu!.initiator.perMessageUs > 0 && c.cpu!.responder.perMessageUs >= 0, label);
}
