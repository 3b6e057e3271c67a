/** Whether the podbench process that owns a run is still alive, for the sweeps of runs it left. */

/** Whether process `pid` exists (one of another user counts: it is not ours to sweep). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
