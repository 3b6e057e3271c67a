#!/usr/bin/env node
/**
 * The agent program: one binary, two roles. Runs in each container of the pod (or as a local
 * process) with the plan in PODBENCH_PLAN (JSON) or --plan-file, and the shared directories.
 *
 *   podbench-agent --role initiator|responder --disk-dir DIR --tmpfs-dir DIR
 */
import { constants } from 'node:os';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { isMainThread, workerData } from 'node:worker_threads';
import { runConnectionWorker, type ConnectionWorkerData } from './connection-worker.js';
import { setAgentEntry } from './agent-entry.js';
import { validatePlan, type Plan } from './contract/schema.js';
import { initiate, emit } from './initiator.js';
import { readKernelLimits } from './kernel-limits.js';
import { applyPin } from './placement.js';
import { disposeCurrentChannel, respond } from './responder.js';
import { RunContext, reasonOf } from './run-context.js';

function readPlan(planFile: string | undefined): Plan {
  const text = planFile ? readFileSync(planFile, 'utf8') : process.env.PODBENCH_PLAN;
  if (!text) throw new Error('no plan: set PODBENCH_PLAN or pass --plan-file');
  return validatePlan(JSON.parse(text), 'the plan');
}

/** This agent's role, once the arguments are read (the error path needs it). */
let role: string | undefined;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      role: { type: 'string' },
      'disk-dir': { type: 'string' },
      'tmpfs-dir': { type: 'string' },
      'plan-file': { type: 'string' },
    },
  });
  role = values.role;
  if (role !== 'initiator' && role !== 'responder') throw new Error('--role must be initiator or responder');
  const disk = values['disk-dir'];
  const tmpfs = values['tmpfs-dir'];
  if (!disk || !tmpfs) throw new Error('--disk-dir and --tmpfs-dir are required');
  const plan = readPlan(values['plan-file']);
  const run = new RunContext(plan, { disk, tmpfs }, readKernelLimits());

  // A signal ends the run; whatever this agent created goes with it. A case in progress ends
  // first, within a tenth of a second (see StopRequest), so that the peer leaves its loop too.
  const exitOnSignal = (signal: NodeJS.Signals) => {
    disposeCurrentChannel();
    run.journal.removeAll();
    process.exit(128 + constants.signals[signal]);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.once(signal, () => run.stop.request(signal, exitOnSignal));
  const pinNote = applyPin(plan.settings.pin, role);
  return role === 'initiator' ? initiate(run, pinNote) : respond(run);
}

/** The agent's main thread: reads its arguments and plays its role. */
function mainThread(): void {
  // Whatever escapes (a bug, a broken pipe) ends the agent with one line the orchestrator can show.
  process.on('uncaughtException', (err) => {
    process.stderr.write(`podbench-agent: ${reasonOf(err)}\n`);
    disposeCurrentChannel();
    process.exit(1);
  });
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      const message = reasonOf(err);
      // The orchestrator reads the initiator's stdout: say there why the run stopped.
      if (role === 'initiator') emit({ type: 'fatal', message });
      process.stderr.write(`podbench-agent: ${message}\n`);
      process.exitCode = 1;
    },
  );
}

// A connection of a case with several runs this same program on a thread (agents/connections.ts).
setAgentEntry(import.meta.url);
if (isMainThread) mainThread();
else void runConnectionWorker(workerData as ConnectionWorkerData);
