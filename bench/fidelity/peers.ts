/**
 * bench:fidelity's peer section: no C reference exists for the protocols, so established
 * clients written in C stand in for podbench's Node initiator against podbench's own responder —
 * `wrk` for `http1` and `h2load` (nghttp2) for `h2` — over one connection, one request at a time,
 * the same sizes and modes. What the peer gets against the same server shows how much of
 * podbench's figure is its Node client; what remains is the server's, which both share.
 *
 * Each peer run gets a fresh responder (bench/fidelity/peer-server.ts) pinned to the second CPU,
 * and the client is pinned to the first, as `--pin split` places podbench's agents.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ChannelId } from '../../agents/contract/channels.js';
import type { ModeId } from '../../agents/contract/modes.js';
import { median } from '../../reports/case-groups.js';
import { PACKAGE_ROOT } from '../install-paths.js';
import { lastJsonLine, lastLine, runChild, type CaseTiming, type Measurement } from './measurement.js';
import { runPodbench } from './podbench-case.js';

/** The peer client of each protocol channel that has one. */
export const PEERS = { http1: 'wrk', h2: 'h2load' } as const satisfies Partial<Record<ChannelId, string>>;
/** A protocol channel with a peer client. */
export type PeerChannel = keyof typeof PEERS;

/** One peer comparison: a channel, mode and size, measured by podbench's client and the peer's. */
export interface PeerCase {
  readonly channel: PeerChannel;
  readonly mode: ModeId;
  readonly sizeBytes: number;
}

/** The peer cases: both modes at a small and a large body. */
export const PEER_CASES: readonly PeerCase[] = (Object.keys(PEERS) as PeerChannel[]).flatMap((channel) =>
  (['latency', 'throughput'] as const).flatMap((mode) =>
    [64, 64 * 1024].map((sizeBytes) => ({ channel, mode, sizeBytes })),
  ),
);

/**
 * What a peer case measures: the p50 round trip in ns (latency mode: one request at a time,
 * answered with the body), or requests per second (throughput mode: 204 answers).
 */
export const peerMetric = (mode: ModeId): 'p50' | 'requestsPerSec' => (mode === 'latency' ? 'p50' : 'requestsPerSec');

/** podbench's own initiator and responder on the case, pinned split, read as the peer's metric. */
export async function runPodbenchPeerCase(cliPath: string, c: PeerCase, timing: CaseTiming): Promise<Measurement> {
  const run = await runPodbench(
    cliPath,
    [
      ...['--channels', c.channel, '--modes', c.mode, '--sizes', String(c.sizeBytes), '--pin', 'split'],
      ...['--warmup', `${timing.warmupMs}ms`, '--duration', `${timing.durationMs}ms`],
      ...['--peer-timeout', `${timing.peerTimeoutMs}ms`],
    ],
    // Two cases: the planner adds the raw channel the protocol rides on.
    2 * (timing.warmupMs + timing.durationMs + timing.peerTimeoutMs) + 60_000,
  );
  if ('error' in run) return { status: 'failed', reason: run.error };
  // The planner adds the raw channel the protocol rides on first; the protocol's case is the last.
  const result = run.doc.cases.find((x) => x.channel === c.channel);
  if (!result || result.status !== 'ok') return { status: 'failed', reason: result?.reason ?? 'no case measured' };
  const value = c.mode === 'latency' ? result.latencyNs?.p50 : result.throughput?.messagesPerSec;
  return value ? { status: 'ok', value } : { status: 'failed', reason: 'podbench reported no value' };
}

/** A started peer server: its port, and a stop that returns how many requests it answered. */
interface PeerServer {
  readonly port: number;
  stop(): Promise<{ answered: number; wrongLength: number }>;
}

