/**
 * A deadline on the agents' progress: the orchestrator re-arms it at every event, with a budget
 * for what should come next. An agent stuck beyond every bounded wait (a bug, a wedged kernel
 * call) then ends the run with a reason instead of hanging an unattended CI job.
 */
import type { AgentEvent, RunSettings } from '../../agents/contract/schema.js';

/** Slack on top of each budget: process start, the harness floor, scheduling. */
const SLACK_MS = 15_000;

/** How long the next event may take after `event` (undefined: nothing more is expected). */
export function nextEventBudgetMs(event: AgentEvent | undefined, s: RunSettings): number | undefined {
  if (!event) return s.connectTimeoutMs + SLACK_MS; // start: rendezvous and harness floor
  switch (event.type) {
    case 'case-start':
      // Opening the channel, warm-up, the case, the responder's report; waits are bounded by the peer timeout.
      return s.warmupMs + s.durationMs + 3 * s.peerTimeoutMs + s.connectTimeoutMs + SLACK_MS;
    case 'done':
    case 'fatal':
      return undefined;
    default:
      return s.connectTimeoutMs + SLACK_MS;
  }
}

/** Calls `onExpire` when not re-armed in time. */
export class Watchdog {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly onExpire: (stalledAfter: string, waitedMs: number) => void) {}

  /** Starts (or restarts) the countdown; `after` names the last thing seen. */
  arm(budgetMs: number | undefined, after: string): void {
    this.disarm();
    if (budgetMs === undefined) return;
    this.timer = setTimeout(() => this.onExpire(after, budgetMs), budgetMs);
  }

  disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
