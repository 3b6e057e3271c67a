/**
 * What the protocol channels (`http1`, `h2`, `grpc` and their `-uds` twins) share: a queue of
 * whole message bodies between the protocol library's callbacks and the loop's receives, the
 * sockets the library opened (found through Node's `net` diagnostics channels, since grpc-js and
 * node:http2 keep theirs inside), what those sockets carried, and where the Unix socket lives.
 *
 * Wire bytes are read from the sockets themselves (`bytesWritten`, `bytesRead`), so they hold
 * everything the protocol put on the connection: request and status lines, headers (HPACK-coded
 * for HTTP/2), frames, gRPC's length prefix, flow-control updates and pings.
 */
import diagnostics from 'node:diagnostics_channel';
import { rmSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { MessageBuffer } from '../measure/message.js';
import { IPPROTO_TCP, TCP_NODELAY, intOption } from '../native/sockets.js';
import { unixSocketFeasibility } from './stream-socket.js';
import {
  PeerError,
  type Channel,
  type ChannelContext,
  type EventLoopEndpoint,
  type HostedLanes,
  type Lanes,
  type JoinParams,
} from './channel.js';
import type { ChannelId } from '../contract/channels.js';

/** The connection a protocol channel rides on. */
export type Transport = 'tcp' | 'uds';

/**
 * The message as a Buffer over the loop's own memory, not a copy. Safe for a request or answer
 * that the other side must have whole before anything more happens: the initiator stamps its
 * next message only once the answer is in, which the request must have reached first, and the
 * responder's next body comes only after the initiator has read the echo. A stream of messages
 * with none answered (gRPC client streaming) must copy instead.
 */
export const bodyOf = (message: MessageBuffer): Buffer =>
  Buffer.from(message.bytes.buffer, message.bytes.byteOffset, message.bytes.byteLength);

/**
 * A whole body as the library delivered it, in chunks. Kept as chunks and copied straight into
 * the loop's message: joining them first would allocate a second copy of every large body.
 */
export type Body = readonly Buffer[];

/**
 * Collects a request's, response's or stream's body, whole, as its chunks; `cut` hears of a body
 * closed before its end (the peer went away mid-message, which Node reports to no other listener
 * once a response has begun).
 */
export function readBody(body: Readable, done: (whole: Body) => void, cut: (err: Error) => void): void {
  const chunks: Buffer[] = [];
  let ended = false;
  body.on('data', (chunk: Buffer) => chunks.push(chunk));
  body.on('end', () => {
    ended = true;
    done(chunks);
  });
  body.on('close', () => ended || cut(new PeerError('the connection closed in the middle of a message')));
}

/** Copies `body` into `into` (as much as fits); returns the body's whole length. */
function copyBody(body: Body, into: MessageBuffer): number {
  let length = 0;
  for (const chunk of body) {
    if (length < into.bytes.length)
      chunk.copy(into.bytes, length, 0, Math.min(chunk.length, into.bytes.length - length));
    length += chunk.length;
  }
  return length;
}

/**
 * A queue of whole bodies and the receive waiting for one, with one failure for all, and the
 * peer timeout of everything an endpoint waits for: a receive, or (through {@link Bodies.guard})
 * an answer or a drain. One interval timer per endpoint, not one per message, fails the case when
 * something has waited a whole tick of `timeoutMs` with no body, answer or progress in it, so a
 * silent or vanished peer fails it within one to two peer timeouts, never hangs it.
 */
export class Bodies {
  private readonly queue: Body[] = [];
  private waiting: { resolve: (body: Body) => void; reject: (err: Error) => void } | undefined;
  /** Guarded waits in progress (answers, drains). */
  private guarded = 0;
  /** Bodies, answers and drains so far: what the watchdog looks at. */
  private progress = 0;
  private readonly failed: Promise<never>;
  private rejectAll!: (err: Error) => void;
  private readonly watchdog: NodeJS.Timeout;
  /** The first failure; every later receive rejects with it. */
  failure: Error | undefined;

  /**
   * `timeoutMs`: the peer timeout; `peer` names the other side in the failure (`the responder`);
   * `firstProgress` runs once, at the first body, answer or drain: the connection is up.
   */
  constructor(
    timeoutMs: number,
    peer: string,
    private firstProgress?: () => void,
  ) {
    this.failed = new Promise<never>((_, reject) => (this.rejectAll = reject));
    this.failed.catch(() => undefined); // read through guard(); nobody may be waiting when it fails
    let seen = -1;
    this.watchdog = setInterval(() => {
      const idle = this.progress === seen && (this.waiting !== undefined || this.guarded > 0);
      if (idle) this.fail(new PeerError(`${peer} sent nothing for at least ${timeoutMs} ms`));
      seen = this.progress;
    }, timeoutMs).unref();
  }

  private advanced(): void {
    this.progress++;
    if (this.firstProgress) {
      const first = this.firstProgress;
      this.firstProgress = undefined;
      first();
    }
  }

  /** A body has arrived whole. */
  arrived(body: Body): void {
    this.advanced();
    const waiting = this.waiting;
    if (waiting) {
      this.waiting = undefined;
      waiting.resolve(body);
    } else this.queue.push(body);
  }

  /** The connection failed: every wait in progress and every later one rejects (first failure wins). */
  fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    clearInterval(this.watchdog);
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.reject(err);
    this.rejectAll(err);
  }

  /** `wait` (an answer, a drain), or the endpoint's failure, whichever comes first; watched like a receive. */
  guard(wait: Promise<void>): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    this.guarded++;
    return Promise.race([wait, this.failed]).finally(() => {
      this.guarded--;
      this.advanced();
    });
  }

  /**
   * The next body copied into `into`; resolves with the body's length (a body of another length
   * fails verification, as a short read would). Bodies that arrived whole before a failure are
   * still handed out.
   */
  next(into: MessageBuffer): Promise<number> {
    const ready = this.queue.shift();
    if (ready) return Promise.resolve(copyBody(ready, into));
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting = { resolve: (body) => resolve(copyBody(body, into)), reject };
    });
  }

  /** Stops the watchdog (the endpoint is closing); later waits fail with `reason`. */
  close(reason: Error): void {
    this.fail(reason);
  }
}

