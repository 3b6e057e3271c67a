/**
 * TypeBox, as the contract uses it. The build replaces this module's compiled output with one
 * bundled file (bench/pod/build-agent-bundle.ts): TypeBox's ESM build is some 400 small modules,
 * which Node 20 opens all at once, so under a low open-file limit (`ulimit -n 64`) even
 * `podbench --version` failed with EMFILE.
 */
export { FormatRegistry, Type, type Static, type TSchema } from '@sinclair/typebox';
export { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
