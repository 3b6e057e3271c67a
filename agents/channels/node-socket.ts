/**
 * `tcp` and `uds` with `--driver node`: the same stream sockets driven the way an idiomatic Node
 * sidecar drives them — net.Server and net.Socket on the event loop. A write hands a fresh copy
 * of the message to the socket (the caller reuses its buffer) and waits for 'drain' when the
 * socket says so; a read collects 'data' chunks until a whole message is there. Every message
 * costs the event-loop turns, allocations and copies such a sidecar pays, which is what this
 * driver is for: seeing them beside the libc driver's figures.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { existsSync, unlinkSync } from 'node:fs';
import type { MessageBuffer } from '../measure/message.js';
import { probeStreamSocket, unixSocketFeasibility, unixSocketPath } from './stream-socket.js';
import {
  PeerError,
  type Channel,
  type ChannelContext,
  type Endpoint,
  type EventLoopEndpoint,
  type Hosted,
  type JoinParams,
} from './channel.js';

type Family = 'tcp' | 'uds';

/** A read in progress: how many bytes it needs and where they go. */
interface PendingRead {
  readonly into: MessageBuffer;
  readonly resolve: (n: number) => void;
  readonly reject: (err: Error) => void;
}

class NodeSocketEndpoint implements EventLoopEndpoint {
  readonly blocking = false;
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private reading: PendingRead | undefined;
  private failure: Error | undefined;
  private writesWaited = 0;

  constructor(
    private readonly socket: Socket,
    family: Family,
    peer: string,
    private readonly timeoutMs: number,
  ) {
    if (family === 'tcp') socket.setNoDelay(true);
    socket.setTimeout(timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      this.deliver();
    });
    const fail = (err: Error) => {
      this.failure ??= err;
      this.reading?.reject(this.failure);
      this.reading = undefined;
      // Ends a send waiting for 'drain' too: destroy() emits 'close', which rejects it.
      socket.destroy();
    };
    socket.on('timeout', () => fail(new PeerError(`the ${peer} did not answer within ${timeoutMs} ms`)));
    socket.on('end', () => fail(new PeerError(`the ${peer} closed the ${family} connection`)));
    socket.on('error', (err) => fail(new PeerError(`the ${family} connection to the ${peer} failed: ${err.message}`)));
  }

  send(message: MessageBuffer): Promise<void> | undefined {
    if (this.failure) throw this.failure;
    if (this.socket.write(Buffer.from(message.bytes))) return undefined;
    this.writesWaited++;
    return new Promise((resolve, reject) => {
      const onDrain = () => {
        this.socket.off('close', onClose);
        resolve();
      };
      const onClose = () => {
        this.socket.off('drain', onDrain);
        reject(this.failure ?? new PeerError('the connection closed while a message was being sent'));
      };
      this.socket.once('drain', onDrain).once('close', onClose);
    });
  }

  receive(into: MessageBuffer): Promise<number> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.reading = { into, resolve, reject };
      this.deliver();
    });
  }

  /** Completes the pending read once a whole message has arrived. */
  private deliver(): void {
    const read = this.reading;
    if (!read) return;
    const need = read.into.bytes.length;
    if (this.buffered < need) return;
    let copied = 0;
    while (copied < need) {
      const chunk = this.chunks[0]!;
      const take = Math.min(chunk.length, need - copied);
      chunk.copy(read.into.bytes, copied, 0, take);
      copied += take;
      if (take === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(take);
    }
    this.buffered -= need;
    this.reading = undefined;
    read.resolve(need);
  }

  details(): Record<string, number | string | boolean> {
    return { driver: 'node', drainWaits: this.writesWaited };
  }

  /**
   * Ends the connection after what is still queued in Node (the end message, at least) has gone
   * out: destroy() would drop it. Destroyed anyway if the peer does not finish within the timeout.
   */
  close(): void {
    if (this.socket.destroyed) return;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), this.timeoutMs).unref();
  }
}

function listenAddress(family: Family, ctx: ChannelContext): string | { host: string; port: number } {
  if (family === 'tcp') return { host: '127.0.0.1', port: 0 };
  const path = unixSocketPath(ctx);
  if (existsSync(path)) unlinkSync(path);
  return path;
}

async function hostNodeSocket(family: Family, ctx: ChannelContext): Promise<Hosted> {
  const server: Server = createServer({ noDelay: family === 'tcp' });
  const address = listenAddress(family, ctx);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (typeof address === 'string') server.listen(address, resolve);
    else server.listen(address.port, address.host, resolve);
  });
  const bound = server.address();
  const params: JoinParams = typeof bound === 'object' && bound ? { port: bound.port } : { path: String(address) };
  let closed = false;
  const dispose = () => {
    if (closed) return;
    closed = true;
    server.close();
  };
  // Listening for the connection starts now, not in accept(): the initiator may connect as soon
  // as it has the parameters, before the responder gets to accept().
  const connection = new Promise<Socket>((resolve, reject) => {
    server.once('connection', resolve);
    server.once('error', reject);
  });
  connection.catch(() => undefined); // observed in accept(); never an unhandled rejection
  return {
    params,
    async accept(): Promise<Endpoint> {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new PeerError(`the initiator did not connect to the ${family} socket within ${ctx.peerTimeoutMs} ms`),
            ),
          ctx.peerTimeoutMs,
        );
      });
      try {
        return new NodeSocketEndpoint(
          await Promise.race([connection, timeout]),
          family,
          'initiator',
          ctx.peerTimeoutMs,
        );
      } finally {
        clearTimeout(timer);
        dispose();
      }
    },
    dispose,
  };
}

function joinNodeSocket(family: Family, ctx: ChannelContext, params: JoinParams): Promise<Endpoint> {
  return new Promise((resolve, reject) => {
    const socket =
      family === 'tcp'
        ? createConnection({ host: '127.0.0.1', port: Number(params.port), noDelay: true })
        : createConnection(String(params.path));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new PeerError(`could not connect to the responder's ${family} socket within ${ctx.peerTimeoutMs} ms`));
    }, ctx.peerTimeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(new NodeSocketEndpoint(socket, family, 'responder', ctx.peerTimeoutMs));
    });
    const onError = (err: Error) => {
      clearTimeout(timer);
      reject(err);
    };
    socket.once('error', onError);
  });
}

function nodeSocketChannel(family: Family): Channel {
  return {
    id: family,
    probe: (scratchDir) => probeStreamSocket(family, scratchDir),
    feasibility: (ctx) =>
      family === 'uds' ? unixSocketFeasibility(ctx, { driver: 'node' }) : { details: { driver: 'node' } },
    host: (ctx) => hostNodeSocket(family, ctx),
    join: (ctx, params) => joinNodeSocket(family, ctx, params),
  };
}

/** TCP over 127.0.0.1 through net.Socket. */
export const nodeTcpChannel = nodeSocketChannel('tcp');
/** A Unix stream socket through net.Socket. */
export const nodeUdsChannel = nodeSocketChannel('uds');
