import { readFileSync } from 'node:fs';

/** podbench's version, from package.json (two levels up from the compiled file). */
export const PODBENCH_VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