/**
 * The sockets this process opens (`side: 'client'`) or accepts (`'server'`) while the tally is
 * open, as Node's `net.client.socket` and `net.server.socket` diagnostics channels announce them:
 * the one way to reach the connections grpc-js and node:http2 make. A case is the only thing an
 * agent connects during its run (the control connection is older); `accepts` keeps a server to
 * its own listener (given the listener that accepted the socket).
 */
export class SocketTally {
  /** Every socket seen, in order. */
  readonly sockets = new Set<Socket>();
  private readonly channel: string;
  private readonly onSocket = (message: unknown): void => {
    const { socket } = message as { socket: Socket };
    // net.Server sets `server` on each socket it accepts; @types/node does not declare it.
    if (this.accepts((socket as Socket & { server?: Server }).server, socket)) {
      this.sockets.add(socket);
      this.seen?.(socket);
    }
  };
  private open = true;

  constructor(
    side: 'client' | 'server',
    private readonly accepts: (listener: Server | undefined, socket: Socket) => boolean = () => true,
    private readonly seen?: (socket: Socket) => void,
  ) {
    this.channel = side === 'client' ? 'net.client.socket' : 'net.server.socket';
    diagnostics.subscribe(this.channel, this.onSocket);
  }

  /**
   * What the case records of its connections, read from the sockets rather than from the options
   * asked for: how many carried the messages (1 when keep-alive held), whether TCP_NODELAY is set
   * (getsockopt) and, given the responder's counts, the bytes on the wire per request received
   * (`wireBytesInPerMessage`) and per answer sent (`wireBytesOutPerMessage`). Only the responder
   * counts them: when it reads its sockets every request has arrived, the end message's too, while
   * the initiator's last request may still sit in the library's queue.
   */
  details(
    protocol: string,
    transport: Transport,
    responder?: { readonly requests: number; readonly answers: number },
  ): Record<string, number | string | boolean> {
    const sockets = [...this.sockets];
    const facts: Record<string, number | string | boolean> = { protocol, connections: sockets.length };
    if (sockets.length === 0) return facts;
    const sum = (bytes: (s: Socket) => number) => sockets.reduce((total, s) => total + bytes(s), 0);
    if (responder && responder.requests > 0) {
      facts.wireBytesInPerMessage = Math.round(sum((s) => s.bytesRead) / responder.requests);
      if (responder.answers > 0)
        facts.wireBytesOutPerMessage = Math.round(sum((s) => s.bytesWritten) / responder.answers);
    }
    if (transport === 'tcp') this.sampleNoDelay();
    if (this.noDelay !== undefined) facts.noDelay = this.noDelay;
    return facts;
  }

