/**
 * `udp`: datagrams over 127.0.0.1 between two connected UDP sockets, one message per datagram.
 * UDP has no flow control: a sender faster than its receiver overflows the receive buffer and
 * the kernel drops datagrams. That is what the channel is, so losses, reordering and duplicates
 * are counted (agents/measure/arrivals.ts), never retried or treated as corruption; only a
 * datagram that fails verification fails the case.
 *
 * A receive waits at most {@link LOSS_TIMEOUT_MS} (SO_RCVTIMEO): then its message counts as
 * lost. A peer that has closed its socket shows as ECONNREFUSED (the loopback ICMP port
 * unreachable); one that is silent for the whole peer timeout fails the case.
 *
 * Meeting: the responder binds a port; the initiator binds its own, connects, and sends its port
 * in a two-byte hello; the responder connects back. Both ask for 4 MiB socket buffers, which the
 * kernel caps at net.core.rmem_max / wmem_max; what they got is recorded.
 */
import * as libc from '../native/libc.js';
import { Errno, NativeError, check } from '../native/libc.js';
import {
  AF_INET,
  MSG_NOSIGNAL,
  SOCK_DGRAM_CLOEXEC,
  SOL_SOCKET,
  SO_RCVBUF,
  SO_SNDBUF,
  boundPort,
  inetAddress,
  intOption,
  readableWithin,
  setIntOption,
  setTimeouts,
} from '../native/sockets.js';
import { UDP_MAX_PAYLOAD_BYTES } from '../contract/channels.js';
import type { MessageBuffer } from '../measure/message.js';
import {
  PeerError,
  type Channel,
  type ChannelContext,
  type Feasibility,
  type Hosted,
  type JoinParams,
  type LossyEndpoint,
} from './channel.js';

/** How long a receive waits before its datagram counts as lost: far above a loopback round trip. */
const LOSS_TIMEOUT_MS = 100;
/** The socket buffers asked for; the kernel grants at most net.core.rmem_max / wmem_max. */
const BUFFER_BYTES = 4 * 1024 * 1024;

class UdpEndpoint implements LossyEndpoint {
  readonly blocking = true;
  readonly lossy = true;
  readonly lossTimeoutMs: number;
  /** Receives in a row that found nothing: the peer is silent once they span the peer timeout. */
  private emptyReceives = 0;
  private readonly emptyReceivesAllowed: number;
  private timeouts = 0;
  private closed = false;

  /** The responder: its peer, the initiator, closes its socket when it is done, before its end arrives. */
  private readonly peerMayFinishFirst: boolean;

  constructor(
    private readonly fd: number,
    private readonly peer: 'initiator' | 'responder',
    private readonly peerTimeoutMs: number,
  ) {
    this.peerMayFinishFirst = peer === 'initiator';
    this.lossTimeoutMs = Math.min(LOSS_TIMEOUT_MS, peerTimeoutMs);
    this.emptyReceivesAllowed = Math.max(1, Math.ceil(peerTimeoutMs / this.lossTimeoutMs));
  }

  send(message: MessageBuffer): void {
    const length = message.bytes.length;
    let sent = libc.sendFrom(this.fd, message.address, length, MSG_NOSIGNAL);
    while (sent === -1 && libc.lastErrno() === Errno.EINTR)
      sent = libc.sendFrom(this.fd, message.address, length, MSG_NOSIGNAL);
    if (sent === length) return;
    const errno = sent === -1 ? libc.lastErrno() : 0;
    if (errno === Errno.ECONNREFUSED && !this.peerMayFinishFirst)
      throw new PeerError(`the ${this.peer} closed its UDP socket`);
    // The kernel had no buffer for this datagram (ENOBUFS), or the responder echoed to an
    // initiator that has finished: on UDP that is a loss like any other.
    if (errno === Errno.ENOBUFS || errno === Errno.ECONNREFUSED) return;
    if (errno === Errno.EAGAIN) throw new PeerError(`the UDP send buffer stayed full for ${this.peerTimeoutMs} ms`);
    throw new NativeError('send', errno);
  }

  receive(into: MessageBuffer): number {
    let got = libc.recvInto(this.fd, into.address, into.bytes.length, 0);
    while (got === -1 && libc.lastErrno() === Errno.EINTR)
      got = libc.recvInto(this.fd, into.address, into.bytes.length, 0);
    if (got >= 0) {
      this.emptyReceives = 0;
      return got;
    }
    const errno = libc.lastErrno();
    if (errno === Errno.ECONNREFUSED && !this.peerMayFinishFirst)
      throw new PeerError(`the ${this.peer} closed its UDP socket`);
    // The responder sees ECONNREFUSED when it echoed to an initiator that had finished (its last
    // round trips timed out while the responder was held up): nothing came; its loop looks for the end.
    if (errno === Errno.ECONNREFUSED) return -1;
    if (errno !== Errno.EAGAIN) throw new NativeError('recv', errno);
    this.timeouts++;
    if (++this.emptyReceives >= this.emptyReceivesAllowed)
      throw new PeerError(`nothing came from the ${this.peer} within ${this.peerTimeoutMs} ms (UDP)`);
    return -1;
  }

