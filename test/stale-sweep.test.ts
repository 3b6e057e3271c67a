/**
 * A run whose orchestrator was killed leaves a run directory and kernel objects; the next local
 * run finds them through owner.json and the object journal and removes them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as libc from '../agents/native/libc.js';
import { ObjectJournal } from '../agents/object-journal.js';
import { journalPath } from '../agents/run-context.js';
import { sweepStaleRuns } from '../bench/targets/local/local-target.js';
import { CLI } from './helpers/run-cli.js';

test('sweepStaleRuns removes the objects and directories of dead runs only', () => {
  const parent = mkdtempSync(join(tmpdir(), 'pbtest-sweep-'));
  try {
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!; // exited: its pid is free
    const make = (name: string, pid: number, runId: string) => {
      const runDir = join(parent, `podbench-${name}`);
      const tmpfsDir = mkdtempSync('/dev/shm/podbench-');
      mkdirSync(join(runDir, 'disk'), { recursive: true });
      writeFileSync(join(runDir, 'owner.json'), JSON.stringify({ pid, runId, tmpfsDir }));
      const shmName = `/podbench-${runId}-0`;
      new ObjectJournal(journalPath(join(runDir, 'disk'), runId), runId).record('shm', shmName);
      libc.close(libc.check(libc.shmOpen(shmName, libc.O.RDWR | libc.O.CREAT, 0o600), 'shm_open'));
      const mqName = `/podbench-${runId}-0-a`;
      new ObjectJournal(journalPath(join(runDir, 'disk'), runId), runId).record('mq', mqName);
      libc.mqClose(libc.mqOpen(mqName, libc.O.RDWR | libc.O.CREAT, 1, 64));
      const semid = libc.check(libc.semget(0 /* IPC_PRIVATE */, 4, libc.IPC.CREAT | 0o600), 'semget');
      new ObjectJournal(journalPath(join(runDir, 'disk'), runId), runId).record('sysv-sem', String(semid));
      return { runDir, tmpfsDir, shm: join('/dev/shm', shmName.slice(1)), mqName, semid };
    };
    const dead = make('dead', deadPid, 'deadrun001');
    const alive = make('alive', process.pid, 'aliverun01');

    assert.deepEqual(
      sweepStaleRuns(parent, true),
      [{ runDir: dead.runDir, runId: 'deadrun001' }],
      'a dry run finds the dead run',
    );
    assert.equal(existsSync(dead.runDir), true, 'and leaves it');
    assert.equal(sweepStaleRuns(parent).length, 1);
    assert.equal(existsSync(dead.runDir), false);
    assert.equal(existsSync(dead.tmpfsDir), false);
    assert.equal(existsSync(dead.shm), false, "the dead run's shared memory is removed");
    assert.equal(libc.mqUnlink(dead.mqName), -1, "the dead run's queue is removed");
    const GETVAL = 12;
    assert.equal(libc.semctl(dead.semid, 0, GETVAL, 0), -1, "the dead run's semaphore set is removed");
    assert.equal(libc.semctl(alive.semid, 0, GETVAL, 0), 0, "a live run's semaphore set is left");
    assert.equal(existsSync(alive.runDir), true, 'a live run is left alone');
    assert.equal(existsSync(alive.shm), true);

    libc.shmUnlink(`/podbench-aliverun01-0`);
    libc.mqUnlink(alive.mqName);
    libc.semctl(alive.semid, 0, libc.IPC.RMID, 0);
    rmSync(alive.tmpfsDir, { recursive: true, force: true });
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});

test("a planted owner.json or journal cannot make the sweep remove what is not podbench's", () => {
  const parent = mkdtempSync(join(tmpdir(), 'pbtest-sweep-'));
  const victimDir = mkdtempSync(join(tmpdir(), 'pbtest-victim-'));
  const victimShm = `/pbtest-victim-${process.pid}`;
  libc.close(libc.check(libc.shmOpen(victimShm, libc.O.RDWR | libc.O.CREAT, 0o600), 'shm_open'));
  try {
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;
    const planted = join(parent, 'podbench-planted');
    mkdirSync(join(planted, 'disk'), { recursive: true });
    writeFileSync(
      join(planted, 'owner.json'),
      JSON.stringify({ pid: deadPid, runId: 'plantedrun', tmpfsDir: victimDir }),
    );
    const journaled = join(parent, 'podbench-journal');
    mkdirSync(join(journaled, 'disk'), { recursive: true });
    writeFileSync(
      join(journaled, 'owner.json'),
      JSON.stringify({ pid: deadPid, runId: 'journalrun', tmpfsDir: join(journaled, 'tmpfs') }),
    );
    writeFileSync(journalPath(join(journaled, 'disk'), 'journalrun'), `shm ${victimShm}\n`);

    assert.equal(sweepStaleRuns(parent).length, 1, 'only the run with a well-formed owner.json is swept');
    assert.equal(existsSync(victimDir), true, 'a tmpfsDir outside /dev/shm/podbench-* is not removed');
    assert.equal(existsSync(planted), true);
    assert.equal(
      existsSync(join('/dev/shm', victimShm.slice(1))),
      true,
      'a journal entry without the run prefix is not removed',
    );
  } finally {
    libc.shmUnlink(victimShm);
    rmSync(victimDir, { recursive: true, force: true });
    rmSync(parent, { recursive: true, force: true });
  }
});

test('podbench clean --target local: --dry-run lists a dead run, then clean removes it and its objects', () => {
  // TMPDIR points the CLI at a parent of its own, so no other run on this machine is touched.
  const parent = mkdtempSync(join(tmpdir(), 'pbtest-clean-'));
  try {
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;
    const runDir = join(parent, 'podbench-dead');
    const tmpfsDir = mkdtempSync('/dev/shm/podbench-');
    mkdirSync(join(runDir, 'disk'), { recursive: true });
    writeFileSync(join(runDir, 'owner.json'), JSON.stringify({ pid: deadPid, runId: 'cleanrun01', tmpfsDir }));
    const shmName = '/podbench-cleanrun01-0';
    new ObjectJournal(journalPath(join(runDir, 'disk'), 'cleanrun01'), 'cleanrun01').record('shm', shmName);
    libc.close(libc.check(libc.shmOpen(shmName, libc.O.RDWR | libc.O.CREAT, 0o600), 'shm_open'));
    const clean = (...args: string[]) =>
      spawnSync(process.execPath, [CLI, 'clean', '--target', 'local', ...args], {
        encoding: 'utf8',
        env: { ...process.env, TMPDIR: parent },
      });

    const dry = clean('--dry-run');
    assert.equal(dry.status, 0, dry.stderr);
    assert.equal(
      dry.stdout,
      `${runDir}\trun cleanrun01, its orchestrator is gone\nwould remove 1 local run (directories and kernel objects) (--dry-run)\n`,
    );
    assert.equal(existsSync(runDir), true, '--dry-run removes nothing');
    const done = clean();
    assert.equal(done.status, 0, done.stderr);
    assert.match(done.stdout, /^removed 1 local run \(directories and kernel objects\)$/m);
    assert.equal(existsSync(runDir), false);
    assert.equal(existsSync(tmpfsDir), false);
    assert.equal(existsSync(join('/dev/shm', shmName.slice(1))), false, 'its shared memory is removed');
    assert.equal(clean().stdout, 'nothing of earlier local runs to remove\n');
    const bad = clean('--target', 'nowhere');
    assert.equal(bad.status, 2);
    assert.match(
      bad.stderr,
      /^podbench: option '--target <name>' argument 'nowhere' is invalid\. Allowed choices are auto, local, podman, kubernetes\./,
    );
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});
