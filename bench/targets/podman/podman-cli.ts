/**
 * Running podman. podman needs three settings on hosts like the CI machine (see the README's
 * "Run a real pod locally"): the runc runtime where crun cannot manage the cgroups, default
 * ulimits no higher than this process's hard limits, and the cgroupfs manager without systemd.
 * podbench writes them to its own containers.conf and points CONTAINERS_CONF at it — unless the
 * user has set CONTAINERS_CONF, which always wins. No system file is touched.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CliError } from '../../cli/errors.js';
import { processLimit } from '../../cli/open-files.js';

function onPath(name: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(join(dir, name)));
}

/** The containers.conf podbench uses when the user has none of their own in CONTAINERS_CONF. */
export function podbenchContainersConf(): string {
  const nofile = Math.min(processLimit('Max open files')?.hard ?? 1024, 65536);
  const nproc = Math.min(processLimit('Max processes')?.hard ?? 4096, 4096);
  const lines = [
    '[containers]',
    `default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]`,
    '',
    '[engine]',
  ];
  if (onPath('runc')) lines.push('runtime = "runc"');
  if (!existsSync('/run/systemd/system')) lines.push('cgroup_manager = "cgroupfs"', 'events_logger = "file"');
  return `${lines.join('\n')}\n`;
}

let env: NodeJS.ProcessEnv | undefined;

/** The environment podman runs with. */
function podmanEnv(): NodeJS.ProcessEnv {
  if (env) return env;
  if (process.env.CONTAINERS_CONF) return (env = process.env);
  const dir = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'podbench');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'containers.conf');
  // Written aside and renamed: another podbench starting at the same moment reads a whole file.
  const tmp = `${path}.${process.pid}`;
  writeFileSync(tmp, podbenchContainersConf());
  renameSync(tmp, path);
  return (env = { ...process.env, CONTAINERS_CONF: path });
}

/** Whether podman is on the PATH. */
export const podmanInstalled = (): boolean => onPath('podman');

/** Fails with a clear message when podman is not installed. */
export function requirePodman(): void {
  if (!podmanInstalled())
    throw new CliError(
      'podman is not installed',
      1,
      'install podman (Debian/Ubuntu: apt-get install podman runc), or use --target local',
    );
}

/**
 * Runs `podman ...args` to the end and returns its stdout (with `withStderr`, stdout and then
 * stderr); throws a one-line error with podman's own last line on failure. Each command runs in
 * its own process group: a terminal's Ctrl-C reaches podbench alone, which then stops the pod in
 * order, and a second Ctrl-C cannot kill the podman commands of that cleanup halfway.
 */
export async function podman(
  args: string[],
  input?: { stdin: NodeJS.ReadableStream },
  withStderr = false,
): Promise<string> {
  requirePodman();
  const child = spawn('podman', args, {
    env: podmanEnv(),
    stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    detached: true,
  });
  if (input) {
    // If podman exits early its stdin closes: that is reported by its exit, not as EPIPE here.
    child.stdin!.on('error', () => {});
    input.stdin.pipe(child.stdin!);
  }
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  return new Promise((resolve, reject) => {
    child.on('error', (err) =>
      reject(new CliError(`podman ${args[0]} ${args[1] ?? ''} failed: ${err.message}`.replace(/\s+/g, ' '), 1)),
    );
    child.on('close', (code) => {
      if (code === 0) resolve(withStderr ? `${stdout}\n${stderr}` : stdout);
      else
        reject(
          new CliError(
            `podman ${args[0]} ${args[1] ?? ''} failed: ${stderr.trim().split('\n').at(-1) || `exit ${code}`}`.replace(
              /\s+/g,
              ' ',
            ),
            1,
          ),
        );
    });
  });
}

/** Starts `podman ...args` and returns the process (for streaming logs). */
export function spawnPodman(args: string[]): ChildProcess {
  requirePodman();
  // Its own process group too: a terminal's Ctrl-C must not end the log (and so the events) early.
  return spawn('podman', args, { env: podmanEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
}
