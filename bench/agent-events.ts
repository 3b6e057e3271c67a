/**
 * Reads the initiator's stdout: tagged lines become validated {@link AgentEvent}s, anything
 * else is passed to `onOtherLine` (for --debug). A tagged line that does not match the contract
 * ends the stream with a ContractError: the orchestrator never stores what it cannot trust.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { EVENT_TAG, validateAgentEvent, type AgentEvent } from '../agents/contract/schema.js';

/** Yields the events tagged in `stream`, validated. */
export async function* agentEvents(stream: Readable, onOtherLine: (line: string) => void = () => {}): AsyncGenerator<AgentEvent> {
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.startsWith(EVENT_TAG)) {
      onOtherLine(line);
      continue;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(line.slice(EVENT_TAG.length));
    } catch {
      throw new Error(`the initiator printed a tagged line that is not JSON: ${line.slice(0, 120)}`);
    }
    yield validateAgentEvent(parsed, 'an initiator event');
  }
}
