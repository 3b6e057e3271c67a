/**
 * The layers of podbench and what each may import (docs: README "Project layout"). Checked by
 * `npm run lint:deps`, which CI runs through the test suite (test/dependencies.test.ts).
 *
 *   agents/contract  the contract: imports nothing of podbench
 *   agents/          the in-container program: the contract, never bench/ or reports/
 *   reports/         renderers: the contract, never bench/ or agents' native code
 *   bench/           the orchestrator: anything below it
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'an import cycle',
      from: { pathNot: '^node_modules' },
      to: { circular: true },
    },
    {
      name: 'contract-is-the-bottom',
      severity: 'error',
      comment: 'the contract imports nothing else of podbench',
      from: { path: '^agents/contract/' },
      to: { path: '^(bench|reports)/|^agents/(?!contract/)' },
    },
    {
      name: 'agents-never-import-bench-or-reports',
      severity: 'error',
      from: { path: '^agents/' },
      to: { path: '^(bench|reports)/' },
    },
    { name: 'reports-never-import-bench', severity: 'error', from: { path: '^reports/' }, to: { path: '^bench/' } },
    {
      name: 'reports-never-import-agents-beyond-the-contract',
      severity: 'error',
      from: { path: '^reports/' },
      to: { path: '^agents/(?!contract/)' },
    },
    {
      name: 'report-and-compare-load-no-native-module',
      severity: 'error',
      comment: 'podbench report and compare must work where koffi cannot load',
      from: { path: '^bench/(cli|cli/program|commands/(report|compare)-command)\\.ts$' },
      to: { path: '(^|/)node_modules/koffi/|^agents/native/', reachable: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // A dynamic import loads when its command runs: what a command loads is the static graph
    // from it (bench/cli/program.ts imports each command that way).
    exclude: { path: '^(dist|test)/', dynamic: true },
    tsConfig: { fileName: 'tsconfig.json' },
    // Type-only imports count too: a cycle through types is still a cycle for the reader.
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
  },
};
