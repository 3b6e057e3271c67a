/**
 * The files a container needs to run the agent besides Node itself: the bundled agent
 * (dist/agent-bundle/agent.mjs, koffi's JavaScript included) and koffi's native module for one
 * architecture, laid out as koffi's loader expects it under node_modules.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AGENT_BUNDLE } from '../install-paths.js';
import { channelInfo } from '../../agents/contract/channels.js';
import type { Plan } from '../../agents/contract/schema.js';
import { CliError } from '../cli/errors.js';

/** One file to place at `path` (relative to the agent directory) from `source` on this host. */
export interface RuntimeFile {
  readonly path: string;
  readonly source: string;
}

/**
 * NODE_OPTIONS for the agents: a 1 MiB young generation. The timed loop allocates nothing, so it
 * costs no measured time, and it keeps ~13 MB of young-generation pages out of each agent's
 * resident memory. A plan with anything on the event loop keeps Node's default: `--driver node`,
 * and the protocol channels (node only), whose libraries allocate per message. A 1 MiB young
 * generation would scavenge every few dozen 64 KiB requests there, a cost no ordinary Node
 * sidecar pays. `inherited` is kept.
 */
export function agentNodeOptions(plan: Pick<Plan, 'settings' | 'cases'>, inherited?: string): string | undefined {
  const onEventLoop =
    plan.settings.driver === 'node' || plan.cases.some((c) => !channelInfo(c.channel).drivers.includes('libc'));
  const own = onEventLoop ? undefined : '--max-semi-space-size=1';
  return [inherited, own].filter(Boolean).join(' ') || undefined;
}

/** Node's name for a CPU architecture from Kubernetes' (`amd64` → `x64`). */
export function nodeArch(kubernetesArch: string): string {
  return kubernetesArch === 'amd64' ? 'x64' : kubernetesArch;
}

/** The architectures (Node's names) whose koffi native module the build places in the bundle. */
export const NATIVE_ARCHES = ['x64', 'arm64'] as const;
/** koffi's native package for `arch`, as koffi's loader looks it up. */
export const nativePackageName = (arch: string): string => `@koromix/koffi-linux-${arch}`;
/** The files of a native package the agent needs (koffi's glibc build: the images are Debian-based). */
export const nativeFiles = (arch: string): string[] => ['package.json', 'index.js', `linux_${arch}/koffi.node`];
/** Where the build places the native package for `arch`. */
export const nativeBundleDir = (arch: string): string => join(dirname(AGENT_BUNDLE), 'native', arch);

/** The agent's runtime files for `arch` (Node's name: x64, arm64). */
export function agentRuntimeFiles(arch: string = process.arch): RuntimeFile[] {
  if (!existsSync(AGENT_BUNDLE))
    throw new CliError(`the agent bundle ${AGENT_BUNDLE} is missing; run npm run build`, 1);
  const nativeDir = nativeBundleDir(arch);
  const files = nativeFiles(arch);
  if (!files.every((f) => existsSync(join(nativeDir, f)))) {
    const built = NATIVE_ARCHES.filter((a) => existsSync(join(nativeBundleDir(a), nativeFiles(a).at(-1)!)));
    throw new CliError(
      `this podbench build has no koffi native module for ${arch} (it has: ${built.join(', ') || 'none'})`,
      1,
      'rebuild with npm run build where the npm registry is reachable, or use --image with an agent image for those nodes',
    );
  }
  return [
    { path: 'agent.mjs', source: AGENT_BUNDLE },
    ...files.map((f) => ({ path: `node_modules/${nativePackageName(arch)}/${f}`, source: join(nativeDir, f) })),
  ];
}
