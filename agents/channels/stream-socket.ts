/**
 * `tcp` and `uds`: one stream socket carrying fixed-size messages both ways, driven through
 * blocking libc calls so a round trip costs one send and one recv (MSG_WAITALL), as in C.
 * Waits are bounded by SO_RCVTIMEO/SO_SNDTIMEO; a dead peer shows as EOF or a reset at once.
 */
import { existsSync } from 'node:fs';
import { createServer, type ListenOptions } from 'node:net';
import { join } from 'node:path';
import * as libc from '../native/libc.js';
import { Errno, NativeError, SUN_PATH_MAX, check } from '../native/libc.js';
import {
  AF_INET,
  AF_UNIX,
  IPPROTO_TCP,
  MSG_NOSIGNAL,
  MSG_WAITALL,
  SOCK_STREAM_CLOEXEC,
  SOL_SOCKET,
  SO_REUSEADDR,
  TCP_NODELAY,
  boundPort,
  inetAddress,
  readableWithin,
  setIntOption,
  setTimeouts,
  unixAddress,
} from '../native/sockets.js';
import type { MessageBuffer } from '../measure/message.js';
import { completeTransfer, type TransferStep } from '../native/whole-transfer.js';
import {
  PeerError,
  type Channel,
  type ChannelContext,
  type BlockingEndpoint,
  type Endpoint,
  type Feasibility,
  type Hosted,
  type JoinParams,
} from './channel.js';

type Family = 'tcp' | 'uds';

/** Where a case's Unix socket lives: the shared volume (checked by {@link unixSocketFeasibility}). */
export function unixSocketPath(ctx: ChannelContext): string {
  return join(ctx.dirs.disk, `podbench-${ctx.instance}.sock`);
}

/**
 * A Unix socket case is skipped when its path in the shared directory would not fit the
 * kernel's sun_path (a long TMPDIR on the local target): the socket must live there to be
 * what the case measures, and a shortened path would be another file.
 */
export function unixSocketFeasibility(
  ctx: ChannelContext,
  details: Record<string, number | string>,
  path = unixSocketPath(ctx),
): Feasibility {
  const bytes = Buffer.byteLength(path);
  if (bytes > SUN_PATH_MAX) {
    return {
      skip:
        `the socket path in the shared directory ${ctx.dirs.disk} is ${bytes} bytes, ` +
        `over the ${SUN_PATH_MAX} the kernel allows for a Unix socket; use a shorter TMPDIR`,
    };
  }
  return { details };
}

const sendStep: TransferStep = (fd, address, length) => libc.sendFrom(fd, address, length, MSG_NOSIGNAL);
const recvStep: TransferStep = (fd, address, length) => libc.recvInto(fd, address, length, MSG_WAITALL);

class SocketEndpoint implements BlockingEndpoint {
  readonly blocking = true;
  private open = true;

  constructor(
    private readonly fd: number,
    private readonly family: Family,
    private readonly peer: string,
    private readonly timeoutMs: number,
  ) {
    if (family === 'tcp') setIntOption(fd, IPPROTO_TCP, TCP_NODELAY, 1, 'TCP_NODELAY');
    setTimeouts(fd, timeoutMs);
  }

  /*
   * A blocking call moves the whole message unless a signal interrupts it (EINTR: the rest is
   * moved after it), SO_SNDTIMEO/SO_RCVTIMEO passes (EAGAIN: the peer timeout, fail), or the peer
   * is gone (EOF, EPIPE, ECONNRESET: fail).
   */
  send(message: MessageBuffer): void {
    const length = message.bytes.length;
    const sent = libc.sendFrom(this.fd, message.address, length, MSG_NOSIGNAL);
    if (
      sent !== length &&
      completeTransfer(sendStep, this.fd, message.address, length, sent, this.sendFailed) !== length
    )
      this.fail('send', 0);
  }

  receive(into: MessageBuffer): number {
    const length = into.bytes.length;
    const got = libc.recvInto(this.fd, into.address, length, MSG_WAITALL);
    if (got !== length && completeTransfer(recvStep, this.fd, into.address, length, got, this.recvFailed) !== length)
      this.fail('recv', 0);
    return length;
  }

  private readonly sendFailed = (errno: number): never => this.fail('send', errno);
  private readonly recvFailed = (errno: number): never => this.fail('recv', errno);

