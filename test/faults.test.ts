/**
 * Faults on real processes: the responder killed mid-case (the initiator must fail that case with
 * a clear reason within the peer timeout, keep earlier cases, and the run must end cleanly), and
 * Ctrl-C, SIGTERM and SIGHUP to `podbench run` (finished cases saved, reports written, exit 128 + the signal, nothing left behind).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { ResultsDocument } from '../agents/contract/schema.js';
import { CLI, startCli, waitForStderr } from './helpers/cli.js';
import { NOTHING_LEFT, newLeftovers, snapshotLeftovers } from './helpers/leftovers.js';
import { childPids } from './helpers/processes.js';

const readResults = (dir: string) => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as ResultsDocument;

/** Runs `body` with a fresh output directory, removes it, then checks the run left nothing behind. */
async function leakChecked(body: (outDir: string) => Promise<void>): Promise<void> {
  const before = snapshotLeftovers();
  const outDir = mkdtempSync(join(tmpdir(), 'pbtest-'));
  try {
    await body(outDir);
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
  assert.deepEqual(newLeftovers(before, snapshotLeftovers()), NOTHING_LEFT);
}

describe('responder killed with SIGKILL mid-case', () => {
  // shm and sysv-mq are the channels where the kernel does not tell the initiator its peer died:
  // the futex wait and the interrupted msgrcv must give up by themselves.
  // uds throughput at 1 MiB: the responder dies while a message is half sent.
  const cases = [['shm', 'latency', '64'], ['sysv-mq', 'latency', '64'], ['tcp', 'latency', '64'], ['uds', 'throughput', '1Mi']] as const;
  for (const [channel, mode, size] of cases) {
    it(`${channel} ${mode} ${size}: the case fails with a clear reason within the peer timeout, earlier cases kept`, async () => {
      await leakChecked(async (outDir) => {
        const run = startCli([
          'run', '--target', 'local', '--channels', channel === 'uds' ? 'tcp,uds' : `uds,${channel}`, '--modes', mode, '--sizes', size,
          '--duration', '3s', '--warmup', '10ms', '--peer-timeout', '1s', '--out-dir', outDir, '-o', 'json',
        ]);
        await waitForStderr(run, (s) => /\[1\/2\] \S+ \S+ \S+ \S+ {2}ok/.test(s));
        await new Promise((r) => setTimeout(r, 700)); // well inside the 3 s second case
        const [responder] = childPids(run.child.pid!, '--role responder');
        assert.ok(responder, 'found the responder process');
        const killedAt = Date.now();
        process.kill(responder, 'SIGKILL');
        const result = await run.result;
        const doc = readResults(outDir);

        assert.equal(result.code, 1, result.stderr);
        assert.ok(Date.now() - killedAt < 8000, `the run ended ${Date.now() - killedAt} ms after the kill`);
        assert.equal(doc.cases.length, 2);
        assert.equal(doc.cases[0]!.status, 'ok', 'the case before the kill is kept');
        const killed = doc.cases[1]!;
        assert.equal(killed.status, 'failed');
        assert.match(killed.reason ?? '', /responder/, `reason names the responder: ${killed.reason}`);
        assert.equal(doc.run.complete, true, 'every planned case has a result');
        assert.match(result.stderr, /podbench: 1 case\(s\) failed/);
        assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
      });
    });
  }
});

describe('a signal to podbench run: Ctrl-C, SIGTERM, and SIGHUP (a closed terminal, a dropped SSH session)', () => {
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    it(`${signal}: keeps the finished cases, writes the reports, says what was not measured, exits ${code}, leaves nothing`, async () => {
      await leakChecked(async (outDir) => {
        const run = startCli([
          'run', '--target', 'local', '--channels', 'tcp,shm,mq,sysv-mq,file', '--modes', 'latency', '--sizes', '64',
          '--duration', '400ms', '--warmup', '10ms', '--out-dir', outDir,
        ]);
        await waitForStderr(run, (s) => s.includes('[2/5]'));
        run.child.kill(signal);
        const result = await run.result;
        const doc = readResults(outDir);

        assert.equal(result.code, code, result.stderr);
        assert.ok(doc.cases.length >= 2 && doc.cases.length < 5, `${doc.cases.length} cases saved`);
        assert.ok(doc.cases.every((c) => c.status === 'ok'));
        assert.equal(doc.run.complete, false);
        assert.equal(doc.run.incompleteReason, `interrupted by ${signal}`);
        assert.ok(existsSync(join(outDir, 'report.html')) && existsSync(join(outDir, 'report.md')), 'the reports are written');
        assert.match(result.stderr, new RegExp(`${signal}: stopping the agents and cleaning up`));
        assert.match(result.stderr, /not measured: .*file latency 64 B/);
        assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
      });
    });
  }
});

