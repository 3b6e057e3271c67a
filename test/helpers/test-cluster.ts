/**
 * The real single-node Kubernetes of test/cluster/cluster.sh (`npm run cluster`): its users'
 * kubeconfigs and the same-release kubectl. `npm run test:ci` brings it up before the suite; a
 * test run on its own brings it up here when it is not (which, cold, builds it first).
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'cluster', 'cluster.sh');

/** The namespace the cluster's test user works in (restricted Pod Security, podbench's Role). */
export const TEST_NAMESPACE = 'podbench-test';
/** A namespace at Pod Security privileged, where the test user holds the same Role: the unsafe IPC sysctls run there. */
export const PRIVILEGED_NAMESPACE = 'podbench-privileged';
/** The cluster's only node. */
export const TEST_NODE = 'podbench-node';
/** Where the cluster keeps its state (certificates, etcd, containerd, logs, pid files). */
export const CLUSTER_STATE = process.env.PODBENCH_CLUSTER_STATE ?? '/var/lib/podbench-cluster';

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
  const r = await clusterCommand(['kubeconfig', ...(user === 'tester' ? [] : [`--${user}`])]);
  if (r.code !== 0) throw new Error(`npm run cluster -- kubeconfig failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** What a kubectl run printed and how it exited. */
export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the cluster's kubectl as `user`, with `stdin` piped in when given. */
export function kubectl(args: string[], options: { user?: ClusterUser; stdin?: string } = {}): Promise<KubectlResult> {
  const user = options.user ?? 'tester';
  return clusterCommand(['kubectl', ...(user === 'tester' ? [] : [`--${user}`]), ...args], options.stdin);
}

/** Runs containerd's ctr on the node, in the kubelet's namespace (k8s.io). */
export function ctr(args: string[]): Promise<KubectlResult> {
  return clusterCommand(['ctr', ...args]);
}

/** Runs `npm run cluster -- ...args` (up first, unless `args` is up or down). */
export async function clusterCommand(args: string[], stdin?: string): Promise<KubectlResult> {
  if (args[0] !== 'up' && args[0] !== 'down') await ensureCluster();
  const child = spawn('bash', [SCRIPT, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  // A command that exits before reading all of its input closes the pipe: its exit code says so,
  // not an EPIPE thrown later into whichever test is running.
  child.stdin.on('error', () => undefined);
  child.stdin.end(stdin ?? '');
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  return { code, stdout, stderr };
}

/**
 * podbench's objects in the test namespaces, as the admin sees them: every Pod (Terminating ones
 * too) and every ConfigMap but the one the cluster puts in each namespace.
 */
export async function podbenchObjects(): Promise<string[]> {
  const objects: string[] = [];
  for (const namespace of [TEST_NAMESPACE, PRIVILEGED_NAMESPACE]) {
    const r = await kubectl(['get', 'pods,configmaps', '-n', namespace, '-o', 'name'], { user: 'admin' });
    if (r.code !== 0) throw new Error(`kubectl get failed: ${r.stderr}`);
    const prefix = namespace === TEST_NAMESPACE ? '' : `${namespace}/`;
    objects.push(
      ...r.stdout
        .split('\n')
        .filter((line) => line && line !== 'configmap/kube-root-ca.crt')
        .map((line) => prefix + line),
    );
  }
  return objects;
}

/** The containers running on the node (pause sandboxes included), as containerd lists its tasks. */
export async function runningContainers(): Promise<string[]> {
  const r = await ctr(['tasks', 'ls']);
  if (r.code !== 0) throw new Error(`ctr tasks ls failed: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((line) => / RUNNING\s*$/.test(line))
    .map((line) => line.split(/\s+/)[0]!);
}

/**
 * What podbench left in the cluster, as the admin sees it: every Pod (Terminating ones too),
 * every ConfigMap but the one the cluster puts in each namespace, and the containers still
 * running on the node. podbench waits until its Pod has left the API, which the kubelet allows
 * only once the pod's containers have stopped, so by default none may run when it returns;
 * `settleMs` gives them time where something else deleted the pod.
 */
export async function leftovers(settleMs = 0): Promise<string[]> {
  const objects = await podbenchObjects();
  const deadline = Date.now() + settleMs;
  let containers = await runningContainers();
  while (containers.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    containers = await runningContainers();
  }
  return [...objects, ...containers.map((id) => `container ${id.slice(0, 12)} on ${TEST_NODE}`)];
}

/**
 * Events in the test namespaces that say the kubelet pulled (or tried to pull) an image, but for
 * pulls from a stand-in registry a test runs on this machine (127.0.0.1).
 */
export async function pullEvents(): Promise<string[]> {
  const r = await kubectl(
    [
      'get',
      'events',
      '-A',
      '--field-selector',
      'reason=Pulling',
      '-o',
      'jsonpath={range .items[*]}{.message}{"\\n"}{end}',
    ],
    { user: 'admin' },
  );
  if (r.code !== 0) throw new Error(`kubectl get events failed: ${r.stderr}`);
  return r.stdout.split('\n').filter((message) => message && !message.includes('"127.0.0.1:'));
}