  details(): Record<string, number | string | boolean> {
    return {
      receiveBufferBytes: intOption(this.fd, SOL_SOCKET, SO_RCVBUF, 'SO_RCVBUF'),
      sendBufferBytes: intOption(this.fd, SOL_SOCKET, SO_SNDBUF, 'SO_SNDBUF'),
      receiveTimeouts: this.timeouts,
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    libc.close(this.fd);
  }
}

/** A UDP socket bound to 127.0.0.1 (an ephemeral port), with the buffers and timeouts of a case. */
function boundSocket(ctx: ChannelContext): number {
  const fd = check(libc.socket(AF_INET, SOCK_DGRAM_CLOEXEC, 0), 'socket');
  try {
    setIntOption(fd, SOL_SOCKET, SO_RCVBUF, BUFFER_BYTES, 'SO_RCVBUF');
    setIntOption(fd, SOL_SOCKET, SO_SNDBUF, BUFFER_BYTES, 'SO_SNDBUF');
    setTimeouts(fd, ctx.peerTimeoutMs, Math.min(LOSS_TIMEOUT_MS, ctx.peerTimeoutMs));
    check(libc.bind(fd, inetAddress(0), 16), 'bind', '127.0.0.1:0');
    return fd;
  } catch (err) {
    libc.close(fd);
    throw err;
  }
}

function feasibility(ctx: ChannelContext): Feasibility {
  if (ctx.spec.sizeBytes > UDP_MAX_PAYLOAD_BYTES)
    return {
      skip:
        `a UDP datagram over IPv4 carries at most ${UDP_MAX_PAYLOAD_BYTES} bytes ` +
        '(65,535 less the 20-byte IP and 8-byte UDP headers)',
    };
  const { netRmemMaxBytes, netWmemMaxBytes } = ctx.limits;
  return {
    details: {
      lossTimeoutMs: Math.min(LOSS_TIMEOUT_MS, ctx.peerTimeoutMs),
      bufferBytesAsked: BUFFER_BYTES,
      rmemMax: netRmemMaxBytes ?? 'unknown',
      wmemMax: netWmemMaxBytes ?? 'unknown',
    },
  };
}

function host(ctx: ChannelContext): Hosted {
  const fd = boundSocket(ctx);
  let endpoint: LossyEndpoint | undefined;
  let disposed = false;
  return {
    params: { port: boundPort(fd) },
    accept() {
      if (!readableWithin(fd, ctx.peerTimeoutMs))
        throw new PeerError(`the initiator sent nothing to the UDP socket within ${ctx.peerTimeoutMs} ms`);
      const hello = Buffer.allocUnsafeSlow(2);
      if (check(libc.recvInto(fd, libc.addressOf(hello), 2, 0), 'recv', 'hello') !== 2)
        throw new Error('the initiator sent a malformed UDP hello');
      const port = hello.readUInt16BE(0);
      check(libc.connect(fd, inetAddress(port), 16), 'connect', `127.0.0.1:${port}`);
      return (endpoint = new UdpEndpoint(fd, 'initiator', ctx.peerTimeoutMs));
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      if (endpoint) endpoint.close();
      else libc.close(fd);
    },
  };
}

function joinUdp(ctx: ChannelContext, params: JoinParams): LossyEndpoint {
  const fd = boundSocket(ctx);
  try {
    const port = Number(params.port);
    check(libc.connect(fd, inetAddress(port), 16), 'connect', `127.0.0.1:${port}`);
    const hello = Buffer.allocUnsafeSlow(2);
    hello.writeUInt16BE(boundPort(fd), 0);
    check(libc.sendFrom(fd, libc.addressOf(hello), 2, MSG_NOSIGNAL), 'send', 'hello');
    return new UdpEndpoint(fd, 'responder', ctx.peerTimeoutMs);
  } catch (err) {
    libc.close(fd);
    throw err;
  }
}

/** UDP over 127.0.0.1. */
export const udpChannel: Channel = {
  id: 'udp',
  probe() {
    const fd = check(libc.socket(AF_INET, SOCK_DGRAM_CLOEXEC, 0), 'socket');
    try {
      check(libc.bind(fd, inetAddress(0), 16), 'bind', '127.0.0.1:0');
    } finally {
      libc.close(fd);
    }
    return 'UDP binds on 127.0.0.1';
  },
  feasibility,
  host,
  join: joinUdp,
};
