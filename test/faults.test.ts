/**
 * Faults on real processes: the responder killed mid-case (the initiator must fail that case with
 * a clear reason within the peer timeout, keep earlier cases, and the run must end cleanly), and
 * Ctrl-C, SIGTERM and SIGHUP to `podbench run` (finished cases saved, reports written, exit 128 + the signal, nothing left behind).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import type { ResultsDocument } from '../agents/contract/schema.js';
import { CLI, interruptFirstCase, startCli, waitForStderr, waitIntoFirstCase } from './helpers/run-cli.js';
import { NOTHING_LEFT, leakChecked, newLeftovers, snapshotLeftovers } from './helpers/leftovers.js';
import { childPids } from './helpers/processes.js';

const readResults = (dir: string) => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as ResultsDocument;

describe('responder killed with SIGKILL mid-case', () => {
  // shm, shm-sem and sysv-mq are the channels where the kernel does not tell the initiator its
  // peer died: the futex wait, semtimedop and the interrupted msgrcv must give up by themselves
  // (and the semaphore set the dead responder made is removed from its journal).
  // uds throughput at 1 MiB: the responder dies while a message is half sent.
  const cases = [
    ['shm', 'latency', '64'],
    ['shm-sem', 'latency', '64'],
    ['sysv-mq', 'latency', '64'],
    ['tcp', 'latency', '64'],
    ['uds', 'throughput', '1Mi'],
  ] as const;
  for (const [channel, mode, size] of cases) {
    it(`${channel} ${mode} ${size}: the case fails with a clear reason within the peer timeout, earlier cases kept`, async () => {
      await leakChecked(async (outDir) => {
        const run = startCli([
          'run',
          '--target',
          'local',
          '--channels',
          channel === 'uds' ? 'tcp,uds' : `uds,${channel}`,
          '--modes',
          mode,
          '--sizes',
          size,
          '--duration',
          '3s',
          '--warmup',
          '10ms',
          '--peer-timeout',
          '1s',
          '--out-dir',
          outDir,
          '-o',
          'json',
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
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    it(`${signal}: keeps the finished cases, writes the reports, says what was not measured, exits ${code}, leaves nothing`, async () => {
      await leakChecked(async (outDir) => {
        const run = startCli([
          'run',
          '--target',
          'local',
          '--channels',
          'tcp,shm,mq,sysv-mq,file',
          '--modes',
          'latency',
          '--sizes',
          '64',
          '--duration',
          '400ms',
          '--warmup',
          '10ms',
          '--out-dir',
          outDir,
        ]);
        await waitForStderr(run, (s) => s.includes('[2/5]'));
        run.child.kill(signal);
        const result = await run.result;
        const doc = readResults(outDir);

        assert.equal(result.code, code, result.stderr);
        assert.ok(doc.cases.length >= 2 && doc.cases.length < 5, `${doc.cases.length} cases saved`);
        // The signal lands in a case (recorded as interrupted) or, rarely, between two.
        const finished = doc.cases.at(-1)!.status === 'interrupted' ? doc.cases.slice(0, -1) : doc.cases;
        assert.ok(
          finished.length >= 2 && finished.every((c) => c.status === 'ok'),
          JSON.stringify(doc.cases.map((c) => c.status)),
        );
        assert.equal(doc.run.complete, false);
        assert.equal(doc.run.incompleteReason, `interrupted by ${signal}`);
        assert.ok(
          existsSync(join(outDir, 'report.html')) && existsSync(join(outDir, 'report.md')),
          'the reports are written',
        );
        assert.match(result.stderr, new RegExp(`${signal}: stopping the case in progress and cleaning up`));
        assert.match(result.stderr, /not measured: .*file latency 64 B/);
        assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
      });
    });
  }
});

/** Starts a local run of one 60 s case and resolves once that case has been running for `intoCaseMs`. */
async function startLongCase(outDir: string, channel: string, mode: string, size: string, intoCaseMs = 2500) {
  const run = startCli([
    'run',
    '--target',
    'local',
    '--channels',
    channel,
    '--modes',
    mode,
    '--sizes',
    size,
    '--duration',
    '60s',
    '--warmup',
    '10ms',
    '--out-dir',
    outDir,
  ]);
  await waitIntoFirstCase(run, outDir, intoCaseMs);
  return run;
}

