/**
 * The one interface every channel implements. The responder *hosts* a channel (creates the
 * kernel objects, listens) and tells the initiator how to *join* it through `params`; both then
 * hold an {@link Endpoint} that the shared measurement loop drives. An endpoint says once what
 * kind it is: blocking (libc through koffi: nothing in the timed loop awaits anything), or on the
 * event loop (`--driver node`, whose sockets live there as an idiomatic Node sidecar's do); the
 * loop picks its steps for that kind once per case.
 */
import type { CaseSpec } from '../contract/schema.js';
import type { ChannelId } from '../contract/channels.js';
import type { KernelLimits } from '../kernel-limits.js';
import type { ObjectJournal } from '../object-journal.js';
import type { MessageBuffer } from '../measure/message.js';

/**
 * What every endpoint has besides its calls. Messages are whole: `send` writes all of one,
 * `receive` reads one. They come as MessageBuffers so native calls can take their memory by address.
 */
interface EndpointBase {
  /** Facts about the case that shape the number (e.g. futex wake-ups), read after the loop. */
  details(): Record<string, number | string | boolean>;
  /** Closes this side; idempotent. */
  close(): void;
}

/** One side of a channel driven by blocking calls: each call returns when it is done. */
export interface BlockingEndpoint extends EndpointBase {
  readonly blocking: true;
  readonly lossy?: false;
  /** Sends all of `message` as one message; blocks (bounded) while the channel is full. */
  send(message: MessageBuffer): void;
  /** Receives one message into `into`; returns its length in bytes. Blocks (bounded) while empty. */
  receive(into: MessageBuffer): number;
}

/**
 * One side of a channel whose messages may be lost, reordered or duplicated (datagrams), driven
 * by blocking calls. A receive waits at most {@link LossyEndpoint.lossTimeoutMs}: a message that
 * did not come by then counts as lost, never hangs the case.
 */
export interface LossyEndpoint extends EndpointBase {
  readonly blocking: true;
  readonly lossy: true;
  /** How long a receive waits before it gives up on a message. */
  readonly lossTimeoutMs: number;
  /** Sends one datagram; blocks (bounded) while the socket's buffer is full. */
  send(message: MessageBuffer): void;
  /**
   * Receives one datagram into `into`; returns its length, or -1 when none came within the loss
   * timeout. Throws when the peer is gone, or silent for the whole peer timeout.
   */
  receive(into: MessageBuffer): number;
}

/** One side of a channel on the event loop: a call's work completes there. */
export interface EventLoopEndpoint extends EndpointBase {
  readonly blocking: false;
  /**
   * Hands `message` to the channel; returns a promise only when the caller must wait before the
   * next (a socket whose buffer is full: write() returned false), as Node code checks write().
   */
  send(message: MessageBuffer): Promise<void> | undefined;
  /** Resolves with the length of the next whole message, read into `into`. */
  receive(into: MessageBuffer): Promise<number>;
}

/** One side of an open channel. */
export type Endpoint = BlockingEndpoint | LossyEndpoint | EventLoopEndpoint;

/** What a channel needs to know about the case and the place it runs in. */
export interface ChannelContext {
  readonly runId: string;
  readonly spec: CaseSpec;
  /**
   * What names this instance of the channel apart in file, socket and kernel object names: the
   * case's index, with the connection's number after it for the second and later connections.
   */
  readonly instance: string;
  /** The shared directory on disk (emptyDir) and the memory-backed one (emptyDir, Memory). */
  readonly dirs: { readonly disk: string; readonly tmpfs: string };
  /** Longest a blocking call may wait for the peer before the case fails. */
  readonly peerTimeoutMs: number;
  /** Every kernel object a host creates is recorded here first, so a crash leaves nothing. */
  readonly journal: ObjectJournal;
  readonly limits: KernelLimits;
}

/** Parameters the host passes to the joiner over the control connection. */
export type JoinParams = Record<string, string | number>;

/** The host's side of a channel before the peer has joined. */
export interface Hosted {
  /** What the initiator needs to join. */
  readonly params: JoinParams;
  /** Waits (bounded) for the initiator to join and returns the responder's endpoint. */
  accept(): Endpoint | Promise<Endpoint>;
  /** Removes everything the host created; idempotent, safe on every exit path. */
  dispose(): void;
}

/** Either why a case cannot run here (a limit, with its value), or the settings it runs with. */
export type Feasibility = { readonly skip: string } | { readonly details: Record<string, number | string> };

/** A hosted channel instance that carries several lanes at once (see {@link Lanes}). */
export interface HostedLanes extends Hosted {
  /** Waits (bounded) for the initiator's session and returns one endpoint per lane, in lane order. */
  acceptLanes(): Promise<EventLoopEndpoint[]>;
}

/**
 * A channel that carries several requests at once on one instance — HTTP/2 streams on one
 * session — each lane a loop of its own: requests carry their lane's number, and each lane's
 * endpoint sees only its own.
 */
export interface Lanes {
  /** Responder: one instance (one server, one session) with `lanes` endpoints. */
  hostLanes(ctx: ChannelContext, lanes: number): Promise<HostedLanes>;
  /** Initiator: one session, `lanes` endpoints on it. */
  joinLanes(ctx: ChannelContext, params: JoinParams, lanes: number): Promise<EventLoopEndpoint[]>;
}

/** A channel implementation. */
export interface Channel {
  /** Whether (and how) it carries several requests at once on one instance; the registry's `streams`. */
  readonly lanes?: Lanes;
  readonly id: ChannelId;
  /**
   * `podbench channels`: whether the channel works on this host, found by creating and removing
   * a real object of its kind in `scratchDir` (a temp directory, removed by the caller). Returns
   * the fact that matters most; throws when the channel cannot work here.
   */
  probe(scratchDir: string): string | Promise<string>;
  /** Checks the kernel limits that apply to this case; never throws for a limit. */
  feasibility(ctx: ChannelContext): Feasibility;
  /** Responder: creates the channel (the Node driver's sockets listen asynchronously). */
  host(ctx: ChannelContext): Hosted | Promise<Hosted>;
  /** Initiator: opens the channel the responder created. */
  join(ctx: ChannelContext, params: JoinParams): Endpoint | Promise<Endpoint>;
}

/** The peer did not answer in time or went away: the case fails with this message. */
export class PeerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PeerError';
  }
}
