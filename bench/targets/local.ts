/**
 * The local target: the two agents as processes on this host. They share localhost and the IPC
 * namespace by being on the same host, a fresh run directory (disk) and a fresh directory on
 * /dev/shm (tmpfs), all removed afterwards. Each run directory names its owner's pid, so a later
 * run can find and remove what a killed run left behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plan } from '../../agents/contract/schema.js';
import { filesystemType } from '../../agents/kernel-limits.js';
import { ObjectJournal } from '../../agents/object-journal.js';
import { journalPath } from '../../agents/run-context.js';
import { agentEvents } from '../agent-events.js';
import type { RunningPair, Target } from './target.js';

const RUN_DIR_PREFIX = 'podbench-';
const OWNER_FILE = 'owner.json';
/** How long agents get to finish a case and clean up after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 3000;

/** The compiled agent entry point, next to this package's compiled orchestrator. */
export const AGENT_MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'agents', 'main.js');

interface Owner {
  readonly pid: number;
  readonly runId: string;
  readonly tmpfsDir: string;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes a run's kernel objects and directories. */
function removeRun(runDir: string, owner: Owner): void {
  new ObjectJournal(journalPath(join(runDir, 'disk'), owner.runId)).removeAll();
  rmSync(owner.tmpfsDir, { recursive: true, force: true });
  rmSync(runDir, { recursive: true, force: true });
}

/** Removes what earlier local runs whose orchestrator died left behind; returns how many. */
export function sweepStaleRuns(parent = tmpdir()): number {
  let swept = 0;
  for (const name of readdirSync(parent)) {
    if (!name.startsWith(RUN_DIR_PREFIX)) continue;
    const runDir = join(parent, name);
    let owner: Owner;
    try {
      owner = JSON.parse(readFileSync(join(runDir, OWNER_FILE), 'utf8')) as Owner;
    } catch {
      continue; // not ours, or still being created
    }
    if (isAlive(owner.pid)) continue;
    removeRun(runDir, owner);
    swept++;
  }
  return swept;
}

/** A directory on tmpfs for `tmpfs-file`: /dev/shm when it is tmpfs, else inside the run dir. */
function makeTmpfsDir(runDir: string): string {
  if (filesystemType('/dev/shm') === 'tmpfs') return mkdtempSync('/dev/shm/podbench-');
  const dir = join(runDir, 'tmpfs');
  mkdirSync(dir);
  return dir;
}

/** Collects the last lines an agent wrote to stderr, to explain its failure. */
function lastLines(child: ChildProcess, keep = 5): () => string[] {
  const lines: string[] = [];
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    lines.push(...chunk.split('\n').filter(Boolean));
    lines.splice(0, Math.max(0, lines.length - keep));
  });
  return () => lines;
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

const delay = (ms: number) => new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref());

/**
 * Gives an agent `graceMs` to exit by itself, then SIGTERM (it removes what it created at its next
 * chance, at the latest when the case in progress ends), then SIGKILL.
 */
async function ensureExit(child: ChildProcess, graceMs: number): Promise<void> {
  if ((await Promise.race([exited(child), delay(graceMs)])) !== 'timeout') return;
  child.kill('SIGTERM');
  if ((await Promise.race([exited(child), delay(STOP_GRACE_MS)])) !== 'timeout') return;
  child.kill('SIGKILL');
  await exited(child);
}

/** Options for the local target. */
export interface LocalTargetOptions {
  /** Called with agent output lines that are not events (shown with --debug). */
  readonly onAgentLine?: (role: string, line: string) => void;
}

/** Runs both agents as local processes. */
export class LocalTarget implements Target {
  readonly name = 'local';

  constructor(private readonly options: LocalTargetOptions = {}) {}

  async start(plan: Plan): Promise<RunningPair> {
    sweepStaleRuns();
    const runDir = mkdtempSync(join(tmpdir(), RUN_DIR_PREFIX));
    const owner: Owner = { pid: process.pid, runId: plan.runId, tmpfsDir: makeTmpfsDir(runDir) };
    writeFileSync(join(runDir, OWNER_FILE), JSON.stringify(owner));
    const disk = join(runDir, 'disk');
    mkdirSync(disk);

    const spawnAgent = (role: 'initiator' | 'responder') =>
      spawn(process.execPath, [AGENT_MAIN, '--role', role, '--disk-dir', disk, '--tmpfs-dir', owner.tmpfsDir], {
        env: { ...process.env, PODBENCH_PLAN: JSON.stringify(plan) },
        // Own process group: Ctrl-C reaches the orchestrator only, which stops the agents in order.
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    const responder = spawnAgent('responder');
    const initiator = spawnAgent('initiator');
    const agents = { initiator, responder };
    const stderrOf = { initiator: lastLines(initiator), responder: lastLines(responder) };
    responder.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      for (const line of chunk.split('\n').filter(Boolean)) this.options.onAgentLine?.('responder', line);
    });
    for (const [role, child] of Object.entries(agents)) {
      child.stderr?.on('data', (chunk: string) => {
        for (const line of String(chunk).split('\n').filter(Boolean)) this.options.onAgentLine?.(role, line);
      });
    }

    let stopped: Promise<string | undefined> | undefined;
    const stop = (abort: boolean): Promise<string | undefined> =>
      (stopped ??= (async () => {
        if (abort) await Promise.all([ensureExit(initiator, 0), ensureExit(responder, 0)]);
        else {
          await ensureExit(initiator, STOP_GRACE_MS);
          await ensureExit(responder, STOP_GRACE_MS);
        }
        removeRun(runDir, owner);
        if (abort) return undefined;
        const failed = Object.entries(agents).find(([, c]) => c.exitCode !== 0);
        if (!failed) return undefined;
        const [role, child] = failed;
        const last = stderrOf[role as keyof typeof stderrOf]().at(-1);
        return `the ${role} agent exited with ${child.exitCode ?? child.signalCode}${last ? `: ${last}` : ''}`;
      })());

    return {
      events: agentEvents(initiator.stdout!, (line) => this.options.onAgentLine?.('initiator', line)),
      stop,
    };
  }
}
