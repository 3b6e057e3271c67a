/**
 * What podbench could leave behind on this host: every kind of kernel object the channel registry
 * says a channel creates (POSIX shared memory and queues — /dev/mqueue mounted here if needed so
 * they can be seen — System V queues), and temp/tmpfs directories.
 */
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OBJECT_KINDS, type ObjectKind } from '../../agents/contract/channels.js';
import { KERNEL_OBJECTS } from '../../agents/kernel-objects.js';

function ensureMqueueMounted(): boolean {
  try {
    if (readFileSync('/proc/mounts', 'utf8').includes(' /dev/mqueue mqueue ')) return true;
    if (!existsSync('/dev/mqueue')) mkdirSync('/dev/mqueue');
    execFileSync('mount', ['-t', 'mqueue', 'none', '/dev/mqueue'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A snapshot of everything podbench-like on the host: objects by kind, and temp directories. */
export type Leftovers = { [kind in ObjectKind]: string[] } & { tmp: string[] };

/** Takes a snapshot; throws if /dev/mqueue cannot be inspected (the test must see queues). */
export function snapshotLeftovers(): Leftovers {
  if (!ensureMqueueMounted())
    throw new Error('cannot mount /dev/mqueue to inspect POSIX queues (run the tests as root)');
  const objects = Object.fromEntries(OBJECT_KINDS.map((kind) => [kind, KERNEL_OBJECTS[kind].onHost()])) as {
    [kind in ObjectKind]: string[];
  };
  return { ...objects, tmp: readdirSync(tmpdir()).filter((n) => n.startsWith('podbench')) };
}

/** What is in `after` but was not in `before`. */
export function newLeftovers(before: Leftovers, after: Leftovers): Leftovers {
  const diff = (a: string[], b: string[]) => b.filter((x) => !a.includes(x));
  return Object.fromEntries(
    Object.entries(after).map(([k, b]) => [k, diff(before[k as keyof Leftovers], b)]),
  ) as Leftovers;
}

/** The empty diff, for deepStrictEqual. */
/** Runs `body` with a fresh output directory, removes it, then checks the run left nothing behind. */
export async function leakChecked(body: (outDir: string) => Promise<void>): Promise<void> {
  const before = snapshotLeftovers();
  const outDir = mkdtempSync(join(tmpdir(), 'pbtest-'));
  try {
    await body(outDir);
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
  assert.deepEqual(newLeftovers(before, snapshotLeftovers()), NOTHING_LEFT);
}

export const NOTHING_LEFT = Object.fromEntries([...OBJECT_KINDS, 'tmp'].map((k) => [k, []])) as unknown as Leftovers;
