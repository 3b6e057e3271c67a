/**
 * results.json, written as the run goes: created before the first case, rewritten (to a temp
 * file, then renamed over) after every event that adds to it, so an interrupted run leaves a
 * valid document holding every case finished so far.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  SCHEMA_VERSION,
  validateResultsDocument,
  type CaseResult,
  type ClusterNode,
  type Environment,
  type HarnessFloor,
  type Plan,
  type ResultsDocument,
} from '../agents/contract/schema.js';

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

  constructor(outDir: string, header: RunHeader) {
    mkdirSync(outDir, { recursive: true });
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
    writeFileSync(tmp, `${JSON.stringify(this.doc, null, 2)}\n`);
    renameSync(tmp, this.path);
  }
}
