/**
 * Where podbench's own files are, worked out from this compiled file's place
 * (dist/bench/install-paths.js). The one module that knows the layout of an install — a checkout,
 * an npm install or the CLI image alike — so that moving a module cannot break a path.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** podbench's package root, where package.json is. */
export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The compiled podbench CLI, the file `npx podbench` runs. */
export const CLI_PATH = join(PACKAGE_ROOT, 'dist', 'bench', 'cli.js');
/** The compiled agent entry point (the local target runs it as two processes). */
export const AGENT_MAIN = join(PACKAGE_ROOT, 'dist', 'agents', 'main.js');
/** The bundled agent, built by npm run build (what pods run). */
export const AGENT_BUNDLE = join(PACKAGE_ROOT, 'dist', 'agent-bundle', 'agent.mjs');
/** The C reference's sources (a checkout only: npm packages do not ship them). */
export const C_REFERENCE_DIR = join(PACKAGE_ROOT, 'bench', 'fidelity', 'c-reference');
