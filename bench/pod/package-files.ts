/**
 * podbench itself as files: its package.json, the built files its `files` list names, and every
 * production dependency, found the way Node resolves them from where podbench is installed (a
 * repository checkout or a global npm install alike). For an image that runs the CLI — the
 * in-cluster Job — made without a registry.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CliError } from '../cli/errors.js';
import { packageDir } from './package-dir.js';

import { PACKAGE_ROOT } from '../install-paths.js';

interface PackageJson {
  readonly dependencies?: Record<string, string>;
  readonly files?: string[];
}

const readPackage = (dir: string): PackageJson =>
  JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;

/**
 * The directories (relative to PACKAGE_ROOT) to copy whole for podbench to run: what its
 * `files` list names, and each production dependency's package directory, transitively.
 */
export function packageDirectories(): string[] {
  const root = readPackage(PACKAGE_ROOT);
  const dirs = new Set<string>([
    'package.json',
    ...(root.files ?? []).filter((f) => existsSync(join(PACKAGE_ROOT, f))),
  ]);
  const pending: [string, string][] = Object.keys(root.dependencies ?? {}).map((name) => [name, PACKAGE_ROOT]);
  const seen = new Set<string>();
  while (pending.length > 0) {
    const [name, from] = pending.pop()!;
    const dir = packageDir(name, from);
    if (!dir) throw new CliError(`podbench's dependency ${name} is not installed (from ${from}); run npm ci`, 1);
    if (seen.has(dir)) continue;
    seen.add(dir);
    const rel = relative(PACKAGE_ROOT, dir);
    if (rel.startsWith('..'))
      throw new CliError(
        `podbench's dependency ${name} lies outside its package (${dir}); install podbench with its dependencies`,
        1,
      );
    dirs.add(rel);
    const pkg = readPackage(dir);
    for (const dep of Object.keys(pkg.dependencies ?? {})) pending.push([dep, dir]);
    // Optional dependencies that are installed (koffi's native module for this host) come along.
    for (const dep of Object.keys(
      (pkg as { optionalDependencies?: Record<string, string> }).optionalDependencies ?? {},
    )) {
      if (packageDir(dep, dir)) pending.push([dep, dir]);
    }
  }
  return [...dirs].sort();
}