  /** Throws the error for a failed call; `errno` 0 means the peer closed the connection. */
  private fail(call: 'send' | 'recv', errno: number): never {
    if (errno === 0 || errno === Errno.ECONNRESET || errno === Errno.EPIPE)
      throw new PeerError(`the ${this.peer} closed the ${this.family} connection`);
    if (errno === Errno.EAGAIN)
      throw new PeerError(
        `the ${this.peer} did not ${call === 'send' ? 'read' : 'answer'} within ${this.timeoutMs} ms`,
      );
    throw new NativeError(call, errno);
  }

  details(): Record<string, number | string | boolean> {
    return {};
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    libc.close(this.fd);
  }
}

function hostSocket(family: Family, ctx: ChannelContext): Hosted {
  // TCP needs no path: it must not depend on the shared directory's length.
  const path = family === 'uds' ? unixSocketPath(ctx) : '';
  const fd = check(libc.socket(family === 'tcp' ? AF_INET : AF_UNIX, SOCK_STREAM_CLOEXEC, 0), 'socket');
  let params: JoinParams;
  try {
    if (family === 'tcp') {
      setIntOption(fd, SOL_SOCKET, SO_REUSEADDR, 1, 'SO_REUSEADDR');
      check(libc.bind(fd, inetAddress(0), 16), 'bind', '127.0.0.1:0');
      params = { port: boundPort(fd) };
    } else {
      if (existsSync(path)) libc.unlink(path);
      check(libc.bind(fd, unixAddress(path), 110), 'bind', path);
      params = { path };
    }
    check(libc.listen(fd, 1), 'listen');
  } catch (err) {
    libc.close(fd);
    throw err;
  }
  let listening = true;
  const dispose = () => {
    if (!listening) return;
    listening = false;
    libc.close(fd);
    if (family === 'uds') libc.unlink(path);
  };
  return {
    params,
    accept() {
      if (!readableWithin(fd, ctx.peerTimeoutMs))
        throw new PeerError(`the initiator did not connect to the ${family} socket within ${ctx.peerTimeoutMs} ms`);
      const conn = check(libc.accept(fd, null, null), 'accept');
      dispose();
      return new SocketEndpoint(conn, family, 'initiator', ctx.peerTimeoutMs);
    },
    dispose,
  };
}

function joinSocket(family: Family, ctx: ChannelContext, params: JoinParams): Endpoint {
  const fd = check(libc.socket(family === 'tcp' ? AF_INET : AF_UNIX, SOCK_STREAM_CLOEXEC, 0), 'socket');
  try {
    const addr = family === 'tcp' ? inetAddress(Number(params.port)) : unixAddress(String(params.path));
    check(
      libc.connect(fd, addr, addr.length),
      'connect',
      family === 'tcp' ? `127.0.0.1:${params.port}` : String(params.path),
    );
    return new SocketEndpoint(fd, family, 'responder', ctx.peerTimeoutMs);
  } catch (err) {
    libc.close(fd);
    throw err;
  }
}

/** Listens once and closes: whether this host lets a socket listen there. */
function listenOnce(options: ListenOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(options, () => server.close(() => resolve()));
  });
}

/** The probe of a stream socket family, shared by both drivers. */
export async function probeStreamSocket(family: Family, scratchDir: string): Promise<string> {
  if (family === 'tcp') {
    await listenOnce({ port: 0, host: '127.0.0.1' });
    return 'listens on 127.0.0.1';
  }
  await listenOnce({ path: join(scratchDir, 's') });
  return 'Unix sockets work in the temp directory';
}

function streamSocketChannel(family: Family): Channel {
  return {
    id: family,
    probe: (scratchDir) => probeStreamSocket(family, scratchDir),
    feasibility: (ctx) => (family === 'uds' ? unixSocketFeasibility(ctx, {}) : { details: {} }),
    host: (ctx) => hostSocket(family, ctx),
    join: (ctx, params) => joinSocket(family, ctx, params),
  };
}

/** TCP over 127.0.0.1 with TCP_NODELAY. */
export const tcpChannel = streamSocketChannel('tcp');
/** A Unix stream socket whose file lives in the shared volume. */
export const udsChannel = streamSocketChannel('uds');