  /** TCP_NODELAY as getsockopt read it on a live connection; see {@link SocketTally.sampleNoDelay}. */
  private noDelay: boolean | undefined;

  /**
   * Reads TCP_NODELAY from a live TCP socket of the tally, once: early in the case (the endpoints
   * call it at the first body or answer), since by `details` time the peer may have closed the
   * connection and Node dropped its handle.
   */
  sampleNoDelay(): void {
    if (this.noDelay !== undefined) return;
    for (const socket of this.sockets) {
      // Node keeps the descriptor on the socket's internal handle; there is no public getter for it.
      const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
      if (socket.destroyed || fd === undefined || fd < 0) continue;
      this.noDelay = intOption(fd, IPPROTO_TCP, TCP_NODELAY, 'TCP_NODELAY') !== 0;
      return;
    }
  }

  /** Stops watching; idempotent. */
  close(): void {
    if (!this.open) return;
    this.open = false;
    diagnostics.unsubscribe(this.channel, this.onSocket);
  }
}

/** Where a protocol case's Unix socket lives: the shared volume, one name per case and protocol. */
export function protocolSocketPath(ctx: ChannelContext, protocol: string): string {
  return join(ctx.dirs.disk, `podbench-${ctx.instance}.${protocol}.sock`);
}

/** `connected`, or a PeerError when the initiator has not connected within `timeoutMs`. */
export function connectedWithin(connected: Promise<void>, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    connected,
    new Promise<void>((_, fail) => {
      timer = setTimeout(
        () => fail(new PeerError(`the initiator did not connect within ${timeoutMs} ms`)),
        timeoutMs,
      ).unref();
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Runs `finish` once `last` (the final request, the end message nothing answers in echo mode)
 * has settled, or after `timeoutMs`: closing a protocol's connection at once would drop a request
 * the library has not put on the wire yet.
 */
export function afterLast(last: Promise<unknown> | undefined, timeoutMs: number, finish: () => void): void {
  if (!last) {
    finish();
    return;
  }
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    finish();
  };
  const timer = setTimeout(once, timeoutMs).unref();
  last.then(once, once);
}

/**
 * Closes a client that several lanes share (an HTTP/2 session, a gRPC client) once every lane
 * has closed and its last request is done, or after the timeout: the first lane to finish must
 * not cut the others off.
 */
export class LaneCloser {
  private readonly lasts: Promise<unknown>[] = [];
  private open: number;

  constructor(
    lanes: number,
    private readonly timeoutMs: number,
    private readonly closeClient: () => void,
  ) {
    this.open = lanes;
  }

  /** A lane has closed; `last` settles when its last request is done. */
  laneClosed(last: Promise<unknown> | undefined): void {
    if (last) this.lasts.push(last);
    if (--this.open > 0) return;
    afterLast(this.lasts.length ? Promise.all(this.lasts) : undefined, this.timeoutMs, this.closeClient);
  }
}

/** Removes a case's Unix socket file, if it is there. */
export function removeSocketFile(path: string): void {
  rmSync(path, { force: true });
}

/**
 * Listens on `path` (a Unix socket, any stale file removed first) or on an ephemeral port of
 * 127.0.0.1; resolves with what the initiator needs to connect.
 */
export function listenOn(server: Server, path: string | undefined): Promise<JoinParams> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const listening = () => {
      server.off('error', reject);
      // An accept error (EMFILE) must not crash the agent; the endpoint's watchdog fails the case.
      server.on('error', () => undefined);
      const address = server.address();
      resolve(path ? { path } : { port: typeof address === 'object' && address ? address.port : 0 });
    };
    if (path) {
      removeSocketFile(path);
      server.listen(path, listening);
    } else server.listen(0, '127.0.0.1', listening);
  });
}

