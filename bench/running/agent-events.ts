/**
 * Reads the initiator's stdout: tagged lines become validated {@link AgentEvent}s, anything
 * else is passed to `onOtherLine` (for --debug). A tagged line that does not match the contract
 * ends the stream with a ContractError: the orchestrator never stores what it cannot trust.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { EVENT_TAG, validateAgentEvent, type AgentEvent } from '../../agents/contract/schema.js';

/**
 * The line of an agent's output that best explains its failure: its own `podbench-agent: …`
 * line, else the last `…Error: …` line (Node's report of an uncaught error ends with a stack,
 * the error's fields and its version, none of which explains anything), else the last line.
 */
export function explainingLine(output: string): string | undefined {
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith(EVENT_TAG.trim()));
  const own = lines.filter((l) => l.startsWith('podbench-agent:')).at(-1);
  if (own) return own.slice('podbench-agent:'.length).trim();
  return lines.filter((l) => /^\w*Error\b.*:/.test(l)).at(-1) ?? lines.at(-1);
}

/** Yields the events tagged in `stream`, validated. */
export async function* agentEvents(
  stream: Readable,
  onOtherLine: (line: string) => void = () => {},
): AsyncGenerator<AgentEvent> {
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