async function startServer(c: PeerCase, cpu: number): Promise<PeerServer> {
  const script = join(PACKAGE_ROOT, 'dist', 'bench', 'fidelity', 'peer-server.js');
  const child = spawn(
    'taskset',
    ['-c', String(cpu), process.execPath, script, c.channel, c.mode, String(c.sizeBytes)],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  // The server exits by itself when its client closes the connection; a late stop must not throw.
  child.stdin.on('error', () => undefined);
  const lines = createInterface({ input: child.stdout });
  const iterator = lines[Symbol.asyncIterator]();
  let port: number;
  try {
    const first = await Promise.race([
      iterator.next(),
      new Promise<never>((_, fail) => setTimeout(() => fail(new Error('did not start within 10 s')), 10_000).unref()),
    ]);
    port = (JSON.parse(String(first.value)) as { port: number }).port;
    if (!(port > 0)) throw new Error(`printed ${String(first.value)} instead of its port`);
  } catch (err) {
    child.kill('SIGKILL');
    lines.close();
    throw new Error(`the peer server: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  return {
    port,
    async stop() {
      child.stdin.end();
      const last = await iterator.next();
      lines.close();
      return JSON.parse(String(last.value ?? '{"answered":0,"wrongLength":0}')) as {
        answered: number;
        wrongLength: number;
      };
    },
  };
}

/** A duration as wrk and h2load print it (`148.00us`, `1.23ms`, `2.00s`), in nanoseconds. */
function durationNs(text: string): number | undefined {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text);
  if (!m) return undefined;
  return Number(m[1]) * { us: 1e3, ms: 1e6, s: 1e9 }[m[2] as 'us' | 'ms' | 's'];
}

/** wrk: one thread, one connection, a POST of the body; the run includes warm-up (wrk has none). */
async function runWrk(c: PeerCase, port: number, timing: CaseTiming, cpu: number, dir: string): Promise<Measurement> {
  const script = join(dir, 'post.lua');
  writeFileSync(
    script,
    'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/octet-stream"\n' +
      `wrk.body = string.rep("\\0", ${c.sizeBytes})\n`,
  );
  const seconds = Math.max(1, Math.round((timing.warmupMs + timing.durationMs) / 1000));
  const url = `http://127.0.0.1:${port}/log`;
  const args = ['-c', String(cpu), 'wrk', '-t1', '-c1', `-d${seconds}s`, '--latency', '-s', script, url];
  const run = await runChild('taskset', args, seconds * 1000 + 30_000);
  if (run.exitCode !== 0) return { status: 'failed', reason: `wrk: ${run.stderr.trim() || `exit ${run.exitCode}`}` };
  if (/Non-2xx or 3xx responses|Socket errors/.test(run.stdout))
    return { status: 'failed', reason: `wrk: ${run.stdout.split('\n').find((l) => /Non-2xx|Socket errors/.test(l))}` };
  if (c.mode === 'latency') {
    const p50 = /^\s+50%\s+(\S+)$/m.exec(run.stdout)?.[1];
    const ns = p50 && durationNs(p50);
    return ns ? { status: 'ok', value: ns } : { status: 'failed', reason: 'wrk printed no 50th percentile' };
  }
  const rate = Number(/Requests\/sec:\s+([\d.]+)/.exec(run.stdout)?.[1]);
  return rate > 0 ? { status: 'ok', value: rate } : { status: 'failed', reason: 'wrk printed no Requests/sec' };
}

/** h2load: one client, one connection, one stream at a time, prior knowledge, with its own warm-up. */
async function runH2load(
  c: PeerCase,
  port: number,
  timing: CaseTiming,
  cpu: number,
  dir: string,
): Promise<Measurement> {
  const body = join(dir, 'body');
  const log = join(dir, 'requests.log');
  writeFileSync(body, Buffer.alloc(c.sizeBytes));
  const args = [
    ...['-c', String(cpu), 'h2load', '-t1', '-c1', '-m1'],
    ...[`-D${timing.durationMs}ms`, `--warm-up-time=${timing.warmupMs}ms`],
    ...['-d', body, '-H', 'content-type: application/octet-stream', `--log-file=${log}`],
    `http://127.0.0.1:${port}/log`,
  ];
  const run = await runChild('taskset', args, timing.warmupMs + timing.durationMs + 30_000);
  if (run.exitCode !== 0) return { status: 'failed', reason: `h2load: ${run.stderr.trim() || `exit ${run.exitCode}`}` };
  const done = /requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed/.exec(run.stdout);
  if (!done || Number(done[3]) > 0) return { status: 'failed', reason: `h2load: ${done?.[0] ?? 'no request summary'}` };
  if (c.mode === 'latency') {
    // Per request: start (µs since the epoch), status, µs to the end of the response.
    const micros = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((line) => Number(line.split('\t')[2]));
    const p50 = median(micros.filter((x) => x > 0));
    return p50 ? { status: 'ok', value: p50 * 1000 } : { status: 'failed', reason: 'h2load logged no request' };
  }
  const rate = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(run.stdout)?.[1]);
  return rate > 0 ? { status: 'ok', value: rate } : { status: 'failed', reason: 'h2load printed no req/s' };
}

/** The plainest Node client (bench/fidelity/node-peer-client.ts): Node's HTTP stack without podbench. */
async function runNodeClient(c: PeerCase, port: number, timing: CaseTiming, cpu: number): Promise<Measurement> {
  const script = join(PACKAGE_ROOT, 'dist', 'bench', 'fidelity', 'node-peer-client.js');
  const args = [
    c.channel,
    c.mode,
    String(c.sizeBytes),
    String(port),
    String(timing.warmupMs),
    String(timing.durationMs),
  ];
  const run = await runChild(
    'taskset',
    ['-c', String(cpu), process.execPath, script, ...args],
    timing.warmupMs + timing.durationMs + 30_000,
  );
  const result = lastJsonLine(run.stdout) as { p50Ns?: number; requestsPerSec?: number } | undefined;
  const value = c.mode === 'latency' ? result?.p50Ns : result?.requestsPerSec;
  if (run.exitCode !== 0 || !value)
    return { status: 'failed', reason: `node client: ${lastLine(run.stderr) || 'no result'}` };
  return { status: 'ok', value };
}

/** Who drives a peer run: the protocol's C client (`wrk`, `h2load`), or the plainest Node client. */
export type PeerClient = 'c' | 'node';

/**
 * A client on one case against a fresh podbench responder. Fails when the responder saw a body
 * of another length (the client did not send the case's message).
 */
export async function runPeerCase(
  c: PeerCase,
  client: PeerClient,
  timing: CaseTiming,
  cpus: readonly number[],
): Promise<Measurement> {
  const dir = mkdtempSync(join(tmpdir(), 'podbench-peer-client-'));
  const [clientCpu, serverCpu] = [cpus[0]!, cpus[1] ?? cpus[0]!];
  let server: PeerServer | undefined;
  try {
    server = await startServer(c, serverCpu);
    const measured =
      client === 'node'
        ? await runNodeClient(c, server.port, timing, clientCpu)
        : PEERS[c.channel] === 'wrk'
          ? await runWrk(c, server.port, timing, clientCpu, dir)
          : await runH2load(c, server.port, timing, clientCpu, dir);
    const seen = await server.stop();
    server = undefined;
    if (measured.status === 'ok' && (seen.answered === 0 || seen.wrongLength > 0))
      return {
        status: 'failed',
        reason: `the responder answered ${seen.answered}, ${seen.wrongLength} of another size`,
      };
    return measured;
  } catch (err) {
    return { status: 'failed', reason: err instanceof Error ? err.message : String(err) };
  } finally {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
