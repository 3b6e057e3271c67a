/**
 * `mq`: two POSIX message queues, one each way. Every wait is bounded with the timed calls
 * (see native/deadline.ts for how the deadline is kept without a clock read per call).
 * The queue depth is the largest the limits allow up to {@link WANTED_DEPTH}: fs.mqueue.msg_max,
 * and RLIMIT_MSGQUEUE, which caps the bytes of all queues of the user.
 */
import * as libc from '../native/libc.js';
import { Errno, NativeError, O } from '../native/libc.js';
import { AbsoluteDeadline } from '../native/deadline.js';
import type { MessageBuffer } from '../measure/message.js';
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
import { raiseLimitHint } from '../contract/ipc-limits.js';

const WANTED_DEPTH = 64;
/** Kernel bookkeeping per queued message (struct msg_msg and tree node), rounded up. */
export const PER_MESSAGE_OVERHEAD_BYTES = 128;

function depthFor(ctx: ChannelContext): Feasibility {
  const { mqMsgsizeMaxBytes: sizeMax, mqMsgMax: depthMax, rlimitMsgqueueBytes: rlimit } = ctx.limits;
  const size = ctx.spec.sizeBytes;
  if (sizeMax !== null && size > sizeMax) {
    return {
      skip: `fs.mqueue.msgsize_max is ${sizeMax} bytes, below the ${size}-byte message (${raiseLimitHint('fs.mqueue.msgsize_max', size)})`,
    };
  }
  // Every connection of the case has its two queues, all under the one per-user limit.
  const queues = 2 * (ctx.spec.connections ?? 1);
  let depth = Math.min(WANTED_DEPTH, depthMax ?? WANTED_DEPTH);
  if (rlimit !== null) depth = Math.min(depth, Math.floor(rlimit / queues / (size + PER_MESSAGE_OVERHEAD_BYTES)));
  if (depth < 1) {
    return { skip: `RLIMIT_MSGQUEUE is ${rlimit} bytes, too little for ${queues} queues of ${size}-byte messages` };
  }
  return { details: { queueDepth: depth } };
}

class QueueEndpoint implements BlockingEndpoint {
  readonly blocking = true;
  private readonly deadline: AbsoluteDeadline;
  private closed = false;

  constructor(
    private readonly outgoing: number,
    private readonly incoming: number,
    private readonly peer: string,
    private readonly peerTimeoutMs: number,
    private readonly depth: number,
  ) {
    this.deadline = new AbsoluteDeadline(peerTimeoutMs);
  }

  send(message: MessageBuffer): void {
    this.deadline.beforeCall();
    while (
      libc.mqTimedSendFrom(this.outgoing, message.address, message.bytes.length, 0, this.deadline.timespec.address) !==
      0
    ) {
      if (!this.waitAgain()) this.fail('mq_timedsend', 'read');
    }
  }

  receive(into: MessageBuffer): number {
    this.deadline.beforeCall();
    let n: number;
    while (
      (n = libc.mqTimedReceiveInto(this.incoming, into.address, into.bytes.length, 0, this.deadline.timespec.address)) <
      0
    ) {
      if (!this.waitAgain()) this.fail('mq_timedreceive', 'send');
    }
    return n;
  }

  /**
   * After a failed wait: true to wait again. A signal (EINTR: a stop request or Node's own
   * handlers; the deadline still holds) and a deadline armed before this call both wait again.
   */
  private waitAgain(): boolean {
    const errno = libc.lastErrno();
    return errno === Errno.EINTR || (errno === Errno.ETIMEDOUT && this.deadline.retryAfterTimeout());
  }

  private fail(call: string, peerAction: string): never {
    const errno = libc.lastErrno();
    if (errno === Errno.ETIMEDOUT)
      throw new PeerError(`the ${this.peer} did not ${peerAction} within ${this.peerTimeoutMs} ms (POSIX queue)`);
    throw new NativeError(call, errno);
  }

  details(): Record<string, number | string | boolean> {
    return { queueDepth: this.depth };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    libc.mqClose(this.outgoing);
    libc.mqClose(this.incoming);
    this.deadline.free();
  }
}

/** Opens one side's pair of queues; closes the first if the second cannot be opened. */
function openQueues(
  outgoingName: string,
  incomingName: string,
  peer: string,
  peerTimeoutMs: number,
  depth: number,
): Endpoint {
  const outgoing = libc.mqOpen(outgoingName, O.RDWR | O.CLOEXEC, 0, 0);
  try {
    return new QueueEndpoint(outgoing, libc.mqOpen(incomingName, O.RDWR | O.CLOEXEC, 0, 0), peer, peerTimeoutMs, depth);
  } catch (err) {
    libc.mqClose(outgoing);
    throw err;
  }
}

const names = (ctx: ChannelContext) =>
  [`/podbench-${ctx.runId}-${ctx.instance}-a`, `/podbench-${ctx.runId}-${ctx.instance}-b`] as const;

/** POSIX message queues. */
export const mqChannel: Channel = {
  id: 'mq',
  probe() {
    const name = `/podbench-probe-${process.pid}`;
    libc.mqClose(libc.mqOpen(name, O.RDWR | O.CREAT, 1, 64));
    libc.mqUnlink(name);
    return 'POSIX queues open';
  },
  feasibility: depthFor,
  host(ctx): Hosted {
    const plan = depthFor(ctx);
    if ('skip' in plan) throw new Error(plan.skip);
    const depth = Number(plan.details.queueDepth);
    const [a, b] = names(ctx);
    const opened: number[] = [];
    const dispose = () => {
      for (const q of opened.splice(0)) libc.mqClose(q);
      libc.mqUnlink(a);
      libc.mqUnlink(b);
    };
    try {
      for (const name of [a, b]) {
        ctx.journal.record('mq', name);
        opened.push(libc.mqOpen(name, O.RDWR | O.CREAT | O.EXCL | O.CLOEXEC, depth, ctx.spec.sizeBytes));
      }
    } catch (err) {
      dispose();
      throw err;
    }
    return {
      params: { a, b, depth },
      // The responder reads queue a and writes queue b; its own descriptors are closed by dispose.
      accept: () => openQueues(b, a, 'initiator', ctx.peerTimeoutMs, depth),
      dispose,
    };
  },
  join: (ctx, params: JoinParams) =>
    openQueues(String(params.a), String(params.b), 'responder', ctx.peerTimeoutMs, Number(params.depth)),
};
