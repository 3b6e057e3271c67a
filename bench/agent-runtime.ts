/**
 * The files a container needs to run the agent besides Node itself: the bundled agent
 * (dist/agent-bundle/agent.mjs, koffi's JavaScript included) and koffi's native module for one
 * architecture, laid out as koffi's loader expects it under node_modules.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunSettings } from '../agents/contract/schema.js';
import { CliError } from './errors.js';
import { packageDir } from './package-dir.js';

/** One file to place at `path` (relative to the agent directory) from `source` on this host. */
export interface RuntimeFile {
  readonly path: string;
  readonly source: string;
}

/** The bundled agent, built by npm run build. */
export const BUNDLE = join(dirname(fileURLToPath(import.meta.url)), '..', 'agent-bundle', 'agent.mjs');

/**
 * NODE_OPTIONS for the agents: a 1 MiB young generation. The timed loop allocates nothing, so it
 * costs no measured time, and it keeps ~13 MB of young-generation pages out of each agent's
 * resident memory. With `--driver node`, whose sockets allocate per message, Node's default
 * stays: that driver is there to show what an ordinary Node sidecar gets. `inherited` is kept.
 */
export function agentNodeOptions(settings: RunSettings, inherited?: string): string | undefined {
  const own = settings.driver === 'node' ? undefined : '--max-semi-space-size=1';
  return [inherited, own].filter(Boolean).join(' ') || undefined;
}

/** Node's name for a CPU architecture from Kubernetes' (`amd64` → `x64`). */
export function nodeArch(kubernetesArch: string): string {
  return kubernetesArch === 'amd64' ? 'x64' : kubernetesArch;
}

/**
 * koffi's native package for `arch`. npm installs only the one for this host; another (arm64 nodes
 * from an x64 laptop, say) is fetched once from the npm registry with `npm pack`, at the version
 * of the installed koffi, into ~/.cache/podbench.
 */
function nativePackageDir(nativePackage: string): string {
  const installed = packageDir(nativePackage);
  if (installed) return installed;
  const koffiDir = packageDir('koffi');
  if (!koffiDir) throw new CliError('koffi is not installed; run npm ci', 1);
  const version = (JSON.parse(readFileSync(join(koffiDir, 'package.json'), 'utf8')) as { version: string }).version;
  const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'podbench', `${nativePackage.replace('/', '+')}-${version}`);
  const dir = join(cache, 'package');
  if (existsSync(join(dir, 'package.json'))) return dir;
  mkdirSync(cache, { recursive: true });
  process.stderr.write(`fetching ${nativePackage}@${version} from the npm registry (once)…\n`);
  try {
    const tarball = execFileSync('npm', ['pack', `${nativePackage}@${version}`, '--pack-destination', cache, '--silent'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n').at(-1)!;
    execFileSync('tar', ['-xzf', join(cache, tarball), '-C', cache]);
  } catch (err) {
    throw new CliError(`koffi's native module ${nativePackage}@${version} is not installed and could not be fetched: ${(err as Error).message.split('\n')[0]}`, 1);
  }
  return dir;
}

/** The agent's runtime files for `arch` (Node's name: x64, arm64). */
export function agentRuntimeFiles(arch: string = process.arch): RuntimeFile[] {
  if (!existsSync(BUNDLE)) throw new CliError(`the agent bundle ${BUNDLE} is missing; run npm run build`, 1);
  const nativePackage = `@koromix/koffi-linux-${arch}`;
  const nativeDir = nativePackageDir(nativePackage);
  return [
    { path: 'agent.mjs', source: BUNDLE },
    ...['package.json', 'index.js', `linux_${arch}/koffi.node`].map((f) => ({ path: `node_modules/${nativePackage}/${f}`, source: join(nativeDir, f) })),
  ];
}
