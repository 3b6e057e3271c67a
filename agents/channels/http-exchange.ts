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
import { PeerError, type ChannelContext, type JoinParams } from './channel.js';

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

/** Collects a request's, response's or stream's body into one Buffer. */
export function readBody(body: Readable, done: (whole: Buffer) => void): void {
  const chunks: Buffer[] = [];
  body.on('data', (chunk: Buffer) => chunks.push(chunk));
  body.on('end', () => done(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
}

/** A queue of whole bodies and the receive waiting for one, with one failure for all. */
export class Bodies {
  private readonly queue: Buffer[] = [];
  private waiting: { resolve: (body: Buffer) => void; reject: (err: Error) => void } | undefined;
  /** The first failure; every later receive rejects with it. */
  failure: Error | undefined;

  /** A body has arrived whole. */
  arrived(body: Buffer): void {
    const waiting = this.waiting;
    if (waiting) {
      this.waiting = undefined;
      waiting.resolve(body);
    } else this.queue.push(body);
  }

  /** The connection failed: the waiting receive and every later one reject (first failure wins). */
  fail(err: Error): void {
    this.failure ??= err;
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.reject(this.failure);
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
    // Node keeps the descriptor on the socket's internal handle; there is no public getter for it.
    const fd = (sockets[0] as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (transport === 'tcp' && fd !== undefined && fd >= 0) {
      facts.noDelay = intOption(fd, IPPROTO_TCP, TCP_NODELAY, 'TCP_NODELAY') !== 0;
    }
    return facts;
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
  return join(ctx.dirs.disk, `podbench-${ctx.spec.index}.${protocol}.sock`);
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
