/**
 * A stop asked for by a signal (Ctrl-C, SIGTERM from the orchestrator, a pod's deletion). Node
 * runs signal handlers on the event loop, which a synchronous measurement loop does not visit;
 * so a case in progress is stopped by the initiator's loop itself: it looks at
 * {@link StopRequest.signal} each time it yields (every {@link YIELD_EVERY_MS}), ends the case as
 * if its time were up (the end flag makes the responder leave its own loop) and the agent exits
 * right after. The responder exits once it has answered for the case.
 */

/**
 * How often the initiator's loop yields to the event loop so that a signal is seen: a stop takes
 * effect within twice this (a signal that arrives just after a yield waits for the next one).
 */
export const YIELD_EVERY_MS = 250;

/** What the measurement loop reads: the signal that asked for a stop, once one did. */
export interface StopPoll {
  readonly signal: NodeJS.Signals | undefined;
}

/** One agent's stop request, shared by its signal handlers and its case loops. */
export class StopRequest implements StopPoll {
  signal: NodeJS.Signals | undefined;
  private loopRunning = false;
  private exit: ((signal: NodeJS.Signals) => void) | undefined;

  /**
   * Called from a signal handler: runs `exit` now, or, while a case's loop runs, as soon as that
   * loop has ended its case.
   */
  request(signal: NodeJS.Signals, exit: (signal: NodeJS.Signals) => void): void {
    this.signal ??= signal;
    this.exit = exit;
    if (!this.loopRunning) exit(this.signal);
  }

  /** Runs a case's work (its loop, or serving it); a stop requested meanwhile takes effect when it returns. */
  async during<T>(work: () => Promise<T>): Promise<T> {
    this.loopRunning = true;
    try {
      return await work();
    } finally {
      this.loopRunning = false;
      if (this.signal && this.exit) this.exit(this.signal);
    }
  }
}