describe('a long TMPDIR (the shared directory of the local target)', () => {
  it('tcp and the control socket do not depend on it; uds is skipped with the reason; nothing is left; the next run works too', async () => {
    const before = snapshotLeftovers();
    const base = mkdtempSync(join(tmpdir(), 'pbtest-'));
    // 136 bytes and more: every socket path in it is over the kernel's 107.
    const longTmp = join(base, 'x'.repeat(120));
    mkdirSync(longTmp);
    const outDir = join(base, 'out');
    try {
      for (const round of [1, 2]) {
        const r = spawnSync(process.execPath, [CLI, 'run', '--target', 'local', '--channels', 'tcp,uds,shm', '--modes', 'latency', '--sizes', '64', '--duration', '100ms', '--warmup', '0ms', '--out-dir', `${outDir}${round}`], {
          encoding: 'utf8',
          env: { ...process.env, TMPDIR: longTmp },
          timeout: 60_000,
        });
        assert.equal(r.status, 0, r.stderr);
        const doc = readResults(`${outDir}${round}`);
        assert.deepEqual(doc.cases.map((c) => `${c.channel}:${c.status}`), ['tcp:ok', 'uds:skipped', 'shm:ok'], `round ${round}`);
        assert.match(doc.cases[1]!.reason!, /^the socket path in the shared directory .* is \d+ bytes, over the 107 the kernel allows for a Unix socket; use a shorter TMPDIR$/);
        assert.deepEqual(readdirSync(longTmp), [], 'no run directory or socket file is left in TMPDIR');
      }
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
    assert.deepEqual(newLeftovers(before, snapshotLeftovers()), NOTHING_LEFT);
  });
});

describe('a responder stopped (SIGSTOP) longer than --peer-timeout, then continued', () => {
  it('fails the cases it stalls, after the peer timeout, never with another case\'s answer; the run goes on to the end', async () => {
    await leakChecked(async (outDir) => {
      const run = startCli([
        'run', '--target', 'local', '--channels', 'uds,shm,sysv-mq,tcp,mq', '--modes', 'latency', '--sizes', '64',
        '--duration', '1500ms', '--warmup', '10ms', '--peer-timeout', '1s', '--out-dir', outDir, '-o', 'json',
      ]);
      await waitForStderr(run, (s) => /\[1\/5\] \S+ \S+ \S+ \S+ {2}ok/.test(s));
      await new Promise((r) => setTimeout(r, 300)); // inside the shm case
      const [responder] = childPids(run.child.pid!, '--role responder');
      assert.ok(responder, 'found the responder process');
      process.kill(responder, 'SIGSTOP');
      await new Promise((r) => setTimeout(r, 6000));
      process.kill(responder, 'SIGCONT');
      const result = await run.result;
      const doc = readResults(outDir);

      assert.equal(doc.run.complete, true, `every case has a result: ${result.stderr}`);
      assert.deepEqual(doc.cases.map((c) => c.channel), ['uds', 'shm', 'sysv-mq', 'tcp', 'mq']);
      assert.equal(doc.cases[0]!.status, 'ok');
      assert.equal(doc.cases[1]!.status, 'failed', 'the stalled case fails');
      assert.equal(doc.cases.at(-1)!.status, 'ok', 'once the responder runs again, the run goes on');
      for (const c of doc.cases.filter((x) => x.status === 'failed')) {
        // An answer about the shm ring (the stalled case) never lands on another case.
        if (c.channel !== 'shm') assert.doesNotMatch(c.reason ?? '', /ring|futex|shm/i, `${c.channel}: ${c.reason}`);
      }
      assert.equal(result.code, 1, result.stderr);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    });
  });
});

describe('an --out-dir that cannot be written, a TMPDIR that does not exist', () => {
  /** A tmpfs of `size` mounted for the test (root only), unmounted after. */
  function withTmpfs(size: string, body: (dir: string) => Promise<void>): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), 'pbtest-mnt-'));
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' });
    assert.equal(mounted.status, 0, mounted.stderr);
    return body(dir).finally(() => {
      spawnSync('umount', [dir]);
      rmSync(dir, { recursive: true, force: true });
    });
  }
  const run = (outDir: string, env: NodeJS.ProcessEnv = process.env) =>
    spawnSync(process.execPath, [CLI, 'run', '--target', 'local', '--channels', 'tcp,uds,shm,mq,sysv-mq', '--modes', 'latency', '--sizes', '64', '--duration', '50ms', '--warmup', '0ms', '--out-dir', outDir], { encoding: 'utf8', env, timeout: 60_000 });

  it('on a read-only filesystem: one line naming --out-dir and the cause', () =>
    withTmpfs('1m', async (dir) => {
      assert.equal(spawnSync('mount', ['-o', 'remount,ro', dir]).status, 0);
      const r = run(join(dir, 'out'));
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stderr.trim().split('\n').at(-1), `podbench: --out-dir ${join(dir, 'out')} cannot be made: ${dir} is on a read-only filesystem`);
    }));

  it('on a full filesystem: one line naming the file and the cause, the cases saved before kept, no temp file left', () =>
    withTmpfs('16k', async (dir) => {
      const outDir = join(dir, 'out');
      const before = snapshotLeftovers();
      const r = run(outDir);
      assert.equal(r.status, 1, r.stderr);
      const line = r.stderr.trim().split('\n').at(-1)!;
      assert.match(line, new RegExp(`^podbench: cannot write ${join(outDir, 'results.json').replace(/[.]/g, '\\.')} \\(--out-dir ${outDir}\\): no space left on the device; it holds the (\\d+) case\\(s\\) saved before$`));
      const saved = Number(/holds the (\d+) case/.exec(line)![1]);
      assert.equal(readResults(outDir).cases.length, saved, 'results.json is the last document that fitted');
      assert.deepEqual(readdirSync(outDir).filter((f) => f.endsWith('.tmp')), [], 'no temp file left');
      assert.deepEqual(newLeftovers(before, snapshotLeftovers()), NOTHING_LEFT);
    }));

  it('a TMPDIR that does not exist: one line naming TMPDIR, exit 2', () => {
    const outDir = mkdtempSync(join(tmpdir(), 'pbtest-'));
    try {
      const r = run(join(outDir, 'out'), { ...process.env, TMPDIR: '/nonexistent-pbtest' });
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stderr.trim().split('\n').at(-1), 'podbench: TMPDIR /nonexistent-pbtest does not exist; local runs make their run directories there (set TMPDIR to a directory that exists)');
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  });
});
