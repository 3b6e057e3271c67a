/**
 * `sysv-mq`: two System V message queues, one each way. msgsnd/msgrcv have no timeout, so while a
 * case runs an interrupt timer makes them return EINTR now and then, and the endpoint gives up
 * once the peer has been silent for the peer timeout.
 */
import * as libc from '../native/libc.js';
import { Errno, IPC, NativeError } from '../native/libc.js';
import { startInterruptTimer } from '../native/interrupt-timer.js';
import { createWithRunKey } from '../native/sysv-keys.js';
import { PeerWait } from '../native/peer-wait.js';
import { allocMessage, type MessageBuffer } from '../measure/message.js';
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

/** `long mtype` in front of every System V message. */
const MTYPE_BYTES = 8;
const INTERRUPT_INTERVAL_MS = 250;

function feasibility(ctx: ChannelContext): Feasibility {
  const { sysvMsgmaxBytes: msgmax, sysvMsgmnbBytes: msgmnb } = ctx.limits;
  const size = ctx.spec.sizeBytes;
  if (msgmax !== null && size > msgmax) {
    return {
      skip: `kernel.msgmax is ${msgmax} bytes, below the ${size}-byte message (${raiseLimitHint('kernel.msgmax', size)})`,
    };
  }
  if (msgmnb !== null && size > msgmnb) {
    return {
      skip: `kernel.msgmnb is ${msgmnb} bytes, below the ${size}-byte message (${raiseLimitHint('kernel.msgmnb', size)})`,
    };
  }
  return { details: { queueBytes: msgmnb ?? 0 } };
}

/** Creates a private-to-this-run queue and returns its id. */
const createQueue = (ctx: ChannelContext, which: number): number =>
  createWithRunKey(`${ctx.runId}/${ctx.instance}/${which}`, 'msgget', (key) =>
    libc.msgget(key, IPC.CREAT | IPC.EXCL | 0o600),
  );

class SysvEndpoint implements BlockingEndpoint {
  readonly blocking = true;
  /** `mtype` and message as msgsnd/msgrcv take them: the message is copied in and out. */
  private readonly sendFrame: MessageBuffer;
  private readonly receiveFrame: MessageBuffer;
  private readonly receiveBody: Buffer;
  private readonly stopTimer: () => void;
  /** The waits for room in the queue (the peer must read) and for a message (the peer must send). */
  private readonly roomWait: PeerWait;
  private readonly messageWait: PeerWait;
  private closed = false;

  constructor(
    private readonly outgoing: number,
    private readonly incoming: number,
    sizeBytes: number,
    private readonly peer: string,
    peerTimeoutMs: number,
  ) {
    const expired = (peerAction: string) => (): never => {
      throw new PeerError(`the ${peer} did not ${peerAction} within ${peerTimeoutMs} ms (System V queue)`);
    };
    this.roomWait = new PeerWait(peerTimeoutMs, expired('read'));
    this.messageWait = new PeerWait(peerTimeoutMs, expired('send'));
    this.sendFrame = allocMessage(MTYPE_BYTES + sizeBytes);
    this.sendFrame.bytes.writeBigInt64LE(1n, 0);
    this.receiveFrame = allocMessage(MTYPE_BYTES + sizeBytes);
    this.receiveBody = this.receiveFrame.bytes.subarray(MTYPE_BYTES);
    this.stopTimer = startInterruptTimer(INTERRUPT_INTERVAL_MS);
  }

  send(message: MessageBuffer): void {
    const length = message.bytes.length;
    this.sendFrame.bytes.set(message.bytes, MTYPE_BYTES);
    this.roomWait.begin();
    while (libc.msgsndFrom(this.outgoing, this.sendFrame.address, length, 0) !== 0)
      this.goOnAfter('msgsnd', this.roomWait);
  }

  receive(into: MessageBuffer): number {
    const capacity = into.bytes.length;
    this.messageWait.begin();
    let n: number;
    while ((n = libc.msgrcvInto(this.incoming, this.receiveFrame.address, capacity, 0, 0)) < 0)
      this.goOnAfter('msgrcv', this.messageWait);
    if (n === capacity) into.bytes.set(this.receiveBody);
    else this.receiveBody.copy(into.bytes, 0, 0, n);
    return n;
  }

  /** After a failed call: an interruption (the interrupt timer's EINTR) lets `wait` go on, within its timeout. */
  private goOnAfter(call: string, wait: PeerWait): void {
    const errno = libc.lastErrno();
    if (errno === Errno.EIDRM) throw new PeerError(`the ${this.peer} removed the System V queue`);
    if (errno !== Errno.EINTR) throw new NativeError(call, errno);
    wait.goOn();
  }

  details(): Record<string, number | string | boolean> {
    return {};
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopTimer();
  }
}

/** System V message queues. */
export const sysvMqChannel: Channel = {
  id: 'sysv-mq',
  probe() {
    const queue = libc.check(libc.msgget(0 /* IPC_PRIVATE */, IPC.CREAT | 0o600), 'msgget');
    libc.msgctl(queue, IPC.RMID, null);
    return 'System V queues open';
  },
  feasibility,
  host(ctx): Hosted {
    const ids: number[] = [];
    let endpoint: Endpoint | undefined;
    const dispose = () => {
      endpoint?.close();
      for (const id of ids.splice(0)) libc.msgctl(id, IPC.RMID, null);
    };
    try {
      for (const which of [0, 1]) {
        // Journaled by id right after creation: a key recorded before could name a queue that
        // is not ours (msgget EEXIST), and a replay must never remove someone else's queue.
        const id = createQueue(ctx, which);
        ids.push(id);
        ctx.journal.record('sysv-mq', String(id));
      }
    } catch (err) {
      dispose();
      throw err;
    }
    const [a, b] = ids as [number, number];
    return {
      params: { a, b },
      accept: () => (endpoint = new SysvEndpoint(b, a, ctx.spec.sizeBytes, 'initiator', ctx.peerTimeoutMs)),
      dispose,
    };
  },
  join(ctx, params: JoinParams): Endpoint {
    return new SysvEndpoint(Number(params.a), Number(params.b), ctx.spec.sizeBytes, 'responder', ctx.peerTimeoutMs);
  },
};
