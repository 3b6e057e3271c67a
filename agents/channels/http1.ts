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
import { existsSync, unlinkSync } from 'node:fs';
import { Agent, createServer, request, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { MODES } from '../contract/modes.js';
import type { MessageBuffer } from '../measure/message.js';
import { IPPROTO_TCP, TCP_NODELAY, intOption } from '../native/sockets.js';
import { unixSocketFeasibility } from './stream-socket.js';
import {
  PeerError,
  type Channel,
  type ChannelContext,
  type EventLoopEndpoint,
  type Hosted,
  type JoinParams,
} from './channel.js';

type Transport = 'tcp' | 'uds';

/** A body that has arrived whole, waiting for a receive (or a receive waiting for one). */
interface Pending {
  body?: Buffer;
  resolve?: (body: Buffer) => void;
  reject?: (err: Error) => void;
}

/** Collects a request's or response's body into one Buffer. */
function readBody(message: IncomingMessage, done: (body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  message.on('data', (chunk: Buffer) => chunks.push(chunk));
  message.on('end', () => done(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
}

/** A queue of whole bodies and the receives waiting for them, with one failure for all. */
class Bodies {
  private readonly queue: Buffer[] = [];
  private waiting: Pending | undefined;
  failure: Error | undefined;

  arrived(body: Buffer): void {
    const waiting = this.waiting;
    if (waiting?.resolve) {
      this.waiting = undefined;
      waiting.resolve(body);
    } else this.queue.push(body);
  }

  fail(err: Error): void {
    this.failure ??= err;
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.reject?.(this.failure);
  }

  /**
   * The next body copied into `into`; resolves with the body's length (a body of another length
   * fails verification, as a short read would).
   */
  next(into: MessageBuffer): Promise<number> {
    if (this.failure) return Promise.reject(this.failure);
    const take = (body: Buffer): number => {
      body.copy(into.bytes, 0, 0, Math.min(body.length, into.bytes.length));
      return body.length;
    };
    const ready = this.queue.shift();
    if (ready) return Promise.resolve(take(ready));
    return new Promise((resolve, reject) => {
      this.waiting = { resolve: (body) => resolve(take(body)), reject };
    });
  }
}

/**
 * What the case records of its connection, read from the connection itself rather than from
 * the options asked for: how many connections carried the requests (1 when keep-alive held), the
 * bytes per message on the wire, and whether TCP_NODELAY is set on the socket (getsockopt).
 */
function connectionDetails(
  sockets: ReadonlySet<Socket>,
  messages: number,
  transport: Transport,
): Record<string, number | string | boolean> {
  const [socket] = sockets;
  if (!socket || messages === 0) return { protocol: 'HTTP/1.1', connections: sockets.size };
  // Node keeps the descriptor on the socket's internal handle; there is no public getter for it.
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return {
    protocol: 'HTTP/1.1',
    connections: sockets.size,
    wireBytesOutPerMessage: Math.round(socket.bytesWritten / messages),
    wireBytesInPerMessage: Math.round(socket.bytesRead / messages),
    ...(transport === 'tcp' && fd !== undefined && fd >= 0
      ? { noDelay: intOption(fd, IPPROTO_TCP, TCP_NODELAY, 'TCP_NODELAY') !== 0 }
      : {}),
  };
}

/** The responder's side: requests in, answers out. */
class ServerEndpoint implements EventLoopEndpoint {
  readonly blocking = false;
  private readonly bodies = new Bodies();
  /** Answers owed, oldest first (one at a time on a keep-alive connection). */
  private readonly owed: ServerResponse[] = [];
  private readonly sockets = new Set<Socket>();
  /** Answers written: the end message gets none, so per message means per answer. */
  private answered = 0;

  constructor(
    private readonly echoes: boolean,
    private readonly transport: Transport,
  ) {}

  /** A request arrived (the server's handler). */
  handle(req: IncomingMessage, res: ServerResponse): void {
    this.sockets.add(req.socket);
    readBody(req, (body) => {
      if (this.echoes) this.owed.push(res);
      else {
        res.writeHead(204).end();
        this.answered++;
      }
      this.bodies.arrived(body);
    });
  }

  connectionLost(err: Error): void {
    this.bodies.fail(err);
  }

  send(message: MessageBuffer): undefined {
    const res = this.owed.shift();
    if (!res) throw new Error('http1: an answer with no request to answer');
    // A copy: the loop reuses its buffer for the next message before this one is on the wire.
    res.writeHead(200, { 'content-length': message.bytes.length }).end(Buffer.from(message.bytes));
    this.answered++;
    return undefined;
  }

  receive(into: MessageBuffer): Promise<number> {
    return this.bodies.next(into);
  }

  details(): Record<string, number | string | boolean> {
    return connectionDetails(this.sockets, this.answered, this.transport);
  }

  close(): void {
    this.bodies.fail(new PeerError('the HTTP server closed'));
  }
}

/** The initiator's side: one POST per message on a keep-alive connection. */
class ClientEndpoint implements EventLoopEndpoint {
  readonly blocking = false;
  private readonly bodies = new Bodies();
  private readonly sockets = new Set<Socket>();
  private requests = 0;
  private last: ClientRequest | undefined;
  private readonly headers: Record<string, string>;

  constructor(
    private readonly agent: Agent,
    private readonly target: { host?: string; port?: number; socketPath?: string },
    private readonly echoes: boolean,
    private readonly timeoutMs: number,
    sizeBytes: number,
    private readonly transport: Transport,
  ) {
    this.headers = { 'content-type': 'application/octet-stream', 'content-length': String(sizeBytes) };
  }

  send(message: MessageBuffer): Promise<void> | undefined {
    if (this.bodies.failure) throw this.bodies.failure;
    this.requests++;
    const req: ClientRequest = request({
      ...this.target,
      agent: this.agent,
      method: 'POST',
      path: '/log',
      headers: this.headers,
      timeout: this.timeoutMs,
    });
    req.on('timeout', () => req.destroy(new PeerError(`the responder did not answer within ${this.timeoutMs} ms`)));
    req.on('error', (err) => this.bodies.fail(err instanceof PeerError ? err : new PeerError(`HTTP: ${err.message}`)));
    req.once('socket', (socket: Socket) => this.sockets.add(socket));
    const answered = new Promise<void>((resolve) => {
      req.on('response', (res: IncomingMessage) => {
        if (this.echoes) readBody(res, (body) => this.bodies.arrived(body));
        else {
          res.resume();
          res.on('end', resolve);
        }
      });
    });
    req.end(Buffer.from(message.bytes));
    this.last = req;
    // Without an echo the answer is an empty 204, and HTTP/1.1 sends the next request after it.
    return this.echoes ? undefined : answered;
  }

  receive(into: MessageBuffer): Promise<number> {
    return this.bodies.next(into);
  }

  details(): Record<string, number | string | boolean> {
    // The last request (the end message) may not be on the wire yet: per message means per request written.
    const written = this.last && !this.last.writableFinished ? this.requests - 1 : this.requests;
    return connectionDetails(this.sockets, written, this.transport);
  }

  /**
   * Closes the connection once the last request (the end message, which nothing waits for) is
   * on the wire: the agent hands a request its socket on a later turn of the event loop, so
   * closing at once would drop it. Closed anyway after the timeout.
   */
  close(): void {
    const last = this.last;
    if (!last || last.writableFinished || last.destroyed) {
      this.agent.destroy();
      return;
    }
    const timer = setTimeout(() => this.agent.destroy(), this.timeoutMs).unref();
    last.once('finish', () => {
      clearTimeout(timer);
      this.agent.destroy();
    });
  }
}

function socketPathOf(ctx: ChannelContext): string {
  return join(ctx.dirs.disk, `podbench-${ctx.spec.index}.http.sock`);
}

function hostHttp(transport: Transport, ctx: ChannelContext): Promise<Hosted> {
  const echoes = MODES[ctx.spec.mode].responderEchoes;
  const endpoint = new ServerEndpoint(echoes, transport);
  const server = createServer({ keepAlive: true, noDelay: true }, (req, res) => endpoint.handle(req, res));
  server.keepAliveTimeout = ctx.peerTimeoutMs;
  server.headersTimeout = ctx.peerTimeoutMs + 1000;
  server.requestTimeout = 0; // a case's connection carries many requests; each wait is bounded below
  const path = transport === 'uds' ? socketPathOf(ctx) : undefined;
  let connected: Promise<void> | undefined;
  const connection = new Promise<void>((resolve) => {
    server.once('connection', (socket: Socket) => {
      socket.setTimeout(ctx.peerTimeoutMs, () =>
        socket.destroy(new PeerError(`the initiator sent nothing within ${ctx.peerTimeoutMs} ms`)),
      );
      socket.on('error', (err) => endpoint.connectionLost(err));
      socket.on('close', () => endpoint.connectionLost(new PeerError('the initiator closed the HTTP connection')));
      resolve();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const listening = () => {
      const address = server.address();
      const params: JoinParams = path ? { path } : { port: typeof address === 'object' && address ? address.port : 0 };
      let closed = false;
      resolve({
        params,
        async accept() {
          connected ??= Promise.race([
            connection,
            new Promise<void>((_, fail) =>
              setTimeout(
                () => fail(new PeerError(`the initiator did not connect within ${ctx.peerTimeoutMs} ms`)),
                ctx.peerTimeoutMs,
              ).unref(),
            ),
          ]);
          await connected;
          return endpoint;
        },
        dispose() {
          if (closed) return;
          closed = true;
          server.closeAllConnections();
          server.close();
          if (path && existsSync(path)) unlinkSync(path);
        },
      });
    };
    if (path) {
      if (existsSync(path)) unlinkSync(path);
      server.listen(path, listening);
    } else server.listen(0, '127.0.0.1', listening);
  });
}

function joinHttp(transport: Transport, ctx: ChannelContext, params: JoinParams): ClientEndpoint {
  const echoes = MODES[ctx.spec.mode].responderEchoes;
  // One connection, kept alive, Nagle off: the options reach net.createConnection.
  const agent = new Agent({ keepAlive: true, maxSockets: 1, noDelay: true } as ConstructorParameters<typeof Agent>[0]);
  const target =
    transport === 'uds' ? { socketPath: String(params.path) } : { host: '127.0.0.1', port: Number(params.port) };
  return new ClientEndpoint(agent, target, echoes, ctx.peerTimeoutMs, ctx.spec.sizeBytes, transport);
}

function httpChannel(id: 'http1' | 'http1-uds', transport: Transport): Channel {
  return {
    id,
    probe: async (scratchDir) => {
      const server = createServer((_, res) => res.writeHead(204).end());
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        if (transport === 'uds') server.listen(join(scratchDir, 'h.sock'), resolve);
        else server.listen(0, '127.0.0.1', resolve);
      });
      await new Promise<void>((resolve) => server.close(() => resolve()));
      return `node:http ${transport === 'uds' ? 'listens on a Unix socket in the temp directory' : 'listens on 127.0.0.1'}`;
    },
    feasibility: (ctx) => (transport === 'uds' ? unixSocketFeasibility(ctx, {}, socketPathOf(ctx)) : { details: {} }),
    host: (ctx) => hostHttp(transport, ctx),
    join: (ctx, params) => joinHttp(transport, ctx, params),
  };
}

/** HTTP/1.1 over TCP on 127.0.0.1. */
export const http1Channel = httpChannel('http1', 'tcp');
/** HTTP/1.1 over a Unix socket in the shared volume. */
export const http1UdsChannel = httpChannel('http1-uds', 'uds');
