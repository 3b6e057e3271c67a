/**
 * Socket plumbing the socket channels share (stream, datagram, TCP, UDP, Unix): the constants,
 * the two address forms podbench uses (127.0.0.1 and a path) and socket options. Linux values,
 * the same on x86-64 and arm64.
 */
import * as libc from './libc.js';
import { Errno, NativeError, SUN_PATH_MAX, check } from './libc.js';

export const AF_UNIX = 1;
export const AF_INET = 2;
/** Socket types, with SOCK_CLOEXEC. */
export const SOCK_STREAM_CLOEXEC = 1 | 0x80000;
export const SOCK_DGRAM_CLOEXEC = 2 | 0x80000;
export const SOL_SOCKET = 1;
export const SO_REUSEADDR = 2;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
const SO_RCVTIMEO = 20;
const SO_SNDTIMEO = 21;
export const IPPROTO_TCP = 6;
export const TCP_NODELAY = 1;
export const MSG_DONTWAIT = 0x40;
export const MSG_NOSIGNAL = 0x4000;
export const MSG_WAITALL = 0x100;
export const POLLIN = 1;

/** A `struct sockaddr_in` for 127.0.0.1:`port` (16 bytes). */
export function inetAddress(port: number): Buffer {
  const addr = Buffer.alloc(16);
  addr.writeUInt16LE(AF_INET, 0);
  addr.writeUInt16BE(port, 2);
  addr.set([127, 0, 0, 1], 4);
  return addr;
}

/** The port a socket bound to 127.0.0.1:0 got. */
export function boundPort(fd: number): number {
  const bound = Buffer.alloc(16);
  check(libc.getsockname(fd, bound, new Int32Array([16])), 'getsockname');
  return bound.readUInt16BE(2);
}

/** The size of a `struct sockaddr_un`. */
export const UNIX_ADDRESS_BYTES = 110;

/** A `struct sockaddr_un` for `path` (110 bytes); throws when the path is too long. */
export function unixAddress(path: string): Buffer {
  if (Buffer.byteLength(path) > SUN_PATH_MAX) {
    throw new Error(
      `Unix socket path ${path} is longer than the ${SUN_PATH_MAX} bytes the kernel allows; use a shorter shared directory`,
    );
  }
  const addr = Buffer.alloc(110);
  addr.writeUInt16LE(AF_UNIX, 0);
  addr.write(path, 2);
  return addr;
}

/** A `struct timeval` holding a duration. */
function timeval(durationMs: number): Uint8Array {
  const tv = new BigInt64Array([BigInt(Math.floor(durationMs / 1000)), BigInt(Math.round((durationMs % 1000) * 1000))]);
  return new Uint8Array(tv.buffer);
}

/**
 * Bounds blocking sends and receives on `fd` (SO_SNDTIMEO, SO_RCVTIMEO): they fail with EAGAIN
 * after `timeoutMs`, receives after `receiveTimeoutMs` when given.
 */
export function setTimeouts(fd: number, timeoutMs: number, receiveTimeoutMs = timeoutMs): void {
  check(libc.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, timeval(receiveTimeoutMs), 16), 'setsockopt(SO_RCVTIMEO)');
  check(libc.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, timeval(timeoutMs), 16), 'setsockopt(SO_SNDTIMEO)');
}

/** Sets an integer socket option; `label` names it in the error. */
export function setIntOption(fd: number, level: number, name: number, value: number, label: string): void {
  check(libc.setsockopt(fd, level, name, new Int32Array([value]), 4), `setsockopt(${label})`);
}

/** Reads an integer socket option (e.g. the SO_SNDBUF the kernel granted: twice what was asked). */
export function intOption(fd: number, level: number, name: number, label: string): number {
  const value = new Int32Array(1);
  check(libc.getsockopt(fd, level, name, value, new Int32Array([4])), `getsockopt(${label})`);
  return value[0]!;
}

/**
 * Waits until `fd` has something to read, at most `timeoutMs`; returns whether it has. A signal
 * (the agents handle SIGINT and SIGTERM) only wakes the wait early: it goes on for the rest.
 */
export function readableWithin(fd: number, timeoutMs: number): boolean {
  const pollfd = new Int32Array([fd, POLLIN]);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ready = libc.poll(pollfd, 1, Math.max(0, deadline - Date.now()));
    if (ready > 0) return true;
    if (ready === 0) return false;
    if (libc.lastErrno() !== Errno.EINTR) throw new NativeError('poll', libc.lastErrno());
  }
}
