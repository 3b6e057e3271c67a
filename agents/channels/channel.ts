/**
 * The one interface every channel implements. The responder *hosts* a channel (creates the
 * kernel objects, listens) and tells the initiator how to *join* it through `params`; both then
 * hold an {@link Endpoint} that the shared measurement loop drives. Calls are synchronous and
 * blocking (libc through koffi), so nothing in the timed loop awaits anything — except with
 * `--driver node`, whose sockets live on the event loop as an idiomatic Node sidecar's do.
 */
import type { CaseSpec } from '../contract/schema.js';
import type { ChannelId } from '../contract/channels.js';
import type { KernelLimits } from '../kernel-limits.js';
import type { ObjectJournal } from '../object-journal.js';
import type { MessageBuffer } from '../measure/message.js';

/**
 * One side of an open channel. Messages are whole: `send` writes all of one, `receive` reads
 * one. They come as MessageBuffers so native calls can take their memory by address.
 */
export interface Endpoint {
  /**
   * Sends all of `message` as one message; blocks (bounded) while the channel is full. Only the
   * Node driver's sockets return a promise (they wait on the event loop); the loop awaits only then.
   */
  send(message: MessageBuffer): void | Promise<void>;
  /** Receives one message into `into`; returns its length in bytes. Blocks while empty. */
  receive(into: MessageBuffer): number | Promise<number>;
  /** Facts about the case that shape the number (e.g. futex wake-ups), read after the loop. */
  details(): Record<string, number | string | boolean>;
  /** Closes this side; idempotent. */
  close(): void;
}

/** What a channel needs to know about the case and the place it runs in. */
export interface ChannelContext {
  readonly runId: string;
  readonly spec: CaseSpec;
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

/** A channel implementation. */
export interface Channel {
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