/** `podbench channels`: a protocol server listens where its cases would, and closes. */
export async function probeListener(
  server: Server,
  transport: Transport,
  scratchDir: string,
  library: string,
): Promise<string> {
  await listenOn(server, transport === 'uds' ? join(scratchDir, 'probe.sock') : undefined);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `${library} listens on ${transport === 'uds' ? 'a Unix socket in the temp directory' : '127.0.0.1'}`;
}

/** What a protocol server hands over for its case: see {@link hostedServer}. */
/**
 * Requests a protocol server received and answers it sent, counted over all the lanes of one
 * instance: they share its sockets, whose bytes are divided by these counts.
 */
export interface ExchangeCounts {
  received: number;
  answered: number;
}

export interface ServerParts {
  readonly params: JoinParams;
  /** Settles when the initiator's first connection is in. */
  readonly connection: Promise<void>;
  /** One per lane (one, unless the channel carries several at once: see Lanes). */
  readonly endpoints: readonly EventLoopEndpoint[];
  readonly tally: SocketTally;
  /** The Unix socket's file, if the server listens on one. */
  readonly path: string | undefined;
  /** Closes the server and every connection it has. */
  closeServer(): void;
}

/**
 * The responder's hosted protocol server: `accept` waits (bounded by the peer timeout) for the
 * initiator's connection; `dispose` closes the server, its connections, the tally and the socket
 * file, once, on every exit path.
 */
export function hostedServer(parts: ServerParts, peerTimeoutMs: number): HostedLanes {
  let closed = false;
  return {
    params: parts.params,
    async accept() {
      await connectedWithin(parts.connection, peerTimeoutMs);
      return parts.endpoints[0]!;
    },
    async acceptLanes() {
      await connectedWithin(parts.connection, peerTimeoutMs);
      return [...parts.endpoints];
    },
    dispose() {
      if (closed) return;
      closed = true;
      try {
        parts.closeServer();
      } finally {
        for (const endpoint of parts.endpoints) endpoint.close(); // their watchdogs, when the initiator never came
        parts.tally.close();
        if (parts.path) removeSocketFile(parts.path);
      }
    },
  };
}

/**
 * A protocol channel over one transport: its socket file is named for `protocol` in the shared
 * volume (a `-uds` case is skipped when that path is too long for sun_path), and `probe` and
 * `host` and `join` — or, for a protocol that carries lanes, `lanes`, whose one-lane instance is
 * then its `host` and `join` — are the protocol's own.
 */
export function protocolChannel(
  id: ChannelId,
  transport: Transport,
  protocol: string,
  parts: Pick<Channel, 'probe'> & (Pick<Channel, 'host' | 'join'> | { readonly lanes: Lanes }),
): Channel {
  const own =
    'lanes' in parts
      ? {
          probe: parts.probe,
          lanes: parts.lanes,
          host: (ctx: ChannelContext) => parts.lanes.hostLanes(ctx, 1),
          join: async (ctx: ChannelContext, params: JoinParams) => (await parts.lanes.joinLanes(ctx, params, 1))[0]!,
        }
      : parts;
  return {
    id,
    feasibility: (ctx) =>
      transport === 'uds' ? unixSocketFeasibility(ctx, {}, protocolSocketPath(ctx, protocol)) : { details: {} },
    ...own,
  };
}
