/**
 * Build step: bundles TypeBox into one module for the CLI (see agents/contract/typebox.ts), and
 * the agent, koffi's JavaScript included, into one minified ESM file
 * (dist/agent-bundle/agent.mjs, ~300 KB) with esbuild, and places koffi's native module for each
 * architecture a cluster's nodes may have (amd64, arm64) beside it, in
 * dist/agent-bundle/native/<arch>/. A container then needs only Node, the bundle and one native
 * module, which koffi's loader finds as node_modules/@koromix/koffi-linux-<arch> next to the
 * bundle. Used by agent images and by the ConfigMap delivery to a stock Node image.
 *
 * npm installs only this host's native package, so the other one is fetched here, at build time,
 * with `npm pack` at the installed koffi's version (cached in node_modules/.cache): a run against
 * nodes of another architecture then needs no network and no writable home, as inside a Job.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PACKAGE_ROOT } from '../install-paths.js';
import { build } from 'esbuild';
import { NATIVE_ARCHES, nativeFiles, nativeBundleDir, nativePackageName } from './agent-runtime.js';
import { packageDir } from './package-dir.js';

const root = PACKAGE_ROOT;

// TypeBox in one file, over tsc's re-export (see agents/contract/typebox.ts): every podbench
// command loads it, and one file loads under any open-file limit.
const typebox = join(root, 'dist', 'agents', 'contract', 'typebox.js');
await build({
  entryPoints: [typebox],
  outfile: typebox,
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
});

await build({
  entryPoints: [join(root, 'dist', 'agents', 'main.js')],
  outfile: join(root, 'dist', 'agent-bundle', 'agent.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minify: true,
  // Bundled CommonJS dependencies call require(); give the ESM bundle one.
  banner: {
    js: "import { createRequire as __podbenchRequire } from 'node:module'; const require = __podbenchRequire(import.meta.url);",
  },
  logLevel: 'warning',
});

/** The unpacked native package for `arch`: installed, cached, or fetched with npm pack; undefined when it cannot be had. */
function nativePackage(arch: string, version: string): string | undefined {
  const name = nativePackageName(arch);
  const installed = packageDir(name);
  if (installed) return installed;
  const cache = join(root, 'node_modules', '.cache', 'podbench', `${name.replace('/', '+')}-${version}`);
  const dir = join(cache, 'package');
  if (existsSync(join(dir, 'package.json'))) return dir;
  rmSync(cache, { recursive: true, force: true });
  mkdirSync(cache, { recursive: true });
  process.stderr.write(`build: fetching ${name}@${version} (koffi's native module for ${arch} nodes)…\n`);
  try {
    const tarball = execFileSync('npm', ['pack', `${name}@${version}`, '--pack-destination', cache, '--silent'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    })
      .trim()
      .split('\n')
      .at(-1)!;
    execFileSync('tar', ['-xzf', join(cache, tarball), '-C', cache]);
    return dir;
  } catch (err) {
    // Offline builds still work; only delivering the agent to nodes of that architecture does not.
    const firstLine = (err as Error).message.split('\n')[0];
    process.stderr.write(
      `build: warning: ${name}@${version} could not be fetched (${firstLine}); ` +
        `this build cannot deliver the agent to ${arch} nodes\n`,
    );
    return undefined;
  }
}

const koffiDir = packageDir('koffi');
if (!koffiDir) throw new Error('koffi is not installed; run npm ci');
const { version } = JSON.parse(readFileSync(join(koffiDir, 'package.json'), 'utf8')) as { version: string };
for (const arch of NATIVE_ARCHES) {
  const from = nativePackage(arch, version);
  const to = nativeBundleDir(arch);
  rmSync(to, { recursive: true, force: true });
  if (!from) continue;
  for (const file of nativeFiles(arch)) {
    mkdirSync(dirname(join(to, file)), { recursive: true });
    copyFileSync(join(from, file), join(to, file));
  }
}
