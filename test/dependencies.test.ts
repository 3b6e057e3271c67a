/**
 * The layering rules in .dependency-cruiser.cjs hold for the source tree, and the check really
 * fails when one is broken (shown on a throwaway tree laid out like this one).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DEPCRUISE = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

const depcruise = (cwd: string) =>
  spawnSync(
    process.execPath,
    [DEPCRUISE, 'bench', 'agents', 'reports', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'],
    {
      cwd,
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, NO_COLOR: '1' }, // CI=true would make it colour its output
    },
  );

describe('dependencies point one way (npm run lint:deps)', () => {
  it('the source tree keeps every rule', () => {
    const r = depcruise(ROOT);
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /no dependency violations found/);
  });

  it('a report that imports the orchestrator, and the contract importing an agent module, fail the check', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pbtest-deps-'));
    try {
      copyFileSync(join(ROOT, '.dependency-cruiser.cjs'), join(dir, '.dependency-cruiser.cjs'));
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true } }),
      );
      const files: Record<string, string> = {
        'bench/units.ts': 'export const unit = 1;\n',
        'reports/table.ts': "import { unit } from '../bench/units.js';\nexport const table = unit;\n",
        'agents/helper.ts': 'export const helper = 1;\n',
        'agents/contract/schema.ts': "import { helper } from '../helper.js';\nexport const schema = helper;\n",
      };
      for (const [path, text] of Object.entries(files)) {
        mkdirSync(dirname(join(dir, path)), { recursive: true });
        writeFileSync(join(dir, path), text);
      }
      const r = depcruise(dir);
      assert.notEqual(r.status, 0, r.stdout);
      assert.match(r.stdout, /error reports-never-import-bench: reports\/table\.ts → bench\/units\.ts/);
      assert.match(r.stdout, /error contract-is-the-bottom: agents\/contract\/schema\.ts → agents\/helper\.ts/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
