/**
 * `uds-dgram`: Unix datagram sockets with their files in the shared volume — the DogStatsD and
 * syslog pattern: the responder's socket is bound and not connected, the initiator's is
 * connected to it. A message is one datagram: boundaries are kept, nothing is lost, and the
 * initiator blocks while the responder's queue holds net.unix.max_dgram_qlen datagrams
 * (SO_SNDTIMEO bounds the wait). The kernel applies that queue limit only to a sender whose
 * receiver is not connected back to it, which is why the responder answers with sendto() to the
 * initiator's address rather than connecting. One send() or sendto() and one recv() per message.
 *
 * Meeting: the responder binds its socket; the initiator binds its own, connects to the
 * responder's and sends an empty datagram, which tells the responder it is there.
 *
 * A datagram must fit the sender's buffer (the kernel refuses one larger than SO_SNDBUF with
 * EMSGSIZE), so SO_SNDBUF is raised to hold a queue of messages up to net.core.wmem_max, and a
 * size the socket still refuses is skipped with that as the reason — found by sending one.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as libc from '../native/libc.js';
import { Errno, NativeError, check } from '../native/libc.js';
import {
  AF_UNIX,
  MSG_DONTWAIT,
  MSG_NOSIGNAL,
  SOCK_DGRAM_CLOEXEC,
  SOL_SOCKET,
  SO_SNDBUF,
  UNIX_ADDRESS_BYTES,
  intOption,
  readableWithin,
  setIntOption,
  setTimeouts,
  unixAddress,
} from '../native/sockets.js';
import type { MessageBuffer } from '../measure/message.js';
import { unixSocketFeasibility } from './stream-socket.js';
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

/** What the kernel charges per datagram beyond its bytes (sk_buff and its accounting), roughly. */
const PER_DATAGRAM_OVERHEAD_BYTES = 1024;
/** The kernel's default max_dgram_qlen, when the sysctl cannot be read. */
const DEFAULT_QLEN = 10;

/** The SO_SNDBUF asked for: a full receive queue of messages plus one, within net.core.wmem_max. */
function wantedSendBuffer(ctx: ChannelContext): number {
  const qlen = ctx.limits.unixMaxDgramQlen ?? DEFAULT_QLEN;
  const wanted = (qlen + 1) * (ctx.spec.sizeBytes + PER_DATAGRAM_OVERHEAD_BYTES);
  return ctx.limits.netWmemMaxBytes === null ? wanted : Math.min(wanted, ctx.limits.netWmemMaxBytes);
}

/** A datagram socket with the case's send buffer and the peer timeout on its calls. */
function newSocket(ctx: ChannelContext): number {
  const fd = check(libc.socket(AF_UNIX, SOCK_DGRAM_CLOEXEC, 0), 'socket');
  try {
    setIntOption(fd, SOL_SOCKET, SO_SNDBUF, wantedSendBuffer(ctx), 'SO_SNDBUF');
    setTimeouts(fd, ctx.peerTimeoutMs);
    return fd;
  } catch (err) {
    libc.close(fd);
    throw err;
  }
}

function socketPaths(ctx: ChannelContext): { responder: string; initiator: string } {
  const base = join(ctx.dirs.disk, `podbench-${ctx.instance}`);
  return { responder: `${base}.r.dgram`, initiator: `${base}.i.dgram` };
}

function bindTo(fd: number, path: string): void {
  if (existsSync(path)) libc.unlink(path); // a stale socket file from an earlier case
  check(libc.bind(fd, unixAddress(path), UNIX_ADDRESS_BYTES), 'bind', path);
}

class DatagramEndpoint implements BlockingEndpoint {
  readonly blocking = true;
  private closed = false;
  /** Where an unconnected socket sends (its peer's sockaddr_un, by address), or 0 when connected. */
  private readonly toAddress: number;

  constructor(
    private readonly fd: number,
    private readonly ownPath: string | undefined,
    private readonly peer: string,
    private readonly timeoutMs: number,
    /** The peer's address, for the unconnected responder; kept referenced while its address is used. */
    private readonly to?: Buffer,
  ) {
    this.toAddress = to ? libc.addressOf(to) : 0;
  }

  send(message: MessageBuffer): void {
    const length = message.bytes.length;
    let sent = this.sendOnce(message.address, length);
    while (sent === -1 && libc.lastErrno() === Errno.EINTR) sent = this.sendOnce(message.address, length);
    if (sent !== length) this.fail('send', sent === -1 ? libc.lastErrno() : 0);
  }

  private sendOnce(address: number, length: number): number {
    return this.to
      ? libc.sendtoFrom(this.fd, address, length, MSG_NOSIGNAL, this.toAddress, UNIX_ADDRESS_BYTES)
      : libc.sendFrom(this.fd, address, length, MSG_NOSIGNAL);
  }

  receive(into: MessageBuffer): number {
    let got = libc.recvInto(this.fd, into.address, into.bytes.length, 0);
    while (got === -1 && libc.lastErrno() === Errno.EINTR)
      got = libc.recvInto(this.fd, into.address, into.bytes.length, 0);
    if (got === -1) this.fail('recv', libc.lastErrno());
    return got; // a datagram of another length fails verification
  }

