/**
 * Build step: bundles the agent, koffi's JavaScript included, into one minified ESM file
 * (dist/agent-bundle/agent.mjs, ~300 KB) with esbuild. A container then needs only Node, this
 * file and koffi's native module, which koffi's loader finds as
 * node_modules/@koromix/koffi-linux-<arch> next to the bundle. Used by agent images and by the
 * ConfigMap delivery to a stock Node image.
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
  minify: true,
  // Bundled CommonJS dependencies call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __podbenchRequire } from 'node:module'; const require = __podbenchRequire(import.meta.url);" },
  logLevel: 'warning',
});