describe('a signal in the middle of a long case', () => {
  // Each channel's blocking wait: a futex (shm), a semaphore (shm-sem), an interrupted msgrcv
  // (sysv-mq), mq_timedreceive, inotify and poll (file), poll on a pipe (fifo), a socket (tcp),
  // and a send blocked on a full socket (uds throughput).
  const cases = [
    ['shm', 'latency', '64'],
    ['shm-sem', 'latency', '64'],
    ['fifo', 'latency', '64'],
    ['sysv-mq', 'latency', '64'],
    ['mq', 'throughput', '1k'],
    ['file', 'latency', '1k'],
    ['tcp', 'latency', '64'],
    ['uds', 'throughput', '1Mi'],
  ] as const;
  for (const [channel, mode, size] of cases) {
    it(
      `${channel} ${mode} ${size}: Ctrl-C stops the 60 s case within about a second; ` +
        'it is recorded as interrupted, the reports are written, nothing is left',
      async () => {
        await leakChecked(async (outDir) => {
          // The agents end the case themselves, well before TERM_GRACE_MS, after which they would be killed.
          const result = await interruptFirstCase(
            ['--target', 'local', '--channels', channel, '--modes', mode, '--sizes', size, '--warmup', '10ms'],
            outDir,
            2500,
            5000,
          );
          assert.ok(
            existsSync(join(outDir, 'report.html')) && existsSync(join(outDir, 'report.md')),
            'the reports are written',
          );
          assert.match(result.stdout, /1 of 1 cases: 0 ok, 0 skipped, 0 failed, 1 interrupted/);
          assert.equal(result.stderr.match(/interrupted/g)?.length, 1, `"interrupted" once: ${result.stderr}`);
          assert.match(
            result.stderr,
            new RegExp(
              `podbench: run incomplete \\(interrupted by SIGINT\\): 0 of 1 cases saved in .*; not measured: ${channel} ${mode}`,
            ),
          );
        });
      },
    );
  }

  it(
    'a second Ctrl-C while the first waits for agents that do not answer (stopped): ' +
      'exits at once, says so once, leaves nothing',
    async () => {
      await leakChecked(async (outDir) => {
        const run = await startLongCase(outDir, 'shm', 'latency', '64', 1000);
        const agents = childPids(run.child.pid!, '--role');
        assert.equal(agents.length, 2, 'found both agents');
        for (const pid of agents) process.kill(pid, 'SIGSTOP');
        run.child.kill('SIGINT');
        await waitForStderr(run, (s) => s.includes('SIGINT: stopping the case in progress'));
        run.child.kill('SIGINT');
        const result = await run.result;

        assert.equal(result.code, 130, result.stderr);
        assert.equal(
          result.stderr.match(/SIGINT again: killing the agents and exiting without waiting for them/g)?.length,
          1,
          result.stderr,
        );
        assert.equal(
          result.stderr.match(/^podbench: run incomplete \(interrupted by SIGINT/gm)?.length,
          1,
          result.stderr,
        );
        assert.equal(readResults(outDir).cases[0]!.status, 'interrupted');
        for (const pid of agents) assert.throws(() => process.kill(pid, 0), /ESRCH/, `agent ${pid} is gone`);
      });
    },
  );
});

describe('a long TMPDIR (the shared directory of the local target)', () => {
  it(
    'tcp and the control socket do not depend on it; uds is skipped with the reason; ' +
      'nothing is left; the next run works too',
    async () => {
      const before = snapshotLeftovers();
      const base = mkdtempSync(join(tmpdir(), 'pbtest-'));
      // 136 bytes and more: every socket path in it is over the kernel's 107.
      const longTmp = join(base, 'x'.repeat(120));
      mkdirSync(longTmp);
      const outDir = join(base, 'out');
      try {
        for (const round of [1, 2]) {
          const r = spawnSync(
            process.execPath,
            [
              CLI,
              'run',
              '--target',
              'local',
              '--channels',
              'tcp,uds,shm',
              '--modes',
              'latency',
              '--sizes',
              '64',
              '--duration',
              '100ms',
              '--warmup',
              '0ms',
              '--out-dir',
              `${outDir}${round}`,
            ],
            {
              encoding: 'utf8',
              env: { ...process.env, TMPDIR: longTmp },
              timeout: 60_000,
            },
          );
          assert.equal(r.status, 0, r.stderr);
          const doc = readResults(`${outDir}${round}`);
          assert.deepEqual(
            doc.cases.map((c) => `${c.channel}:${c.status}`),
            ['tcp:ok', 'uds:skipped', 'shm:ok'],
            `round ${round}`,
          );
          assert.match(
            doc.cases[1]!.reason!,
            /^the socket path in the shared directory .* is \d+ bytes, over the 107 the kernel allows for a Unix socket; use a shorter TMPDIR$/,
          );
          assert.deepEqual(readdirSync(longTmp), [], 'no run directory or socket file is left in TMPDIR');
        }
      } finally {
        rmSync(base, { recursive: true, force: true });
      }
      assert.deepEqual(newLeftovers(before, snapshotLeftovers()), NOTHING_LEFT);
    },
  );
});

describe('a responder stopped (SIGSTOP) longer than --peer-timeout, then continued', () => {
  it("fails the cases it stalls, after the peer timeout, never with another case's answer; the run goes on to the end", async () => {
    await leakChecked(async (outDir) => {
      const run = startCli([
        'run',
        '--target',
        'local',
        '--channels',
        'uds,shm,sysv-mq,tcp,mq',
        '--modes',
        'latency',
        '--sizes',
        '64',
        '--duration',
        '1500ms',
        '--warmup',
        '10ms',
        '--peer-timeout',
        '1s',
        '--out-dir',
        outDir,
        '-o',
        'json',
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
      assert.deepEqual(
        doc.cases.map((c) => c.channel),
        ['uds', 'shm', 'sysv-mq', 'tcp', 'mq'],
      );
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

describe('a protocol responder stopped (SIGSTOP) mid-case: the initiator gives up after the peer timeout', () => {
  // Waits no receive covers: an HTTP 204 awaited before the next request, a gRPC stream's drain.
  for (const [channel, mode] of [
    ['http1', 'throughput'],
    ['h2', 'throughput'],
    ['grpc', 'latency'],
    ['grpc-uds', 'throughput'],
  ] as const) {
    it(`${channel} ${mode}: the case fails naming the silent responder, the run goes on`, async () => {
      await leakChecked(async (outDir) => {
        const run = startCli([
          ...['run', '--target', 'local', '--channels', channel, '--modes', mode, '--sizes', '64Ki'],
          ...['--duration', '3s', '--warmup', '10ms', '--peer-timeout', '1s', '--out-dir', outDir, '-o', 'json'],
        ]);
        // Case 1 is the raw channel the protocol rides on; stop the responder inside case 2.
        await waitForStderr(run, (s) => /\[1\/2\] \S+ \S+ \S+ \S+ {2}ok/.test(s));
        await new Promise((r) => setTimeout(r, 500));
        const [responder] = childPids(run.child.pid!, '--role responder');
        assert.ok(responder, 'found the responder process');
        process.kill(responder, 'SIGSTOP');
        await new Promise((r) => setTimeout(r, 4000));
        process.kill(responder, 'SIGCONT');
        const result = await run.result;
        const doc = readResults(outDir);
        assert.equal(doc.run.complete, true, result.stderr);
        const stalled = doc.cases.find((c) => c.channel === channel)!;
        assert.equal(stalled.status, 'failed', `${channel}: ${stalled.reason}`);
        assert.match(stalled.reason ?? '', /responder|did not answer/i);
        assert.equal(result.code, 1, result.stderr);
        assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
      });
    });
  }
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
    spawnSync(
      process.execPath,
      [
        CLI,
        'run',
        '--target',
        'local',
        '--channels',
        'tcp,uds,shm,mq,sysv-mq',
        '--modes',
        'latency',
        '--sizes',
        '64',
        '--duration',
        '50ms',
        '--warmup',
        '0ms',
        '--out-dir',
        outDir,
      ],
      { encoding: 'utf8', env, timeout: 60_000 },
    );

  it('on a read-only filesystem: one line naming --out-dir and the cause', () =>
    withTmpfs('1m', async (dir) => {
      assert.equal(spawnSync('mount', ['-o', 'remount,ro', dir]).status, 0);
      const r = run(join(dir, 'out'));
      assert.equal(r.status, 1, r.stderr);
      assert.equal(
        r.stderr.trim().split('\n').at(-1),
        `podbench: --out-dir ${join(dir, 'out')} cannot be made: ${dir} is on a read-only filesystem`,
      );
    }));

  it('on a full filesystem: one line naming the file and the cause, the cases saved before kept, no temp file left', () =>
    withTmpfs('16k', async (dir) => {
      const outDir = join(dir, 'out');
      const before = snapshotLeftovers();
      const r = run(outDir);
      assert.equal(r.status, 1, r.stderr);
      const line = r.stderr.trim().split('\n').at(-1)!;
      assert.match(
        line,
        new RegExp(
          `^podbench: cannot write ${join(outDir, 'results.json').replace(/[.]/g, '\\.')} \\(--out-dir ${outDir}\\): no space left on the device; it holds the (\\d+) case\\(s\\) saved before$`,
        ),
      );
      const saved = Number(/holds the (\d+) case/.exec(line)![1]);
      assert.equal(readResults(outDir).cases.length, saved, 'results.json is the last document that fitted');
      assert.match(r.stdout, new RegExp(`^${saved} of \\d+ cases: `, 'm'), `stdout lists the cases kept: ${r.stdout}`);
      assert.match(r.stdout, /holds the cases above$/m);
      assert.deepEqual(
        readdirSync(outDir).filter((f) => f.endsWith('.tmp')),
        [],
        'no temp file left',
      );
      assert.deepEqual(newLeftovers(before, snapshotLeftovers()), NOTHING_LEFT);
    }));

  it('a TMPDIR that does not exist: one line naming TMPDIR, exit 2', () => {
    const outDir = mkdtempSync(join(tmpdir(), 'pbtest-'));
    try {
      const r = run(join(outDir, 'out'), { ...process.env, TMPDIR: '/nonexistent-pbtest' });
      assert.equal(r.status, 2, r.stderr);
      assert.equal(
        r.stderr.trim().split('\n').at(-1),
        'podbench: TMPDIR /nonexistent-pbtest does not exist; local runs make their run directories there ' +
          '(set TMPDIR to a directory that exists)',
      );
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  });
});

describe('a low open-file limit (ulimit -n)', () => {
  const fixture = (name: string) => join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'fixtures', name);
  /** Runs podbench with RLIMIT_NOFILE lowered to `limit`, soft and hard, for that process only. */
  const withLimit = (limit: number, args: string[]) =>
    spawnSync('bash', ['-c', `ulimit -n ${limit} && exec "$0" "$@"`, process.execPath, CLI, ...args], {
      encoding: 'utf8',
      timeout: 120_000,
    });

  it('at 64: --version, --help, report, compare and clean of local runs work', () => {
    const version = withLimit(64, ['--version']);
    assert.equal(version.status, 0, version.stderr);
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
    for (const args of [['--help'], ['run', '--help']]) {
      const help = withLimit(64, args);
      assert.equal(help.status, 0, help.stderr);
      assert.match(help.stdout, /^Usage: podbench/);
    }
    for (const format of ['html', 'markdown', 'csv']) {
      const report = withLimit(64, ['report', fixture('results-mixed.json'), '--format', format]);
      assert.equal(report.status, 0, `${format}: ${report.stderr}`);
      assert.ok(report.stdout.length > 500, `${format} report written`);
    }
    const compare = withLimit(64, ['compare', fixture('results-repeats.json'), fixture('results-repeats.json')]);
    assert.equal(compare.status, 0, compare.stderr);
    assert.match(compare.stdout, /p50/);
    const clean = withLimit(64, ['clean', '--target', 'local', '--dry-run']);
    assert.equal(clean.status, 0, clean.stderr);
    assert.match(clean.stdout, /local runs|nothing of earlier local runs/);
  });

  it('a run that needs more than the limit fails at once, naming RLIMIT_NOFILE, its value and what the run needs', () => {
    const local = withLimit(48, [
      'run',
      '--target',
      'local',
      '--channels',
      'tcp',
      '--duration',
      '100ms',
      '--out-dir',
      join(tmpdir(), 'pbtest-never-written'),
    ]);
    assert.equal(local.status, 1, local.stderr);
    assert.equal(
      local.stderr.trim().split('\n').at(-1),
      'podbench: RLIMIT_NOFILE (ulimit -n) is 48; podbench needs at least 64 open files for a local run ' +
        '(the agents inherit the limit): the hard limit is 48 too, so raise both (ulimit -Hn needs root, or limits.conf)',
    );
    assert.equal(existsSync(join(tmpdir(), 'pbtest-never-written')), false, 'nothing was started or written');
    if (Number(process.versions.node.split('.')[0]) < 22) {
      // Node 20 opens the Kubernetes client's ~700 modules at once.
      const cluster = withLimit(64, ['run', '--target', 'kubernetes', '--channels', 'tcp']);
      assert.equal(cluster.status, 1, cluster.stderr);
      assert.match(
        cluster.stderr,
        /^podbench: RLIMIT_NOFILE \(ulimit -n\) is 64; podbench needs at least 1024 open files for a Kubernetes run: /m,
      );
    }
  });
});