  private fail(call: 'send' | 'recv', errno: number): never {
    if (
      errno === Errno.ECONNREFUSED ||
      errno === Errno.ECONNRESET ||
      errno === Errno.EPIPE ||
      errno === Errno.ENOENT // an unconnected sender's peer removed its socket file
    )
      throw new PeerError(`the ${this.peer} closed its datagram socket`);
    if (errno === Errno.EAGAIN)
      throw new PeerError(
        `the ${this.peer} did not ${call === 'send' ? 'read' : 'send'} within ${this.timeoutMs} ms (Unix datagram socket)`,
      );
    if (errno === 0) throw new Error(`${call} moved part of a datagram`);
    throw new NativeError(call, errno);
  }

  details(): Record<string, number | string | boolean> {
    return { sendBufferBytes: intOption(this.fd, SOL_SOCKET, SO_SNDBUF, 'SO_SNDBUF') };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    libc.close(this.fd);
    if (this.ownPath) libc.unlink(this.ownPath);
  }
}

/**
 * Whether this host's sockets take a datagram of the case's size: a socket pair with the case's
 * send buffer sends one, without waiting. Costs one message's copy, before any case starts.
 */
function datagramFits(ctx: ChannelContext): { fits: true } | { fits: false; why: string } {
  const pair = new Int32Array(2);
  check(libc.socketpair(AF_UNIX, SOCK_DGRAM_CLOEXEC, 0, pair), 'socketpair');
  try {
    setIntOption(pair[0]!, SOL_SOCKET, SO_SNDBUF, wantedSendBuffer(ctx), 'SO_SNDBUF');
    const probe = Buffer.allocUnsafeSlow(ctx.spec.sizeBytes);
    const sent = libc.sendFrom(pair[0]!, libc.addressOf(probe), probe.length, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent === probe.length) return { fits: true };
    const errno = libc.lastErrno();
    if (errno !== Errno.EMSGSIZE && errno !== Errno.ENOBUFS) throw new NativeError('send', errno, 'probe datagram');
    const granted = intOption(pair[0]!, SOL_SOCKET, SO_SNDBUF, 'SO_SNDBUF');
    return {
      fits: false,
      why:
        `a Unix datagram of ${ctx.spec.sizeBytes} bytes does not fit the socket's ${granted}-byte send buffer ` +
        `(net.core.wmem_max is ${ctx.limits.netWmemMaxBytes ?? 'unknown'}; raising it on the node allows larger ones)`,
    };
  } finally {
    libc.close(pair[0]!);
    libc.close(pair[1]!);
  }
}

function feasibility(ctx: ChannelContext): Feasibility {
  const paths = socketPaths(ctx);
  const byPath = unixSocketFeasibility(ctx, {}, paths.responder);
  if ('skip' in byPath) return byPath;
  const fit = datagramFits(ctx);
  if (!fit.fits) return { skip: fit.why };
  return {
    details: { maxDgramQlen: ctx.limits.unixMaxDgramQlen ?? 'unknown', sendBufferWanted: wantedSendBuffer(ctx) },
  };
}

function host(ctx: ChannelContext): Hosted {
  const paths = socketPaths(ctx);
  const fd = newSocket(ctx);
  try {
    bindTo(fd, paths.responder);
  } catch (err) {
    libc.close(fd);
    throw err;
  }
  let endpoint: Endpoint | undefined;
  let disposed = false;
  return {
    params: { responder: paths.responder, initiator: paths.initiator },
    accept() {
      if (!readableWithin(fd, ctx.peerTimeoutMs))
        throw new PeerError(`the initiator did not send to the datagram socket within ${ctx.peerTimeoutMs} ms`);
      const hello = Buffer.allocUnsafeSlow(1);
      check(libc.recvInto(fd, libc.addressOf(hello), 1, 0), 'recv', 'hello');
      const to = unixAddress(paths.initiator);
      return (endpoint = new DatagramEndpoint(fd, paths.responder, 'initiator', ctx.peerTimeoutMs, to));
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      if (endpoint) endpoint.close();
      else {
        libc.close(fd);
        libc.unlink(paths.responder);
      }
    },
  };
}

function joinDatagram(ctx: ChannelContext, params: JoinParams): Endpoint {
  const own = String(params.initiator);
  const fd = newSocket(ctx);
  try {
    bindTo(fd, own);
    check(
      libc.connect(fd, unixAddress(String(params.responder)), UNIX_ADDRESS_BYTES),
      'connect',
      String(params.responder),
    );
    const hello = Buffer.allocUnsafeSlow(1);
    check(libc.sendFrom(fd, libc.addressOf(hello), 0, MSG_NOSIGNAL), 'send', 'hello');
    return new DatagramEndpoint(fd, own, 'responder', ctx.peerTimeoutMs);
  } catch (err) {
    libc.close(fd);
    libc.unlink(own);
    throw err;
  }
}

/** Unix datagram sockets in the shared volume. */
export const unixDgramChannel: Channel = {
  id: 'uds-dgram',
  probe(scratchDir) {
    const path = join(scratchDir, 'probe.dgram');
    const fd = check(libc.socket(AF_UNIX, SOCK_DGRAM_CLOEXEC, 0), 'socket');
    try {
      check(libc.bind(fd, unixAddress(path), 110), 'bind', path);
    } finally {
      libc.close(fd);
      libc.unlink(path);
    }
    return 'Unix datagram sockets bind in the temp directory';
  },
  feasibility,
  host,
  join: joinDatagram,
};
