/**
 * Build step: bundles the agent into one ESM file (dist/agent-bundle/agent.mjs) with esbuild, so
 * a container needs only Node, this file and koffi (kept external: its loader finds the native
 * module next to its own files). Used to build agent images and, later, the ConfigMap delivery.
 */
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

await build({
  entryPoints: [join(root, 'dist', 'agents', 'main.js')],
  outfile: join(root, 'dist', 'agent-bundle', 'agent.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['koffi'],
  // Bundled CommonJS dependencies call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __podbenchRequire } from 'node:module'; const require = __podbenchRequire(import.meta.url);" },
  logLevel: 'warning',
});
