/**
 * The files a container needs to run the agent besides Node itself: the bundled agent
 * (dist/agent-bundle/agent.mjs, koffi's JavaScript included) and koffi's native module for one
 * architecture, laid out as koffi's loader expects it under node_modules.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError } from './errors.js';

/** One file to place at `path` (relative to the agent directory) from `source` on this host. */
export interface RuntimeFile {
  readonly path: string;
  readonly source: string;
}

const require = createRequire(import.meta.url);
const BUNDLE = join(dirname(fileURLToPath(import.meta.url)), '..', 'agent-bundle', 'agent.mjs');

/** The directory of an installed package (its package.json may not be exported). */
function packageDir(name: string): string | undefined {
  return (require.resolve.paths(name) ?? []).map((dir) => join(dir, name)).find((dir) => existsSync(join(dir, 'package.json')));
}

/** Node's name for a CPU architecture from Kubernetes' (`amd64` → `x64`). */
export function nodeArch(kubernetesArch: string): string {
  return kubernetesArch === 'amd64' ? 'x64' : kubernetesArch;
}

/** The agent's runtime files for `arch` (Node's name: x64, arm64). */
export function agentRuntimeFiles(arch: string = process.arch): RuntimeFile[] {
  if (!existsSync(BUNDLE)) throw new CliError(`the agent bundle ${BUNDLE} is missing; run npm run build`, 1);
  const nativePackage = `@koromix/koffi-linux-${arch}`;
  const nativeDir = packageDir(nativePackage);
  if (!nativeDir) throw new CliError(`koffi's native module for linux-${arch} (${nativePackage}) is not installed here`, 1);
  return [
    { path: 'agent.mjs', source: BUNDLE },
    ...['package.json', 'index.js', `linux_${arch}/koffi.node`].map((f) => ({ path: `node_modules/${nativePackage}/${f}`, source: join(nativeDir, f) })),
  ];
}
