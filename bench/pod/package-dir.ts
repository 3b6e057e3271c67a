/** Finding an installed package's directory (its package.json may not be exported). */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);

/**
 * The directory of installed package `name` as podbench resolves it, or, with `fromDir`, as the
 * package in `fromDir` does (a dependency's own dependencies may be nested under it); undefined
 * when it is not installed.
 */
export function packageDir(name: string, fromDir?: string): string | undefined {
  const resolver = fromDir ? createRequire(join(fromDir, 'package.json')) : require;
  return (resolver.resolve.paths(name) ?? [])
    .map((dir) => join(dir, name))
    .find((dir) => existsSync(join(dir, 'package.json')));
}
