/**
 * `http1` and `http1-uds`: the sidecar pattern the articles show, an application POSTing each
 * message to a local agent (`fetch('http://localhost:8080/log', { method: 'POST', body })`),
 * over TCP on 127.0.0.1 or a Unix socket in the shared volume. `node:http` on both sides, one
 * keep-alive connection with Nagle off. In latency mode the responder answers each POST with
 * the body echoed (200); in throughput mode with an empty 204, and the next request goes out
 * once that answer is in (HTTP/1.1 has no pipelining that clients use).
 *
 * The message is the request body (and the echoed response body), verified like every message.
 * What HTTP adds on the wire — request line, headers, status line — is counted from the socket
 * (`wireBytesOutPerMessage`, `wireBytesInPerMessage` on each side), so the protocol's overhead
 * shows beside the message size. The protocol stack allocates per request (headers, request and
 * response objects) as any Node HTTP client and server do; that cost is part of what these
 * channels measure.
 */
import { Agent, createServer, request, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { MODES } from '../contract/modes.js';
import type { MessageBuffer } from '../measure/message.js';
import {
  Bodies,
  SocketTally,
  afterLast,
  bodyOf,
  hostedServer,
  listenOn,
  probeListener,
  protocolChannel,
  protocolSocketPath,
  readBody,
  type Transport,
} from './http-exchange.js';
import {
  PeerError,
  type Channel,
  type ChannelContext,
  type EventLoopEndpoint,
  type Hosted,
  type JoinParams,
} from './channel.js';

/** How long the server keeps an idle connection: longer than any pause inside a case. */
const KEEP_ALIVE_MS = 60_000;

/** The responder's side: requests in, answers out. */
class ServerEndpoint implements EventLoopEndpoint {
  readonly blocking = false;
  private readonly bodies: Bodies;
  /** Answers owed, oldest first (one at a time on a keep-alive connection). */
  private readonly owed: ServerResponse[] = [];
  private received = 0;
  private answered = 0;

  constructor(
    private readonly echoes: boolean,
    private readonly transport: Transport,
    private readonly tally: SocketTally,
    peerTimeoutMs: number,
  ) {
    this.bodies = new Bodies(peerTimeoutMs, 'the initiator', () => transport === 'tcp' && tally.sampleNoDelay());
  }

  /** A request arrived (the server's handler). */
  handle(req: IncomingMessage, res: ServerResponse): void {
    readBody(
      req,
      (body) => {
        this.received++;
        if (this.echoes) this.owed.push(res);
        else {
          res.writeHead(204).end();
          this.answered++;
        }
        this.bodies.arrived(body);
      },
      (err) => this.bodies.fail(err),
    );
  }

  connectionLost(err: Error): void {
    this.bodies.fail(err);
  }

  send(message: MessageBuffer): undefined {
    const res = this.owed.shift();
    if (!res) throw new Error('http1: an answer with no request to answer');
    res.writeHead(200, { 'content-length': message.bytes.length }).end(bodyOf(message));
    this.answered++;
    return undefined;
  }

  receive(into: MessageBuffer): Promise<number> {
    return this.bodies.next(into);
  }

  details(): Record<string, number | string | boolean> {
    return this.tally.details('HTTP/1.1', this.transport, { requests: this.received, answers: this.answered });
  }

  close(): void {
    this.bodies.fail(new PeerError('the HTTP server closed'));
  }
}

/** The initiator's side: one POST per message on a keep-alive connection. */
class ClientEndpoint implements EventLoopEndpoint {
  readonly blocking = false;
  private readonly bodies: Bodies;
  private last: ClientRequest | undefined;
  private readonly headers: Record<string, string>;

  constructor(
    private readonly agent: Agent,
    private readonly target: { host?: string; port?: number; socketPath?: string },
    private readonly echoes: boolean,
    private readonly timeoutMs: number,
    sizeBytes: number,
    private readonly transport: Transport,
    private readonly tally: SocketTally,
  ) {
    this.headers = { 'content-type': 'application/octet-stream', 'content-length': String(sizeBytes) };
    this.bodies = new Bodies(timeoutMs, 'the responder', () => transport === 'tcp' && tally.sampleNoDelay());
  }

  send(message: MessageBuffer): Promise<void> | undefined {
    if (this.bodies.failure) throw this.bodies.failure;
    const req: ClientRequest = request({
      ...this.target,
      agent: this.agent,
      method: 'POST',
      path: '/log',
      headers: this.headers,
    });
    const failed = (err: Error) =>
      this.bodies.fail(err instanceof PeerError ? err : new PeerError(`HTTP: ${err.message}`));
    req.on('error', failed);
    const answered = new Promise<void>((resolve) => {
      req.on('response', (res: IncomingMessage) => {
        if (this.echoes) readBody(res, (body) => this.bodies.arrived(body), failed);
        else readBody(res, () => resolve(), failed);
      });
    });
    req.end(bodyOf(message));
    this.last = req;
    // Without an echo the answer is an empty 204, and HTTP/1.1 sends the next request after it.
    return this.echoes ? undefined : this.bodies.guard(answered);
  }

  receive(into: MessageBuffer): Promise<number> {
    return this.bodies.next(into);
  }

  details(): Record<string, number | string | boolean> {
    return this.tally.details('HTTP/1.1', this.transport);
  }

  /**
   * Closes the connection once the last request (the end message, which nothing answers) is on
   * the wire: the agent hands a request its socket on a later turn of the event loop, so closing
   * at once would drop it.
   */
  close(): void {
    const last = this.last;
    const written =
      last && !last.writableFinished && !last.destroyed
        ? new Promise((resolve) => last.once('finish', resolve))
        : undefined;
    afterLast(written, this.timeoutMs, () => {
      this.agent.destroy();
      this.tally.close();
    });
    this.bodies.close(new PeerError('the HTTP client closed'));
  }
}

async function hostHttp(transport: Transport, ctx: ChannelContext): Promise<Hosted> {
  const echoes = MODES[ctx.spec.mode].responderEchoes;
  const tally = new SocketTally('server', (listener) => listener === server);
  const endpoint = new ServerEndpoint(echoes, transport, tally, ctx.peerTimeoutMs);
  // A connection that closes before its first request is a client's probe (wrk connects once to
  // check the address), not the case's connection going away.
  const carrying = new WeakSet<Socket>();
  const server = createServer({ keepAlive: true, noDelay: true }, (req, res) => {
    carrying.add(req.socket);
    endpoint.handle(req, res);
  });
  // Node's own request timers are off, and the keep-alive hint long: a Node client takes a
  // second off the server's `Keep-Alive: timeout=N` and dropped a busy connection mid-case when N
  // was 1 (--peer-timeout 1s). The endpoint's watchdog bounds every wait instead (see Bodies).
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  server.headersTimeout = 0;
  server.requestTimeout = 0;
  const path = transport === 'uds' ? protocolSocketPath(ctx, 'http1') : undefined;
  const connection = new Promise<void>((resolve) => {
    server.on('connection', (socket: Socket) => {
      socket.on('error', (err) => carrying.has(socket) && endpoint.connectionLost(err));
      socket.on(
        'close',
        () =>
          carrying.has(socket) && endpoint.connectionLost(new PeerError('the initiator closed the HTTP connection')),
      );
      resolve();
    });
  });
  const params = await listenOn(server, path).catch((err: unknown) => {
    tally.close();
    throw err;
  });
  const closeServer = () => {
    server.closeAllConnections();
    server.close();
  };
  return hostedServer({ params, connection, endpoints: [endpoint], tally, path, closeServer }, ctx.peerTimeoutMs);
}

function joinHttp(transport: Transport, ctx: ChannelContext, params: JoinParams): ClientEndpoint {
  const echoes = MODES[ctx.spec.mode].responderEchoes;
  // One connection, kept alive, Nagle off: the options reach net.createConnection.
  const agent = new Agent({ keepAlive: true, maxSockets: 1, noDelay: true } as ConstructorParameters<typeof Agent>[0]);
  const target =
    transport === 'uds' ? { socketPath: String(params.path) } : { host: '127.0.0.1', port: Number(params.port) };
  const tally = new SocketTally('client');
  return new ClientEndpoint(agent, target, echoes, ctx.peerTimeoutMs, ctx.spec.sizeBytes, transport, tally);
}

const httpChannel = (id: 'http1' | 'http1-uds', transport: Transport): Channel =>
  protocolChannel(id, transport, 'http1', {
    probe: (scratchDir) => probeListener(createServer(), transport, scratchDir, 'node:http'),
    host: (ctx) => hostHttp(transport, ctx),
    join: (ctx, params) => joinHttp(transport, ctx, params),
  });

/** HTTP/1.1 over TCP on 127.0.0.1. */
export const http1Channel = httpChannel('http1', 'tcp');
/** HTTP/1.1 over a Unix socket in the shared volume. */
export const http1UdsChannel = httpChannel('http1-uds', 'uds');
