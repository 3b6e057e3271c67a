/**
 * results.json, written as the run goes: created before the first case, rewritten (to a temp
 * file, then renamed over) after every event that adds to it, so an interrupted run leaves a
 * valid document holding every case finished so far.
 */
import { accessSync, constants, existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import {
  SCHEMA_VERSION,
  validateResultsDocument,
  type CaseResult,
  type ClusterNode,
  type Environment,
  type HarnessFloor,
  type Plan,
  type ResultsDocument,
} from '../../agents/contract/schema.js';
import { CliError } from '../cli/errors.js';

/** Kernel filesystems where Node's recursive mkdir never returns (ENOENT for the child, EEXIST for the parent). */
const KERNEL_FILESYSTEMS = ['/proc', '/sys'];

/**
 * Why results cannot go to `outDir` (`flag` names where it came from), checked before anything
 * starts: a vanished current directory for a relative path, a kernel filesystem, a file, or a
 * directory that already holds results. Undefined when it can be used.
 */
export function outDirProblem(outDir: string, flag: string): string | undefined {
  let absolute: string;
  try {
    absolute = resolve(outDir); // reads the current directory for a relative path
  } catch {
    return (
      `the current directory no longer exists, so ${flag} ${outDir} cannot be made in it; ` +
      'cd to a directory that exists or pass an absolute --out-dir'
    );
  }
  const kernel = KERNEL_FILESYSTEMS.find((fs) => absolute === fs || absolute.startsWith(`${fs}/`));
  if (kernel) return `${flag} ${outDir} is under ${kernel}, a kernel filesystem where no directory can be made`;
  const stat = statSync(absolute, { throwIfNoEntry: false });
  if (stat && !stat.isDirectory()) return `${flag} ${outDir} is a file, not a directory`;
  if (stat && existsSync(join(absolute, 'results.json')))
    return `${flag} ${outDir} already holds a results.json; choose a new directory or remove it`;
  return undefined;
}

/**
 * Why writing under `dir` failed, in words: a read-only filesystem shows as ENOENT from a
 * recursive mkdir, so the nearest directory that exists is asked whether it can be written.
 */
export function writeFailure(err: unknown, dir: string): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC') return 'no space left on the device';
  if (code === 'EDQUOT') return 'the disk quota is exhausted';
  let existing = resolve(dir);
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  try {
    accessSync(existing, constants.W_OK);
  } catch (access) {
    const accessCode = (access as NodeJS.ErrnoException).code;
    if (accessCode === 'EROFS') return `${existing} is on a read-only filesystem`;
    if (accessCode === 'EACCES') return `${existing} is not writable by this user`;
  }
  return (err as Error).message;
}

/** Metadata about the run that is known before it starts. */
export interface RunHeader {
  readonly plan: Plan;
  readonly target: string;
  readonly podbenchVersion: string;
  readonly label?: string;
}

/** The results document of one run and the file it lives in. */
export class ResultsFile {
  readonly path: string;
  private readonly doc: ResultsDocument;

  /** Cases in the last document that reached the disk. */
  private savedCases = 0;

  constructor(
    private readonly outDir: string,
    header: RunHeader,
  ) {
    try {
      mkdirSync(outDir, { recursive: true });
    } catch (err) {
      throw new CliError(`--out-dir ${outDir} cannot be made: ${writeFailure(err, outDir)}`, 1);
    }
    this.path = join(outDir, 'results.json');
    this.doc = {
      schemaVersion: SCHEMA_VERSION,
      run: {
        id: header.plan.runId,
        startedAt: new Date().toISOString(),
        podbenchVersion: header.podbenchVersion,
        target: header.target,
        ...(header.label ? { label: header.label } : {}),
        settings: header.plan.settings,
        plannedCases: header.plan.cases.length,
        complete: false,
      },
      cases: [],
    };
    this.write();
  }

  /** The document as it stands. */
  get document(): ResultsDocument {
    return this.doc;
  }

  setEnvironment(environment: Environment): void {
    this.doc.environment = environment;
    this.write();
  }

  setNode(node: ClusterNode): void {
    this.doc.node = node;
    this.write();
  }

  setHarnessFloor(floor: HarnessFloor): void {
    this.doc.harnessFloor = floor;
    this.write();
  }

  addCase(result: CaseResult): void {
    this.doc.cases.push(result);
    this.write();
  }

  /** The document as results.json last held it (fewer cases when a write failed since). */
  get savedDocument(): ResultsDocument {
    return { ...this.doc, cases: this.doc.cases.slice(0, this.savedCases) };
  }

  /** Whether {@link finish} has been called. */
  get finished(): boolean {
    return this.doc.run.finishedAt !== undefined;
  }

  /** Marks the run finished: complete, or with the reason it is not. */
  finish(incompleteReason?: string): void {
    this.doc.run.finishedAt = new Date().toISOString();
    this.doc.run.complete = incompleteReason === undefined;
    if (incompleteReason !== undefined) this.doc.run.incompleteReason = incompleteReason;
    this.write();
  }

  private write(): void {
    validateResultsDocument(this.doc, 'the results document');
    const tmp = `${this.path}.tmp`;
    try {
      writeFileSync(tmp, `${JSON.stringify(this.doc, null, 2)}\n`);
      renameSync(tmp, this.path);
    } catch (err) {
      rmSync(tmp, { force: true });
      const kept = this.savedCases ? `; it holds the ${this.savedCases} case(s) saved before` : '';
      throw new CliError(
        `cannot write ${this.path} (--out-dir ${this.outDir}): ${writeFailure(err, this.outDir)}${kept}`,
        1,
      );
    }
    this.savedCases = this.doc.cases.length;
  }
}
