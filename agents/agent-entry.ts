/**
 * Where the agent program itself is, for the threads it starts (agents/connections.ts): main.ts
 * records its own module URL at start. It is not `process.argv[1]`: in a pod the agent is
 * started through the ConfigMap's bootstrap (bench/pod/agent-delivery.ts), which a thread must
 * not run again (it would unpack the agent over the files the process has loaded).
 */
let entry: URL | undefined;

/** Records the agent's entry module (main.ts, or the bundle it is part of). */
export function setAgentEntry(url: string): void {
  entry = new URL(url);
}

/** The agent's entry module. */
export function agentEntry(): URL {
  if (!entry) throw new Error('the agent entry is not known: main.ts sets it at start');
  return entry;
}
