/**
 * How podbench calls the Kubernetes API: every call bounded in time (a partition that drops
 * packets never resets the connection), polls at one pace, and a Pod deleted the way the kubelet
 * needs it — with its grace period, waiting until it has left the API.
 */
import type { CoreV1Api } from '@kubernetes/client-node';
import { httpStatus } from './kube-errors.js';

/** Pause between two reads of a pod that is expected to change. */
export const POLL_MS = 500;
/** Longest wait for one API call. */
const CALL_TIMEOUT_MS = 10_000;
/** Longest wait for a deleted pod to leave the API: its grace period, then the kubelet's sync and the sandbox's stop. */
export const DELETE_WAIT_MS = 60_000;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Settles with `call`, or fails as unreachable (ETIMEDOUT) after 10 s. */
export function bounded<T>(call: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('no answer'), { code: 'ETIMEDOUT' })), CALL_TIMEOUT_MS);
  });
  return Promise.race([call, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Calls `attempt` every POLL_MS until it returns something, or `timeoutMs` has passed; resolves
 * to what it returned, or undefined on timeout. What `attempt` throws ends the wait.
 */
export async function pollUntil<T>(timeoutMs: number, attempt: () => Promise<T | undefined>): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await attempt();
    if (result !== undefined || Date.now() >= deadline) return result;
    await sleep(POLL_MS);
  }
}

/** How a pod deletion ended: gone from the API, still terminating after DELETE_WAIT_MS, or refused. */
export type PodDeletion =
  | { readonly outcome: 'gone' }
  | { readonly outcome: 'terminating' }
  | { readonly outcome: 'failed'; readonly err: unknown };

/**
 * Deletes a pod with its own grace period, not 0 — a forced deletion removes the Pod from the
 * API at once while the kubelet stops its containers later, so the next run could measure beside
 * an agent still spinning — and waits until it has left the API, which the kubelet allows only
 * once its containers have stopped. A pod already gone counts as gone.
 */
export async function deletePodAndWait(core: CoreV1Api, namespace: string, name: string): Promise<PodDeletion> {
  try {
    await bounded(core.deleteNamespacedPod({ name, namespace }));
  } catch (err) {
    if (httpStatus(err) !== 404) return { outcome: 'failed', err };
  }
  const read = () => bounded(core.readNamespacedPod({ name, namespace }));
  const last = await pollUntil(DELETE_WAIT_MS, () =>
    read().then(
      () => undefined,
      (err: unknown) => ({ err }),
    ),
  );
  return last !== undefined && httpStatus(last.err) === 404 ? { outcome: 'gone' } : { outcome: 'terminating' };
}
