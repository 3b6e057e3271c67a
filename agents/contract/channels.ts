/**
 * Channel and mode identifiers: part of the contract between orchestrator and agents, so both
 * ends (and the results schema) agree on the spelling.
 */

/** Every channel podbench implements, in the order reports list them. */
export const CHANNEL_IDS = ['tcp', 'uds', 'file', 'tmpfs-file', 'shm', 'shm-spin', 'mq', 'sysv-mq'] as const;
/** A channel identifier, e.g. `tcp` or `shm-spin`. */
export type ChannelId = (typeof CHANNEL_IDS)[number];

/**
 * Messages the file channels keep in flight per direction (final names reused round robin);
 * the orchestrator sizes the shared volumes from it.
 */
export const FILE_WINDOW = 8;

/** The measurement modes. */
export const MODE_IDS = ['latency', 'throughput'] as const;
/** A measurement mode. */
export type ModeId = (typeof MODE_IDS)[number];

/** What a user needs to know to pick a channel: how it works and what the pod must share. */
export interface ChannelInfo {
  readonly id: ChannelId;
  /** The mechanism, in a few words. */
  readonly mechanism: string;
  /** What the two containers must share for the channel to work. */
  readonly shares: string;
}

/** The channel table, the single source for `podbench channels` and the README's channel list. */
export const CHANNELS: readonly ChannelInfo[] = [
  { id: 'tcp', mechanism: 'TCP over 127.0.0.1, TCP_NODELAY', shares: 'network namespace' },
  { id: 'uds', mechanism: 'Unix stream socket, socket file in the shared volume', shares: 'volume' },
  { id: 'file', mechanism: 'files written, renamed into place and read in the shared volume on disk', shares: 'volume (disk)' },
  { id: 'tmpfs-file', mechanism: 'the same on a memory-backed volume (tmpfs)', shares: 'volume (tmpfs)' },
  { id: 'shm', mechanism: 'POSIX shared-memory ring; the waiting side sleeps on a futex', shares: 'IPC namespace + /dev/shm' },
  { id: 'shm-spin', mechanism: 'the same ring; the waiting side busy-polls (burns a core)', shares: 'IPC namespace + /dev/shm' },
  { id: 'mq', mechanism: 'POSIX message queue (mq_open)', shares: 'IPC namespace' },
  { id: 'sysv-mq', mechanism: 'System V message queue (msgget)', shares: 'IPC namespace' },
];
