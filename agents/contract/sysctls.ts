/**
 * What it takes to raise a kernel IPC limit in a pod, said the same way by the agents' skip
 * reasons and the orchestrator's help and diagnoses. `fs.mqueue.*` and `kernel.msg*` are
 * namespaced, but not on the kubelet's safe list: every node's kubelet must allow them, and Pod
 * Security's baseline and restricted profiles refuse them.
 */

/** The requirements of unsafe sysctls, in one clause about `what` ("it", "them"). */
export function unsafeSysctlRequirements(what: 'it' | 'them'): string {
  return `Kubernetes counts ${what} unsafe: every node's kubelet must allow ${what} (--allowed-unsafe-sysctls) and Pod Security baseline and restricted refuse ${what}, so the namespace must enforce privileged`;
}

/** The hint of a case skipped for the IPC limit `name`: how to raise it to `neededBytes` and what that needs. */
export function raiseLimitHint(name: string, neededBytes: number): string {
  return `in a pod, --sysctl ${name}=${neededBytes} raises it (${unsafeSysctlRequirements('it')}); on this host, sysctl -w ${name}=${neededBytes}`;
}
