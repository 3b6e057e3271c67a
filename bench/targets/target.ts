/**
 * The interface every target implements (local processes, a podman pod, a Kubernetes Pod): start
 * the agent pair for a plan, stream the initiator's events, stop and clean up on every exit path.
 */
import type { AgentEvent, ClusterNode, Plan } from '../../agents/contract/schema.js';

/** A started pair of agents. */
export interface RunningPair {
  /** The initiator's validated events, in order; ends when the initiator's output ends. */
  readonly events: AsyncIterable<AgentEvent>;
  /**
   * Waits for the agents to exit (or stops them when `abort` is set), then removes everything
   * the run created. Idempotent; safe to call on every exit path. Resolves to a one-line
   * diagnosis when an agent failed, e.g. its last error line.
   */
  stop(abort: boolean): Promise<string | undefined>;
  /**
   * For a second Ctrl-C: kills the agents at once and removes what it can without waiting for
   * anything slow (what is left, a later run or `podbench clean` sweeps). Safe to call while
   * {@link stop} runs.
   */
  abandon(): Promise<void>;
  /** The Kubernetes node the agents run on, where the target has one. */
  readonly node?: ClusterNode;
}

/** A place to run the agents. */
export interface Target {
  /** `local`, `podman`, `kubernetes`. */
  readonly name: string;
  /** Starts both agents for `plan`; `signal` aborts a start that takes long (Ctrl-C). */
  start(plan: Plan, signal: AbortSignal): Promise<RunningPair>;
}

/** The steps of stopping a pair, in the order every target takes them. */
export interface StopSteps {
  /** Ends the agents: waits for them to finish, or, with `abort`, makes them stop. */
  halt(abort: boolean): Promise<void> | void;
  /** Why an agent failed, in one line, read before the cleanup removes the evidence; not asked after an abort. */
  diagnose(): Promise<string | undefined> | string | undefined;
  /** Removes everything the run created. */
  cleanup(): Promise<void> | void;
}

/** {@link RunningPair.stop} made of its steps: they run once, and every later call gets the same result. */
export function stopOnce(steps: StopSteps): RunningPair['stop'] {
  let stopped: Promise<string | undefined> | undefined;
  return (abort) =>
    (stopped ??= (async () => {
      await steps.halt(abort);
      const diagnosis = abort ? undefined : await steps.diagnose();
      await steps.cleanup();
      return diagnosis;
    })());
}

/** `the initiator agent exited with 1: <why>`: the one-line diagnosis of an agent that failed. */
export function exitDiagnosis(role: string, what: 'agent' | 'container', code: number | string, why?: string): string {
  return `the ${role} ${what} exited with ${code}${why ? `: ${why}` : ''}`;
}
