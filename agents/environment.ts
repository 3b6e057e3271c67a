/** The environment fingerprint: the facts about where the agents ran that decide the numbers. */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { LIMIT_NAMES } from './contract/ipc-limits.js';
import type { Environment } from './contract/schema.js';
import { filesystemType, type KernelLimits } from './kernel-limits.js';

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** CPU limit in cores from cgroup v2 `cpu.max` or v1 CFS quota; null when unlimited. */
function cgroupCpuLimitCores(): number | null {
  const v2 = readText('/sys/fs/cgroup/cpu.max');
  if (v2) {
    const [quota, period] = v2.split(' ');
    return quota === 'max' || !quota || !period ? null : Number(quota) / Number(period);
  }
  const quota = Number(readText('/sys/fs/cgroup/cpu/cpu.cfs_quota_us') ?? -1);
  const period = Number(readText('/sys/fs/cgroup/cpu/cpu.cfs_period_us') ?? 0);
  return quota > 0 && period > 0 ? quota / period : null;
}

/** Memory limit in bytes from cgroup v2 `memory.max` or v1; null when unlimited. */
function cgroupMemoryLimitBytes(): number | null {
  const text = readText('/sys/fs/cgroup/memory.max') ?? readText('/sys/fs/cgroup/memory/memory.limit_in_bytes');
  if (!text || text === 'max') return null;
  const bytes = Number(text);
  // cgroup v1 reports "unlimited" as a huge page-aligned number.
  return Number.isFinite(bytes) && bytes < 2 ** 60 ? bytes : null;
}

/**
 * The limits as results record them, keyed by the names users know (sysctls, rlimits); the size
 * of /dev/shm is recorded on its own and its free bytes under their old key.
 */
function recordedLimits(limits: KernelLimits): Record<string, number | null> {
  const recorded: Record<string, number | null> = {};
  for (const key of Object.keys(LIMIT_NAMES) as (keyof KernelLimits)[]) {
    if (key === 'devShmBytes') continue;
    recorded[key === 'devShmFreeBytes' ? key : LIMIT_NAMES[key]] = limits[key];
  }
  return recorded;
}

/** Collects the fingerprint; `dirs` are the shared directories, by role (`disk`, `tmpfs`). */
export function collectEnvironment(limits: KernelLimits, dirs: Record<string, string>): Environment {
  const cpus = os.cpus();
  return {
    hostname: os.hostname(),
    kernel: os.release(),
    arch: process.arch,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cpuCount: os.availableParallelism(),
    memoryBytes: os.totalmem(),
    nodeVersion: process.version,
    cgroup: { cpuLimitCores: cgroupCpuLimitCores(), memoryLimitBytes: cgroupMemoryLimitBytes() },
    devShmBytes: limits.devShmBytes,
    limits: recordedLimits(limits),
    dirs: Object.fromEntries(
      Object.entries(dirs).map(([role, path]) => [role, { path, fsType: filesystemType(path) }]),
    ),
  };
}
