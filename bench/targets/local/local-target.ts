/**
 * The local target: the two agents as processes on this host. They share localhost and the IPC
 * namespace by being on the same host, a fresh run directory (disk) and a fresh directory on
 * /dev/shm (tmpfs), all removed afterwards. Each run directory names its owner's pid, so a later
 * run can find and remove what a killed run left behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { AGENT_MAIN } from '../../install-paths.js';
import type { Plan } from '../../../agents/contract/schema.js';
import { filesystemType } from '../../../agents/kernel-limits.js';
import { ObjectJournal } from '../../../agents/object-journal.js';
import { journalPath } from '../../../agents/run-context.js';
import { agentEvents, explainingLine } from '../../running/agent-events.js';
import { agentNodeOptions } from '../../pod/agent-runtime.js';
import { CliError } from '../../cli/errors.js';
import { exitDiagnosis, stopOnce, type RunningPair, type Target } from '../target.js';
import { isAlive } from '../owner-alive.js';

const RUN_DIR_PREFIX = 'podbench-';
const OWNER_FILE = 'owner.json';
/** How long agents get to exit by themselves once the run is over, before SIGTERM. */
const EXIT_GRACE_MS = 3000;
/**
 * How long an agent gets after SIGTERM before SIGKILL. A case in progress sees the signal within
 * a tenth of a second (the loop yields for it); one stuck in a kernel wait for a peer that is
 * gone is killed, and the orchestrator's journal replay removes what it created.
 */
const TERM_GRACE_MS = 1500;

interface Owner {
  readonly pid: number;
  readonly runId: string;
  readonly tmpfsDir: string;
}

/**
 * Reads a run directory's owner.json, trusting it only as far as it can be ours: a directory of
 * this user (not a link), a run id of our shape, a tmpfs dir that podbench would have made.
 */
function readOwner(runDir: string): Owner | undefined {
  try {
    const st = lstatSync(runDir);
    if (!st.isDirectory() || st.uid !== process.getuid?.()) return undefined;
    const owner = JSON.parse(readFileSync(join(runDir, OWNER_FILE), 'utf8')) as Owner;
    const tmpfsOk =
      /^\/dev\/shm\/podbench-[A-Za-z0-9]{6}$/.test(owner.tmpfsDir) || owner.tmpfsDir === join(runDir, 'tmpfs');
    if (!Number.isInteger(owner.pid) || !/^[a-z0-9]{4,32}$/.test(owner.runId) || !tmpfsOk) return undefined;
    return owner;
  } catch {
    return undefined; // not ours, or still being created
  }
}

/** Removes a run's kernel objects and directories. */
function removeRun(runDir: string, owner: Owner): void {
  new ObjectJournal(journalPath(join(runDir, 'disk'), owner.runId), owner.runId).removeAll();
  rmSync(owner.tmpfsDir, { recursive: true, force: true });
  rmSync(runDir, { recursive: true, force: true });
}

/**
 * Removes what earlier local runs whose orchestrator died left behind (or, with `dryRun`, only
 * finds it); returns the run directories, each with the run id it belonged to.
 */
export function sweepStaleRuns(parent = tmpdir(), dryRun = false): { runDir: string; runId: string }[] {
  if (!existsSync(parent))
    throw new CliError(
      `TMPDIR ${parent} does not exist; local runs make their run directories there (set TMPDIR to a directory that exists)`,
      2,
    );
  const swept: { runDir: string; runId: string }[] = [];
  for (const name of readdirSync(parent)) {
    if (!name.startsWith(RUN_DIR_PREFIX)) continue;
    const runDir = join(parent, name);
    const owner = readOwner(runDir);
    if (!owner || isAlive(owner.pid)) continue;
    if (!dryRun) removeRun(runDir, owner);
    swept.push({ runDir, runId: owner.runId });
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

/**
 * Reads an agent's stderr line by line: each line goes to `onLine` (shown with --debug), and the
 * returned function gives the last error line — the agent's own `podbench-agent: …` line when it
 * wrote one (Node prints its version after an uncaught error, which explains nothing).
 */
function watchStderr(child: ChildProcess, onLine: (line: string) => void): () => string | undefined {
  const tail: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    onLine(line);
    tail.push(line);
    if (tail.length > 50) tail.shift();
  });
  return () => explainingLine(tail.join('\n'));
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((r) => child.once('exit', () => r()));
}

const delay = (ms: number) => new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref());

/**
 * Gives an agent `graceMs` to exit by itself, then SIGTERM and {@link TERM_GRACE_MS} (it ends
 * the case in progress and removes what it created), then SIGKILL (the orchestrator's journal
 * replay removes what is left).
 */
async function ensureExit(child: ChildProcess, graceMs: number): Promise<void> {
  if ((await Promise.race([exited(child), delay(graceMs)])) !== 'timeout') return;
  child.kill('SIGTERM');
  if ((await Promise.race([exited(child), delay(TERM_GRACE_MS)])) !== 'timeout') return;
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
        env: {
          ...process.env,
          PODBENCH_PLAN: JSON.stringify(plan),
          NODE_OPTIONS: agentNodeOptions(plan, process.env.NODE_OPTIONS),
        },
        // Own process group: Ctrl-C reaches the orchestrator only, which stops the agents in order.
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    const responder = spawnAgent('responder');
    const initiator = spawnAgent('initiator');
    const agents = { initiator, responder };
    const show = (role: string) => (line: string) => this.options.onAgentLine?.(role, line);
    const lastErrorOf = {
      initiator: watchStderr(initiator, show('initiator')),
      responder: watchStderr(responder, show('responder')),
    };
    createInterface({ input: responder.stdout! }).on('line', show('responder'));

    const stop = stopOnce({
      async halt(abort) {
        if (abort) await Promise.all([ensureExit(initiator, 0), ensureExit(responder, 0)]);
        else {
          await ensureExit(initiator, EXIT_GRACE_MS);
          await ensureExit(responder, EXIT_GRACE_MS);
        }
      },
      diagnose() {
        const failed = Object.entries(agents).find(([, c]) => c.exitCode !== 0);
        if (!failed) return undefined;
        const [role, child] = failed;
        return exitDiagnosis(
          role,
          'agent',
          child.exitCode ?? child.signalCode ?? 'no code',
          lastErrorOf[role as keyof typeof lastErrorOf](),
        );
      },
      cleanup: () => removeRun(runDir, owner),
    });

    const abandon = async (): Promise<void> => {
      for (const child of [initiator, responder]) child.kill('SIGKILL');
      await Promise.all([exited(initiator), exited(responder)]);
      removeRun(runDir, owner);
    };

    return {
      events: agentEvents(initiator.stdout!, show('initiator')),
      stop,
      abandon,
    };
  }
}
