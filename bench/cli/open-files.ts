/**
 * The open-file limit (RLIMIT_NOFILE) a run needs, checked before a target is loaded or its
 * agents started: below it, Node fails while loading modules with EMFILE, or with a misleading
 * "Cannot find package" (a module it could not open), far from the cause.
 */
import { readFileSync } from 'node:fs';
import { CliError } from './errors.js';

/**
 * Open files each kind of run needs, with room to spare. Measured here by lowering `ulimit -n`
 * until a run of every channel, mode and size failed: local and podman runs worked from 40
 * (Node 20 and 24); a Kubernetes run from 800 on Node 20, which opens every module of a graph at
 * once (the Kubernetes client is some 700), and from 40 on Node 24, which reads them one by one
 * (Node 22, not measured, is counted with Node 20).
 */
const NEEDED_OPEN_FILES = {
  local: 64,
  podman: 64,
  kubernetes: Number(process.versions.node.split('.')[0]) < 24 ? 1024 : 64,
} as const;

/** A resource limit of this process: soft and hard (Infinity for unlimited). */
export interface ProcessLimit {
  readonly soft: number;
  readonly hard: number;
}

/**
 * A limit of this process by its name in /proc/self/limits (`Max open files`, `Max processes`),
 * read without native code so that every command can; undefined where /proc has none.
 */
export function processLimit(name: 'Max open files' | 'Max processes'): ProcessLimit | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(name));
    const [soft, hard] = (line?.slice(name.length).trim().split(/\s+/) ?? []).map((v) =>
      v === 'unlimited' ? Infinity : Number(v),
    );
    return soft !== undefined && hard !== undefined && !Number.isNaN(soft) && !Number.isNaN(hard)
      ? { soft, hard }
      : undefined;
  } catch {
    return undefined; // not Linux, or /proc not mounted: nothing to check against
  }
}

let known: ProcessLimit | undefined;

/**
 * RLIMIT_NOFILE, read once (bench/cli.ts reads it first thing: once the files are exhausted,
 * /proc cannot be opened either).
 */
export function openFileLimit(): ProcessLimit | undefined {
  return (known ??= processLimit('Max open files'));
}

/**
 * For an error that may come from too few open files (EMFILE, or a module Node "cannot find"
 * because it could not open it): a note naming the limit, or undefined when the limit is ample.
 */
export function openFileHint(err: unknown): string | undefined {
  // Node's module loader passes EMFILE on in its message, not always in the code.
  const code = /\bE[MN]FILE\b/.test(String((err as Error | undefined)?.message))
    ? 'EMFILE'
    : (err as NodeJS.ErrnoException | undefined)?.code;
  if (code !== 'EMFILE' && code !== 'ENFILE' && code !== 'ERR_MODULE_NOT_FOUND') return undefined;
  const limit = openFileLimit();
  if (!limit || (code === 'ERR_MODULE_NOT_FOUND' && limit.soft >= NEEDED_OPEN_FILES.kubernetes)) return undefined;
  return `the open-file limit (RLIMIT_NOFILE, ulimit -n) is ${limit.soft}: raise it to ${NEEDED_OPEN_FILES.kubernetes} or more`;
}

/** One line naming RLIMIT_NOFILE when it is below what a `kind` run needs, else undefined. */
export function openFilesProblem(kind: keyof typeof NEEDED_OPEN_FILES, purpose: string): string | undefined {
  const limit = openFileLimit();
  const needed = NEEDED_OPEN_FILES[kind];
  if (!limit || limit.soft >= needed) return undefined;
  const raise =
    limit.hard >= needed
      ? `raise it with ulimit -n ${needed}`
      : `the hard limit is ${limit.hard} too, so raise both (ulimit -Hn needs root, or limits.conf)`;
  return `RLIMIT_NOFILE (ulimit -n) is ${limit.soft}; podbench needs at least ${needed} open files ${purpose}: ${raise}`;
}

/** Fails at once, naming RLIMIT_NOFILE, when the limit is below what a `kind` run needs. */
export function requireOpenFiles(kind: keyof typeof NEEDED_OPEN_FILES, purpose: string): void {
  const problem = openFilesProblem(kind, purpose);
  if (problem) throw new CliError(problem, 1);
}
