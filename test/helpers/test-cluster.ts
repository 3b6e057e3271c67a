/**
 * The real single-node Kubernetes of test/cluster/cluster.sh (`npm run cluster`): its users'
 * kubeconfigs and the same-release kubectl. `npm run test:ci` brings it up before the suite; a
 * test run on its own brings it up here when it is not (which, cold, builds it first).
 */
import { execFile, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'cluster', 'cluster.sh');
const run = promisify(execFile);

/** The namespace the cluster's test user works in (restricted Pod Security, podbench's Role). */
export const TEST_NAMESPACE = 'podbench-test';
/** The cluster's only node. */
export const TEST_NODE = 'podbench-node';

/** Who talks to the cluster: the user bound to manifests/rbac.yaml, cluster-admin, or a user with no role. */
export type ClusterUser = 'tester' | 'admin' | 'outsider';

let ready: Promise<void> | undefined;

/** Brings the cluster up unless it is (a no-op taking about a second when it is). */
export function ensureCluster(): Promise<void> {
  ready ??= new Promise<void>((resolve, reject) => {
    const up = spawn('bash', [SCRIPT, 'up'], { stdio: ['ignore', 'inherit', 'inherit'] });
    up.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`npm run cluster -- up exited with ${code}`))));
  });
  return ready;
}

/** The path of `user`'s kubeconfig (its context's namespace is {@link TEST_NAMESPACE}). */
export async function kubeconfigOf(user: ClusterUser = 'tester'): Promise<string> {
  await ensureCluster();
  const { stdout } = await run('bash', [SCRIPT, 'kubeconfig', ...(user === 'tester' ? [] : [`--${user}`])]);
  return stdout.trim();
}

/** What a kubectl run printed and how it exited. */
export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the cluster's kubectl as `user`, with `stdin` piped in when given. */
export async function kubectl(args: string[], options: { user?: ClusterUser; stdin?: string } = {}): Promise<KubectlResult> {
  await ensureCluster();
  const user = options.user ?? 'tester';
  const child = spawn('bash', [SCRIPT, 'kubectl', ...(user === 'tester' ? [] : [`--${user}`]), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  child.stdin.end(options.stdin ?? '');
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  return { code, stdout, stderr };
}

/**
 * podbench's objects in the test namespace, as the admin sees them: every Pod (Terminating ones
 * too) and every ConfigMap but the one the cluster puts in each namespace.
 */
export async function podbenchObjects(): Promise<string[]> {
  const r = await kubectl(['get', 'pods,configmaps', '-n', TEST_NAMESPACE, '-o', 'name'], { user: 'admin' });
  if (r.code !== 0) throw new Error(`kubectl get failed: ${r.stderr}`);
  return r.stdout.split('\n').filter((line) => line && line !== 'configmap/kube-root-ca.crt');
}
