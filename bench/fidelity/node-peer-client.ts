/**
 * The plainest Node client for bench:fidelity's peer section: the same requests as podbench's
 * initiator (a POST of the body on one keep-alive connection, Nagle off; for h2 one stream per
 * request on one session, windows raised), one at a time, with nothing of podbench around them —
 * no message header, no verification, no copy into a message buffer, the body sent from one
 * Buffer every time. Set between wrk or h2load (C) and podbench, it splits the difference into
 * what Node's HTTP stack costs and what podbench adds.
 *
 * Usage: node node-peer-client.js <http1|h2> <latency|throughput> <sizeBytes> <port> <warmupMs>
 * <durationMs>; prints {"p50Ns", "requestsPerSec", "requests"} as one JSON line.
 */
import { Agent, request } from 'node:http';
import { connect } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { median } from '../../reports/case-groups.js';

const [protocol, mode, size, portText, warmup, duration] = process.argv.slice(2);
const sizeBytes = Number(size);
const port = Number(portText);
const body = Buffer.alloc(sizeBytes);
const headers = { 'content-type': 'application/octet-stream', 'content-length': String(sizeBytes) };

/** Sends one request and resolves when its answer has been read whole. */
type Exchange = () => Promise<void>;

function http1Exchange(): { exchange: Exchange; close: () => void } {
  const agent = new Agent({ keepAlive: true, maxSockets: 1, noDelay: true } as ConstructorParameters<typeof Agent>[0]);
  const exchange: Exchange = () =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, agent, method: 'POST', path: '/log', headers }, (res) => {
        res.on('data', () => undefined);
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end(body);
    });
  return { exchange, close: () => agent.destroy() };
}

async function h2Exchange(): Promise<{ exchange: Exchange; close: () => void }> {
  const windowBytes = Math.max(1024 * 1024, 2 * sizeBytes);
  const session = connect(`http://127.0.0.1:${port}`, {
    settings: { initialWindowSize: windowBytes },
    createConnection: () => netConnect({ host: '127.0.0.1', port, noDelay: true }),
  });
  await new Promise<void>((resolve, reject) => session.once('connect', () => resolve()).once('error', reject));
  session.setLocalWindowSize(windowBytes);
  const h2Headers = { ':method': 'POST', ':path': '/log', ...headers };
  const exchange: Exchange = () =>
    new Promise((resolve, reject) => {
      const stream = session.request(h2Headers);
      stream.on('data', () => undefined);
      stream.on('end', resolve);
      stream.on('error', reject);
      stream.end(body);
    });
  return { exchange, close: () => session.destroy() };
}

const { exchange, close } = protocol === 'h2' ? await h2Exchange() : http1Exchange();
const until = (ms: number) => process.hrtime.bigint() + BigInt(ms) * 1_000_000n;
const warmEnd = until(Number(warmup));
while (process.hrtime.bigint() < warmEnd) await exchange();
const roundTripsNs: number[] = [];
let requests = 0;
const start = process.hrtime.bigint();
const end = until(Number(duration));
let now = start;
while (now < end) {
  const sent = now;
  await exchange();
  now = process.hrtime.bigint();
  requests++;
  if (mode === 'latency') roundTripsNs.push(Number(now - sent));
}
const elapsedS = Number(now - start) / 1e9;
close();
process.stdout.write(
  `${JSON.stringify({
    p50Ns: mode === 'latency' ? median(roundTripsNs) : undefined,
    requestsPerSec: requests / elapsedS,
    requests,
  })}\n`,
);
