/**
 * The control connection between the two agents: JSON lines over a Unix socket in the shared
 * volume (present in every target), or an abstract one where that path would not fit (see
 * controlSocketAddress). It carries the rendezvous, "open case N", the join
 * parameters and the responder's counts — never anything inside a timed loop.
 *
 * Rendezvous: the responder listens, the initiator keeps trying to connect; either may start
 * first, and each gives up at its deadline with a message saying what it waited for.
 */
import { existsSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { ContractError, validateControlMessage, type ControlMessage } from './contract/schema.js';

export type { ControlMessage, ResponderReport } from './contract/schema.js';

/** Whether a socket address is abstract (a leading NUL): no file to remove. */
const isAbstract = (path: string): boolean => path.startsWith('\0');
/** A socket address as `ss` shows it: an abstract one as @name. */
const shown = (path: string): string => (isAbstract(path) ? `@${path.slice(1)}` : path);

/** The control connection closed or said nothing in time. */
export class ControlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ControlError';
  }
}

/** A connected control socket with line framing and a queue of received messages. */
export class ControlConnection {
  private buffered = '';
  private readonly queue: ControlMessage[] = [];
  private waiter: { resolve: (m: ControlMessage) => void; reject: (e: Error) => void } | undefined;
  private closedReason: string | undefined;

  private constructor(
    private readonly socket: net.Socket,
    private readonly peer: string,
  ) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', (err) => this.onClose(`${err.message}`));
    socket.on('close', () => this.onClose('connection closed'));
  }

  /** Initiator: connects, retrying until `deadlineMs` (epoch ms). */
  static async connect(path: string, deadlineMs: number, timeoutMs: number): Promise<ControlConnection> {
    for (;;) {
      try {
        const socket = await new Promise<net.Socket>((resolve, reject) => {
          const s = net.createConnection(path, () => resolve(s));
          s.once('error', reject);
        });
        return new ControlConnection(socket, 'responder');
      } catch {
        if (Date.now() >= deadlineMs) {
          throw new ControlError(
            `the responder did not open its control socket ${shown(path)} within ${timeoutMs} ms ` +
              '(--connect-timeout); is the responder running and sharing the volume?',
          );
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** Responder: listens on `path` and accepts one initiator before `deadlineMs`. */
  static async accept(path: string, deadlineMs: number, timeoutMs: number): Promise<ControlConnection> {
    if (!isAbstract(path) && existsSync(path)) unlinkSync(path);
    const server = net.createServer();
    try {
      return await new Promise<ControlConnection>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new ControlError(`no initiator connected to ${shown(path)} within ${timeoutMs} ms (--connect-timeout)`),
            ),
          Math.max(0, deadlineMs - Date.now()),
        );
        server.once('connection', (socket) => {
          clearTimeout(timer);
          resolve(new ControlConnection(socket, 'initiator'));
        });
        server.once('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
        server.listen(path);
      });
    } finally {
      server.close();
      if (!isAbstract(path) && existsSync(path)) unlinkSync(path);
    }
  }

  /** Whether the peer is gone, and why. */
  get closed(): string | undefined {
    return this.closedReason;
  }

  /**
   * Sends a message; resolves once it is handed to the kernel (before a blocking loop starts).
   * The message is checked against the contract first: a malformed one is this side's bug.
   */
  send(message: ControlMessage): Promise<void> {
    if (this.closedReason) return Promise.reject(new ControlError(`the ${this.peer} is gone (${this.closedReason})`));
    validateControlMessage(message, 'an outgoing control message');
    return new Promise((resolve, reject) =>
      this.socket.write(`${JSON.stringify(message)}\n`, (err) => (err ? reject(err) : resolve())),
    );
  }

  /** The next message, or a ControlError when the peer closes or `timeoutMs` (may be Infinity) passes. */
  receive(timeoutMs: number): Promise<ControlMessage> {
    const next = this.queue.shift();
    if (next) return Promise.resolve(next);
    if (this.closedReason) return Promise.reject(new ControlError(`the ${this.peer} is gone (${this.closedReason})`));
    return new Promise((resolve, reject) => {
      const timer = Number.isFinite(timeoutMs)
        ? setTimeout(() => {
            this.waiter = undefined;
            reject(new ControlError(`the ${this.peer} sent nothing on the control connection within ${timeoutMs} ms`));
          }, timeoutMs)
        : undefined;
      this.waiter = {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  /**
   * The next message about case `index` (or one about no case: hello, bye), within `timeoutMs`
   * in all. Messages about another case are stale — an answer the peer sent after this side had
   * given up on that case, when it was stopped or slow — and are dropped, never taken as this
   * case's.
   */
  async receiveFor(index: number, timeoutMs: number): Promise<ControlMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const message = await this.receive(Number.isFinite(timeoutMs) ? Math.max(0, deadline - Date.now()) : timeoutMs);
      if (!('index' in message) || message.index === index) return message;
    }
  }

  close(): void {
    this.socket.end();
    this.socket.destroy();
  }

  private onData(chunk: string): void {
    this.buffered += chunk;
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      if (!line) continue;
      let message: ControlMessage;
      try {
        message = validateControlMessage(JSON.parse(line), `the ${this.peer}'s control message`);
      } catch (err) {
        // Nothing after a malformed line can be trusted: the connection ends, saying why.
        const why =
          err instanceof ContractError ? err.message : `the ${this.peer} sent a control line that is not JSON`;
        this.onClose(why);
        this.socket.destroy();
        return;
      }
      const waiter = this.waiter;
      this.waiter = undefined;
      if (waiter) waiter.resolve(message);
      else this.queue.push(message);
    }
  }

  private onClose(reason: string): void {
    this.closedReason ??= reason;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(new ControlError(`the ${this.peer} is gone (${reason})`));
  }
}
