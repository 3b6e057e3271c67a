/**
 * Delivering the agent to a stock Node image, so a cluster needs no image built by the user:
 * a ConfigMap carries the bundled agent and koffi's native module for the nodes' architecture
 * (both gzipped, as binaryData) and a small bootstrap. Each container runs the bootstrap with the
 * image's `node`; it unpacks the files into its own directory of a shared emptyDir (the root
 * filesystem stays read-only) and imports the agent.
 *
 * A ConfigMap holds at most 1 MiB of data; one architecture takes about 0.45 MiB (the bundle
 * ~340 KB, ~80 KB gzipped; the native module ~360 KB gzipped), so a ConfigMap carries one, the
 * Pod is pinned to nodes of it, and a bundle that grows (a protocol client, say) has room.
 */
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { agentRuntimeFiles, nodeArch } from './agent-runtime.js';
import { CliError } from '../cli/errors.js';

/** Where the ConfigMap is mounted, and where each container unpacks it. */
export const DELIVERY_DIRS = { configMap: '/podbench/delivery', unpacked: '/podbench/app' } as const;
/**
 * The default stock image: current Node LTS, Debian (glibc) based. Fully qualified: runtimes set
 * to refuse short names (CRI-O, podman with short-name-mode enforcing) reject `node:24-slim`.
 */
export const DEFAULT_NODE_IMAGE = 'docker.io/library/node:24-slim';
/** The most data a ConfigMap may hold, as the API server counts it ({@link configMapDataBytes}). */
export const CONFIGMAP_MAX_BYTES = 1024 * 1024;

/**
 * The bootstrap, plain CommonJS so any Node runs it. argv: --role ROLE … (passed on to the agent).
 * The file list says which ConfigMap key becomes which file, and which are gzipped.
 */
const BOOTSTRAP = `'use strict';
// podbench bootstrap: unpack the agent delivered in this ConfigMap, then run it.
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const { pathToFileURL } = require('node:url');
const src = __dirname;
const role = process.argv[process.argv.indexOf('--role') + 1] || 'agent';
const dst = path.join(${JSON.stringify(DELIVERY_DIRS.unpacked)}, role);
for (const f of JSON.parse(fs.readFileSync(path.join(src, 'files.json'), 'utf8'))) {
  const data = fs.readFileSync(path.join(src, f.key));
  const out = path.join(dst, f.path);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, f.gzip ? zlib.gunzipSync(data) : data);
}
import(pathToFileURL(path.join(dst, 'agent.mjs')).href).catch((err) => {
  process.stderr.write('podbench-agent: ' + (err && err.message ? err.message : err) + '\\n');
  process.exit(1);
});
`;

/** The command a container runs to start the delivered agent. */
export const BOOTSTRAP_COMMAND = ['node', `${DELIVERY_DIRS.configMap}/bootstrap.cjs`];

/** The ConfigMap that carries the agent for nodes of `kubernetesArch` (amd64, arm64). */
export function agentConfigMap(name: string, kubernetesArch: string, labels: Record<string, string>): V1ConfigMap {
  const data: Record<string, string> = { 'bootstrap.cjs': BOOTSTRAP };
  const binaryData: Record<string, string> = {};
  const files: { key: string; path: string; gzip: boolean }[] = [];
  // Every file gzipped: the API server counts binaryData decoded, so gzip is what the limit sees.
  agentRuntimeFiles(nodeArch(kubernetesArch)).forEach((file, i) => {
    const key = `f${i}.gz`;
    binaryData[key] = gzipSync(readFileSync(file.source), { level: 9 }).toString('base64');
    files.push({ key, path: file.path, gzip: true });
  });
  data['files.json'] = JSON.stringify(files);
  const configMap: V1ConfigMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels }, data, binaryData };
  const size = configMapDataBytes(configMap);
  if (size > CONFIGMAP_MAX_BYTES) {
    throw new CliError(
      `the agent ConfigMap for ${kubernetesArch} would hold ${size} bytes of data, over the API server's limit of ${CONFIGMAP_MAX_BYTES}`,
      1,
      'use --image with an agent image instead',
    );
  }
  return configMap;
}

/**
 * A ConfigMap's size as the API server counts it against its 1 MiB limit: the bytes of every
 * value, binaryData decoded (base64 on the wire is a third larger, and does not count), keys and
 * metadata not at all (k8s.io/kubernetes pkg/apis/core/validation, ValidateConfigMap).
 */
export function configMapDataBytes(configMap: V1ConfigMap): number {
  const text = Object.values(configMap.data ?? {}).reduce((n, v) => n + Buffer.byteLength(v, 'utf8'), 0);
  const binary = Object.values(configMap.binaryData ?? {}).reduce((n, v) => n + Buffer.byteLength(v, 'base64'), 0);
  return text + binary;
}
