/**
 * System V queues at 64 KiB and 1 MiB need kernel.msgmax and kernel.msgmnb above their defaults
 * (8 KiB and 16 KiB). A pod gets that with the namespaced sysctls; here, root can do the same in
 * a private IPC namespace, which leaves the host's limits alone and vanishes with the process.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

const INSIDE_ENV = 'PODBENCH_FIDELITY_PRIVATE_IPC';

/** The System V limits set inside the private namespace. */
export const RAISED_SYSV_LIMITS = { 'kernel.msgmax': 1024 * 1024, 'kernel.msgmnb': 4 * 1024 * 1024 } as const;

/** What happened to the IPC limits, for the report. */
export type IpcSetup = { readonly raised: true } | { readonly raised: false; readonly why: string };

/**
 * Runs this very command again under `unshare --ipc` when root and not yet inside, and exits with
 * its exit code; inside, raises the limits. Returns only when the benchmark should run here.
 */
export function enterPrivateIpcNamespace(): IpcSetup {
  if (process.env[INSIDE_ENV] === '1') {
    for (const [key, value] of Object.entries(RAISED_SYSV_LIMITS))
      writeFileSync(`/proc/sys/${key.replace('.', '/')}`, String(value));
    return { raised: true };
  }
  if (process.getuid?.() !== 0) return { raised: false, why: 'not root, so System V limits stay at the host values' };
  const probe = spawnSync('unshare', ['--ipc', 'true'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    return { raised: false, why: `unshare --ipc does not work here (${probe.error?.message ?? probe.stderr.trim()})` };
  }
  const child = spawnSync('unshare', ['--ipc', '--', process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, [INSIDE_ENV]: '1' },
  });
  process.exit(child.status ?? 1);
}
