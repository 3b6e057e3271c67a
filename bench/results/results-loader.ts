/**
 * Reading a results document given on the command line: a missing or unreadable file, JSON that
 * is not a results document, or a schema version this podbench does not know is one line and
 * exit code 2. A case whose histogram cannot be decoded (a damaged file) does not stop the
 * others: it loses its histogram, is marked, and the command ends non-zero after rendering.
 */
import { readFileSync } from 'node:fs';
import * as hdr from 'hdr-histogram-js';
import {
  SCHEMA_VERSION,
  ContractError,
  validateResultsDocument,
  type ResultsDocument,
} from '../../agents/contract/schema.js';
import { CliError, UsageError } from '../cli/errors.js';
import { PODBENCH_VERSION } from '../cli/version.js';

/** Loads and validates `path`. */
export function loadResults(path: string): ResultsDocument {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(
      `cannot read ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(`${path} is not JSON; expected a podbench results.json`);
  }
  const version = (value as { schemaVersion?: unknown })?.schemaVersion;
  if (typeof version !== 'number')
    throw new UsageError(`${path} has no schemaVersion; expected a podbench results.json`);
  if (version !== SCHEMA_VERSION) {
    const upgrade = version > SCHEMA_VERSION ? ' (upgrade podbench)' : '';
    throw new UsageError(
      `${path} has schemaVersion ${version}; podbench ${PODBENCH_VERSION} reads schemaVersion ${SCHEMA_VERSION}${upgrade}`,
    );
  }
  try {
    return validateResultsDocument(value, path);
  } catch (err) {
    if (err instanceof ContractError) throw new UsageError(err.message);
    throw err;
  }
}

/** A loaded document, and one line for each case whose histogram could not be read. */
export interface LoadedResults {
  readonly path: string;
  readonly doc: ResultsDocument;
  readonly unreadable: readonly string[];
}

/**
 * Loads `path` for rendering: a case whose histogram does not decode keeps its summary figures,
 * loses the histogram (no chart, no merge, no .hgrm) and carries a warning the reports show.
 */
export function loadResultsForRendering(path: string): LoadedResults {
  const doc = loadResults(path);
  const unreadable: string[] = [];
  const cases = doc.cases.map((c) => {
    if (!c.histogram) return c;
    try {
      hdr.decodeFromCompressedBase64(c.histogram);
      return c;
    } catch (err) {
      const why = (err as Error).message || String(err);
      unreadable.push(
        `${path}: case ${c.index + 1} (${c.channel} ${c.mode} ${c.sizeBytes} B, repeat ${c.repeat + 1}): histogram unreadable (${why})`,
      );
      const { histogram: _damaged, ...rest } = c;
      return { ...rest, details: { ...rest.details, warning: `histogram unreadable (${why}): summary figures only` } };
    }
  });
  return { path, doc: { ...doc, cases }, unreadable };
}

/** The error a command ends with after rendering what it could, when some histograms could not be read. */
export function unreadableError(loaded: readonly LoadedResults[]): CliError | undefined {
  const lines = loaded.flatMap((l) => l.unreadable);
  if (lines.length === 0) return undefined;
  return new CliError(
    `${lines.length} histogram(s) could not be read, the rest was rendered: ` +
      `${lines.slice(0, 3).join('; ')}${lines.length > 3 ? '; …' : ''}`,
    1,
  );
}
