/**
 * `podbench image build --from-host`: an agent image made without a registry or a Dockerfile
 * build — this host's Node binary with the libraries it links, and the agent runtime files,
 * imported into podman as a one-layer image. Used by the podman target (built on first use) and
 * anywhere no registry can be reached.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { AGENT_BUNDLE, PACKAGE_ROOT } from '../install-paths.js';
import { CliError } from '../cli/errors.js';
import { agentRuntimeFiles } from './agent-runtime.js';
import { AGENT_UID, IMAGE_AGENT_PATH } from './pod-manifest.js';
import { packageDirectories } from './package-files.js';
import { podman } from '../targets/podman/podman-cli.js';
import { PODBENCH_VERSION } from '../cli/version.js';

/**
 * The image the podman target uses unless --image says otherwise. Its tag carries a hash of the
 * agent bundle and this Node's version, so a rebuilt agent or another Node gets a fresh image
 * instead of silently reusing a stale one.
 */
export function defaultLocalImage(): string {
  if (!existsSync(AGENT_BUNDLE))
    throw new CliError(`the agent bundle ${AGENT_BUNDLE} is missing; run npm run build`, 1);
  const hash = createHash('sha256')
    .update(readFileSync(AGENT_BUNDLE))
    .update(process.version)
    .digest('hex')
    .slice(0, 12);
  return `localhost/podbench-agent:${PODBENCH_VERSION}-${hash}`;
}

/** Shared libraries `ldd` lists for a binary (including the dynamic loader). */
function linkedLibraries(binary: string): string[] {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  return [...out.matchAll(/(\/\S+)\s+\(0x/g)].map((m) => m[1]!);
}

function place(root: string, path: string, source: string): void {
  const target = join(root, path);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(source, target);
}

/** The container build tools podbench can drive, daemonless ones first. */
const BUILDERS = ['podman', 'buildah', 'docker'] as const;

/**
 * `podbench image build` without --from-host: builds agents/Dockerfile with docker, podman or
 * buildah (the first found), and pushes the image with `push`. Needs the base image from a
 * registry (or --build-arg NODE_IMAGE through `nodeImage`) and the npm registry.
 */
export async function buildImageFromDockerfile(tag: string, push: boolean, nodeImage?: string): Promise<string> {
  const builder = BUILDERS.find((b) => (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, b))));
  if (!builder)
    throw new CliError(
      'no container build tool found (docker, podman or buildah)',
      1,
      'install one, or use podbench image build --from-host',
    );
  if (!existsSync(join(PACKAGE_ROOT, 'agents', 'Dockerfile')))
    throw new CliError(`agents/Dockerfile is not in ${PACKAGE_ROOT}: build from a clone of the podbench repository`, 1);
  const buildArgs = nodeImage ? ['--build-arg', `NODE_IMAGE=${nodeImage}`] : [];
  const build = builder === 'buildah' ? ['bud'] : ['build'];
  const run = (args: string[]) => (builder === 'podman' ? podman(args) : runTool(builder, args));
  await run([...build, '-f', join(PACKAGE_ROOT, 'agents', 'Dockerfile'), '-t', tag, ...buildArgs, PACKAGE_ROOT]);
  if (push) await run(['push', tag]);
  return tag;
}

function runTool(tool: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { stdio: ['ignore', 'inherit', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
      process.stderr.write(c);
    });
    child.on('close', (code) =>
      code === 0
        ? resolve('')
        : reject(new CliError(`${tool} ${args[0]} failed: ${stderr.trim().split('\n').at(-1) || `exit ${code}`}`, 1)),
    );
  });
}

/** Whether podman has `image` locally. */
export async function imageExists(image: string): Promise<boolean> {
  try {
    await podman(['image', 'exists', image]);
    return true;
  } catch {
    return false;
  }
}

/** Where podbench itself (the CLI) goes in an image built `--with-cli`. */
export const IMAGE_CLI_DIR = '/opt/podbench/cli';

/**
 * Builds an image from this host's Node: with the agent (an agent image for --image), or
 * without it (`withAgent` false: a plain Node image for --node-image); `withCli` adds podbench
 * itself with its production dependencies and makes it the entrypoint, so that one image runs
 * the in-cluster Job (manifests/podbench-job.yaml) and serves as its agents' --image. Returns the
 * image name.
 */
export async function buildImageFromHost(
  tag = defaultLocalImage(),
  withAgent = true,
  withCli = false,
): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), 'podbench-image-'));
  try {
    place(root, 'usr/local/bin/node', process.execPath);
    chmodSync(join(root, 'usr/local/bin/node'), 0o755);
    for (const lib of linkedLibraries(process.execPath)) place(root, lib.slice(1), lib);
    if (withAgent)
      for (const file of agentRuntimeFiles())
        place(root, join(dirname(IMAGE_AGENT_PATH), file.path).slice(1), file.source);
    if (withCli) {
      for (const rel of packageDirectories())
        cpSync(join(PACKAGE_ROOT, rel), join(root, IMAGE_CLI_DIR.slice(1), rel), {
          recursive: true,
          dereference: true,
        });
    }
    mkdirSync(join(root, 'etc'));
    writeFileSync(
      join(root, 'etc/passwd'),
      `root:x:0:0:root:/root:/sbin/nologin\npodbench:x:${AGENT_UID}:${AGENT_UID}:podbench:/tmp:/sbin/nologin\n`,
    );
    writeFileSync(join(root, 'etc/group'), `root:x:0:\npodbench:x:${AGENT_UID}:\n`);
    mkdirSync(join(root, 'tmp'));
    chmodSync(join(root, 'tmp'), 0o1777);
    const tar = spawn('tar', ['-C', root, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const tarDone = new Promise<number | null>((r) => tar.on('close', r));
    // An agent image runs as the agent's user; a plain Node image as root, as node:24-slim does
    // (so that it stands in for it faithfully: the pod must set a non-root user itself).
    const entrypoint = withCli
      ? ['--change', `ENTRYPOINT ${JSON.stringify(['node', `${IMAGE_CLI_DIR}/dist/bench/cli.js`])}`]
      : [];
    await podman(
      [
        'import',
        '--change',
        'ENV PATH=/usr/local/bin:/usr/bin:/bin',
        '--change',
        `USER ${withAgent ? AGENT_UID : 0}`,
        ...entrypoint,
        '-',
        tag,
      ],
      { stdin: tar.stdout! },
    );
    const tarCode = await tarDone;
    if (tarCode !== 0) throw new CliError(`tar of the image root failed (exit ${tarCode})`, 1);
    return tag;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
