/**
 * The C reference that bench:fidelity compares with: it builds with the system's compiler, runs
 * a case between two real processes with every message verified, says why a kernel limit rules
 * a case out, and leaves nothing behind. Its numbers are not asserted: timing lives in the
 * benchmarks.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { C_REFERENCE_DIR } from '../bench/install-paths.js';
import { buildReference, runReferenceCase } from '../bench/fidelity/reference.js';
import type { CaseTiming } from '../bench/fidelity/measurement.js';
import { PEERS, runPeerCase, type PeerCase } from '../bench/fidelity/peers.js';
import { NOTHING_LEFT, newLeftovers, snapshotLeftovers, type Leftovers } from './helpers/leftovers.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TIMING: CaseTiming = { warmupMs: 20, durationMs: 150, peerTimeoutMs: 2000 };
/** Both processes on CPU 0: the placement every machine has. */
const CPUS = [0, 0];

describe('the C reference (bench/fidelity/c-reference)', () => {
  let binary: string;
  let buildDir: string;
  let before_: Leftovers;

  before(async () => {
    before_ = snapshotLeftovers();
    buildDir = mkdtempSync(join(tmpdir(), 'pbref-'));
    binary = await buildReference(C_REFERENCE_DIR, buildDir);
  });
  after(() => rmSync(buildDir, { recursive: true, force: true }));

  for (const channel of ['uds', 'shm', 'sysv-mq', 'tmpfs-file'] as const) {
    it(`${channel}: a latency and a throughput case run, every message verified`, async () => {
      for (const mode of ['latency', 'throughput'] as const) {
        const m = await runReferenceCase(binary, { channel, mode, sizeBytes: 64, pin: 'same' }, TIMING, CPUS);
        assert.equal(m.status, 'ok', `${channel} ${mode}: ${m.status === 'ok' ? '' : m.reason}`);
        assert.ok(m.status === 'ok' && m.value > 0);
      }
    });
  }

  it('a case beyond a kernel limit is skipped with the limit named', async () => {
    const m = await runReferenceCase(
      binary,
      { channel: 'mq', mode: 'latency', sizeBytes: 1024 * 1024, pin: 'same' },
      TIMING,
      CPUS,
    );
    assert.equal(m.status, 'skipped');
    assert.match(m.status === 'skipped' ? m.reason : '', /fs\.mqueue\.msgsize_max/);
  });

  it('--send-delay-ns spins before every send, inside the round trip on both sides', async () => {
    const delayNs = 20_000;
    const m = await runReferenceCase(
      binary,
      { channel: 'uds', mode: 'latency', sizeBytes: 64, pin: 'same' },
      TIMING,
      CPUS,
      delayNs,
    );
    assert.equal(m.status, 'ok', m.status === 'ok' ? '' : m.reason);
    // The initiator spins before its send and the responder before its echo: a round trip cannot be shorter.
    assert.ok(m.status === 'ok' && m.value >= 2 * delayNs, `p50 ${m.status === 'ok' ? m.value : '-'} ns`);
  });

  it('leaves nothing behind', () => {
    assert.deepEqual(newLeftovers(before_, snapshotLeftovers()), NOTHING_LEFT);
  });
});

describe('bench:fidelity and bench:floor: bad input', () => {
  for (const [script, args, expected] of [
    ['fidelity.js', ['--rounds', '0'], /--rounds.*whole number from 1 to 50/],
    ['fidelity.js', ['--pin', 'left'], /--pin.*split, same, all/],
    ['fidelity.js', ['--channels', 'pigeon'], /--channels.*unknown channel "pigeon"/],
    ['fidelity.js', ['--reference-send-delay-ns', '-5'], /--reference-send-delay-ns.*whole number from 0 to 1000000/],
    ['floor.js', ['--runs', 'x'], /--runs.*whole number from 1 to 20/],
  ] as const) {
    it(`${script} ${args.join(' ')}`, () => {
      const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'bench', 'fidelity', script), ...args], {
        encoding: 'utf8',
      });
      assert.equal(r.status, 2, r.stderr);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, expected);
    });
  }
});

describe("bench:fidelity's peers against podbench's responder (real wrk, h2load and Node clients)", () => {
  let before_: Leftovers;
  before(() => (before_ = snapshotLeftovers()));
  const cases: PeerCase[] = [
    { channel: 'http1', mode: 'latency', sizeBytes: 64 },
    { channel: 'h2', mode: 'throughput', sizeBytes: 64 * 1024 },
  ];
  for (const c of cases) {
    for (const client of ['c', 'node'] as const) {
      const who = client === 'c' ? PEERS[c.channel] : 'Node';
      it(`${c.channel} ${c.mode} ${c.sizeBytes} B: the ${who} client's requests all answered, the body the case's size`, async () => {
        // runPeerCase fails the case when the responder answered nothing or saw another body size.
        const m = await runPeerCase(c, client, { warmupMs: 50, durationMs: 300, peerTimeoutMs: 2000 }, CPUS);
        assert.equal(m.status, 'ok', m.status === 'ok' ? '' : m.reason);
        if (m.status === 'ok') assert.ok(c.mode === 'latency' ? m.value > 1000 : m.value > 10, String(m.value));
      });
    }
  }
  it('leaves nothing behind', () => {
    assert.deepEqual(newLeftovers(before_, snapshotLeftovers()), NOTHING_LEFT);
  });
});
