/**
 * Reading a results document given on the command line: a missing or unreadable file, JSON that
 * is not a results document, or a schema version this podbench does not know is one line and
 * exit code 2.
 */
import { readFileSync } from 'node:fs';
import { SCHEMA_VERSION, ContractError, validateResultsDocument, type ResultsDocument } from '../agents/contract/schema.js';
import { UsageError } from './errors.js';
import { PODBENCH_VERSION } from './version.js';

/** Loads and validates `path`. */
export function loadResults(path: string): ResultsDocument {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(`${path} is not JSON; expected a podbench results.json`);
  }
  const version = (value as { schemaVersion?: unknown })?.schemaVersion;
  if (typeof version !== 'number') throw new UsageError(`${path} has no schemaVersion; expected a podbench results.json`);
  if (version !== SCHEMA_VERSION) {
    throw new UsageError(`${path} has schemaVersion ${version}; podbench ${PODBENCH_VERSION} reads schemaVersion ${SCHEMA_VERSION}${version > SCHEMA_VERSION ? ' (upgrade podbench)' : ''}`);
  }
  try {
    return validateResultsDocument(value, path);
  } catch (err) {
    if (err instanceof ContractError) throw new UsageError(err.message);
    throw err;
  }
}
