/**
 * The agents' rendezvous, with the real agent program: either may start first, and each gives
 * up at --connect-timeout saying what it waited for.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { EVENT_TAG, SCHEMA_VERSION, type AgentEvent, type Plan } from '../agents/contract/schema.js';
import { AGENT_MAIN } from '../bench/install-paths.js';
import { controlSocketAddress } from '../agents/run-context.js';
import { createConnection } from 'node:net';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pbtest-rdv-'));
  mkdirSync(join(dir, 'disk'));
  mkdirSync(join(dir, 'tmpfs'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function plan(connectTimeoutMs: number): Plan {
  return {
    schemaVersion: SCHEMA_VERSION,
    runId: 'rendezvous01',
    settings: { durationMs: 20, warmupMs: 0, verify: 'full', pin: 'none', connectTimeoutMs, peerTimeoutMs: 2000 },
    cases: [{ index: 0, channel: 'uds', mode: 'latency', sizeBytes: 64, repeat: 0 }],
  };
}

function agent(role: 'initiator' | 'responder', p: Plan) {
  const child = spawn(
    process.execPath,
    [AGENT_MAIN, '--role', role, '--disk-dir', join(dir, 'disk'), '--tmpfs-dir', join(dir, 'tmpfs')],
    {
      env: { ...process.env, PODBENCH_PLAN: JSON.stringify(p) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const done = new Promise<{ code: number | null; events: AgentEvent[]; stderr: string }>((resolve) =>
    child.on('close', (code) =>
      resolve({
        code,
        stderr,
        events: stdout
          .split('\n')
          .filter((l) => l.startsWith(EVENT_TAG))
          .map((l) => JSON.parse(l.slice(EVENT_TAG.length)) as AgentEvent),
      }),
    ),
  );
  return done;
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('rendezvous', () => {
  for (const first of ['initiator', 'responder'] as const) {
    it(`works when the ${first} starts 500 ms before the other`, async () => {
      const p = plan(10_000);
      const second = first === 'initiator' ? 'responder' : 'initiator';
      const a = agent(first, p);
      await delay(500);
      const b = agent(second, p);
      const [ra, rb] = await Promise.all([a, b]);
      const initiator = first === 'initiator' ? ra : rb;
      assert.equal(ra.code, 0, ra.stderr);
      assert.equal(rb.code, 0, rb.stderr);
      const result = initiator.events.find((e) => e.type === 'case');
      assert.equal(result?.type === 'case' && result.result.status, 'ok');
    });
  }

  it('the initiator gives up at the deadline and says what it waited for', async () => {
    const started = Date.now();
    const r = await agent('initiator', plan(700));
    assert.equal(r.code, 1);
    assert.ok(Date.now() - started < 5000);
    const fatal = r.events.find((e) => e.type === 'fatal');
    assert.match(
      fatal?.type === 'fatal' ? fatal.message : '',
      /the responder did not open its control socket .* within 700 ms \(--connect-timeout\)/,
    );
  });

  it('the responder gives up at the deadline too', async () => {
    const r = await agent('responder', plan(700));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no initiator connected to .* within 700 ms \(--connect-timeout\)/);
  });

  /** Connects to the responder's control socket as a stand-in initiator and sends `lines`. */
  async function fakeInitiator(p: Plan, lines: string[]): Promise<void> {
    const path = controlSocketAddress(join(dir, 'disk'), p.runId);
    for (let attempt = 0; ; attempt++) {
      try {
        await new Promise<void>((resolve, reject) => {
          const socket = createConnection(path, () => {
            socket.end(lines.map((l) => `${l}\n`).join(''));
            resolve();
          });
          socket.once('error', reject);
        });
        return;
      } catch (err) {
        if (attempt > 100) throw err;
        await delay(50);
      }
    }
  }

  for (const [what, line, expected] of [
    [
      'a hello without the schema version',
      JSON.stringify({ type: 'hello', runId: 'rendezvous01' }),
      /the initiator's control message does not match the podbench schema: \/schemaVersion/,
    ],
    ['a case with a negative index', JSON.stringify({ type: 'open', index: -1 }), /does not match the podbench schema/],
    ['a line that is not JSON', '{"type": "hello",', /the initiator sent a control line that is not JSON/],
  ] as const) {
    it(`the responder refuses ${what} on the control connection, saying why`, async () => {
      const p = plan(5000);
      const responder = agent('responder', p);
      const hello = JSON.stringify({ type: 'hello', runId: p.runId, schemaVersion: SCHEMA_VERSION });
      await fakeInitiator(p, what.startsWith('a hello') ? [line] : [hello, line]);
      const r = await responder;
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, expected);
    });
  }
});
