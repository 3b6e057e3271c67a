/** Finding an installed package's directory (its package.json may not be exported). */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);

/** The directory of installed package `name`, or undefined. */
export function packageDir(name: string): string | undefined {
  return (require.resolve.paths(name) ?? []).map((dir) => join(dir, name)).find((dir) => existsSync(join(dir, 'package.json')));
}
