/**
 * The registry of channels: every fact about a channel that more than its own implementation
 * needs, in one entry — how it works, what the pod must share, the modes and sizes it supports,
 * the kernel limits it reads and the sysctls that raise them, the kernel objects it creates, its
 * colour in charts and its fidelity targets. The CLI's choices, the planner, `podbench channels`,
 * `--sysctl`, the object journal's sweep, the tests' leak checks, the reports and
 * `bench:fidelity` all read it. It is plain data, part of the contract, so that `podbench
 * report` can read it without loading any native code; the implementations (agents/channels/,
 * one line each in agents/channels/registry.ts) are keyed by the same ids.
 */
import type { KernelLimits } from './ipc-limits.js';
import { MODE_IDS, type ModeId } from './modes.js';

/**
 * Kinds of kernel object that outlive the process that made them (files and sockets live in the
 * run's directories, removed whole). How each kind is removed: agents/kernel-objects.ts.
 */
export type ObjectKind = 'shm' | 'mq' | 'sysv-mq' | 'sysv-sem';

/** How a channel is driven: blocking libc calls (koffi), or Node's own API as a Node sidecar would. */
export const DRIVER_IDS = ['libc', 'node'] as const;
/** A driver. */
export type DriverId = (typeof DRIVER_IDS)[number];

/**
 * Which `bench:fidelity` targets a channel gets. `blocking`: the p50 round trip at 64 B and
 * 4 KiB, within 1.15× of C on two CPUs and 1.5× on one; `spinning`: 64 B on two CPUs within
 * 1.5×; `sizes`: throughput at 64 KiB and 1 MiB, at least 0.9× of C; `largest`: throughput at
 * the largest message the channel carries here (the kernel limits' for `mq`, a datagram's for `udp`).
 */
export interface FidelityKinds {
  readonly latency?: 'blocking' | 'spinning';
  readonly throughput?: 'sizes' | 'largest';
}

/**
 * What one of several parallel connections of a channel is, in its own terms. `streams`: HTTP/2
 * streams, several at once on one session (`--sessions` spreads them over more, `--in-flight`
 * keeps more outstanding per connection).
 */
export type Concurrency =
  'connections' | 'streams' | 'socket pairs' | 'pipe pairs' | 'file pairs' | 'log pairs' | 'rings' | 'queue pairs';

/** One channel, described once. */
export interface ChannelInfo {
  /** The mechanism, in a few words. */
  readonly mechanism: string;
  /** What the two containers must share for the channel to work. */
  readonly shares: string;
  /** The modes it can run; the planner leaves out the others and says so. */
  readonly modes: readonly ModeId[];
  /** The largest message it can carry whatever the limits (a protocol's bound), with the reason. */
  readonly maxSize?: { readonly bytes: number; readonly reason: string };
  /** The kernel limits its cases depend on (shown by `podbench channels`). */
  readonly limits: readonly (keyof KernelLimits)[];
  /** The namespaced sysctls that raise those limits in a pod (what `--sysctl` accepts). */
  readonly sysctls: readonly string[];
  /** Kernel objects its host creates outside the run's directories (journaled, swept, leak-checked). */
  readonly objects: readonly ObjectKind[];
  /** Messages it keeps as files in a shared volume at once (the pod's volumes are sized from it), if any. */
  readonly messagesInVolume?: number;
  /**
   * Whether messages may be lost, reordered or duplicated (datagrams without flow control): the
   * loop then counts them instead of failing, receives have a deadline, and the end of a case
   * travels on the control connection.
   */
  readonly lossy?: boolean;
  /**
   * For a protocol, the raw channel it rides on: reports set each of its cases beside that
   * channel's case of the same mode and size in the same run (the protocol's cost).
   */
  readonly ridesOn?: 'tcp' | 'uds';
  /**
   * What one of `--connections N` is for this channel: each is a whole instance of it (its own
   * socket, session, queues, ring or files) served by a thread of its own on both sides. A
   * channel without it runs one connection only (the planner says why it left the others out).
   */
  readonly concurrency?: Concurrency;
  /** The drivers it has, the default first: `libc`, or `node` alone for the protocols Node speaks. */
  readonly drivers: readonly DriverId[];
  /** Its line colour in charts: distinct in light and dark schemes. */
  readonly colour: string;
  readonly fidelity: FidelityKinds;
}

/**
 * Messages the file channels keep in flight per direction (final names reused round robin);
 * with the one being written, what they keep in a volume.
 */
export const FILE_WINDOW = 8;

/**
 * The fewest records a tailed log's writer may be ahead of its reader (more for small messages,
 * about 256 KiB): with the reader's last half-window not yet freed, what a direction keeps.
 */
export const TAIL_WINDOW_MIN_RECORDS = 4;

const MQ_SYSCTLS = [
  'fs.mqueue.msg_max',
  'fs.mqueue.msgsize_max',
  'fs.mqueue.queues_max',
  'fs.mqueue.msg_default',
  'fs.mqueue.msgsize_default',
];
const SYSV_MQ_SYSCTLS = ['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni'];

/** The largest UDP payload over IPv4: 65,535 less the 20-byte IP and 8-byte UDP headers. */
export const UDP_MAX_PAYLOAD_BYTES = 65_507;

/** What most channels have: every mode, no limits or sysctls, no kernel objects, libc only. */
const PLAIN = { modes: MODE_IDS, limits: [], sysctls: [], objects: [], drivers: ['libc'] } as const;

/** Every channel, in the order reports list them. */
export const CHANNELS = {
  tcp: {
    ...PLAIN,
    concurrency: 'connections',
    mechanism: 'TCP over 127.0.0.1, TCP_NODELAY',
    shares: 'network namespace',
    drivers: ['libc', 'node'],
    colour: '#1f77b4',
    fidelity: { latency: 'blocking', throughput: 'sizes' },
  },
  uds: {
    ...PLAIN,
    concurrency: 'connections',
    mechanism: 'Unix stream socket, socket file in the shared volume',
    shares: 'volume',
    drivers: ['libc', 'node'],
    colour: '#ff7f0e',
    fidelity: { latency: 'blocking', throughput: 'sizes' },
  },
  udp: {
    ...PLAIN,
    mechanism: 'UDP datagrams over 127.0.0.1, connected sockets; losses counted, not retried',
    shares: 'network namespace',
    limits: ['netRmemMaxBytes', 'netWmemMaxBytes'],
    lossy: true,
    colour: '#393b79',
    fidelity: { latency: 'blocking', throughput: 'largest' },
  },
  'uds-dgram': {
    ...PLAIN,
    concurrency: 'socket pairs',
    mechanism:
      'Unix datagram sockets in the shared volume, the initiator connected to the bound responder; a full queue blocks',
    shares: 'volume',
    limits: ['unixMaxDgramQlen', 'netWmemMaxBytes'],
    sysctls: ['net.unix.max_dgram_qlen'],
    colour: '#ffbb78',
    fidelity: { latency: 'blocking', throughput: 'sizes' },
  },
  fifo: {
    ...PLAIN,
    concurrency: 'pipe pairs',
    mechanism: 'two named pipes in the shared volume, one each way; non-blocking, waits in poll()',
    shares: 'volume',
    limits: ['pipeMaxSizeBytes'],
    colour: '#aec7e8',
    fidelity: { latency: 'blocking', throughput: 'sizes' },
  },
  file: {
    ...PLAIN,
    concurrency: 'file pairs',
    mechanism: 'files written, renamed into place and read in the shared volume on disk',
    shares: 'volume (disk)',
    messagesInVolume: FILE_WINDOW + 1,
    colour: '#8c564b',
    fidelity: { throughput: 'sizes' },
  },
  'tmpfs-file': {
    ...PLAIN,
    concurrency: 'file pairs',
    mechanism: 'the same on a memory-backed volume (tmpfs)',
    shares: 'volume (tmpfs)',
    messagesInVolume: FILE_WINDOW + 1,
    colour: '#e377c2',
    fidelity: { throughput: 'sizes' },
  },
  shm: {
    ...PLAIN,
    concurrency: 'rings',
    mechanism: 'POSIX shared-memory ring; the waiting side sleeps on a futex',
    shares: 'IPC namespace + /dev/shm',
    limits: ['devShmFreeBytes'],
    objects: ['shm'],
    colour: '#2ca02c',
    fidelity: { latency: 'blocking', throughput: 'sizes' },
  },
  'shm-spin': {
    ...PLAIN,
    concurrency: 'rings',
    mechanism: 'the same ring; the waiting side busy-polls (burns a core)',
    shares: 'IPC namespace + /dev/shm',
    limits: ['devShmFreeBytes'],
    objects: ['shm'],
    colour: '#17becf',
    fidelity: { latency: 'spinning' },
  },
  'shm-sem': {
    ...PLAIN,
    concurrency: 'rings',
    mechanism: 'the same ring; the waiting side sleeps on a System V semaphore (semtimedop), woken by semop',
    shares: 'IPC namespace + /dev/shm',
    limits: ['devShmFreeBytes', 'sysvSemSets', 'sysvSemPerSet'],
    objects: ['shm', 'sysv-sem'],
    colour: '#ff9896',
    fidelity: { latency: 'blocking', throughput: 'sizes' },
  },
  mmap: {
    ...PLAIN,
    concurrency: 'rings',
    mechanism: 'the shm ring in a file on the shared volume on disk, mapped by both (MAP_SHARED); futex sleeps',
    shares: 'volume (disk)',
    colour: '#bcbd22',
    fidelity: { latency: 'blocking', throughput: 'sizes' },
  },
  'tmpfs-mmap': {
    ...PLAIN,
    concurrency: 'rings',
    mechanism: 'the same on a memory-backed volume (tmpfs): shared memory without /dev/shm',
    shares: 'volume (tmpfs)',
    colour: '#98df8a',
    fidelity: { latency: 'blocking', throughput: 'sizes' },
  },
  tail: {
    ...PLAIN,
    concurrency: 'log pairs',
    mechanism: 'a log file per direction on the disk volume: O_APPEND writes, the reader follows it with inotify',
    shares: 'volume (disk)',
    // One direction streams at a time: its window, the reader's half window not yet freed, a page.
    messagesInVolume: 2 * TAIL_WINDOW_MIN_RECORDS,
    colour: '#c5b0d5',
    fidelity: { latency: 'blocking', throughput: 'sizes' },
  },
  'tmpfs-tail': {
    ...PLAIN,
    concurrency: 'log pairs',
    mechanism: 'the same on a memory-backed volume (tmpfs)',
    shares: 'volume (tmpfs)',
    messagesInVolume: 2 * TAIL_WINDOW_MIN_RECORDS,
    colour: '#c49c94',
    fidelity: { latency: 'blocking', throughput: 'sizes' },
  },
  http1: {
    ...PLAIN,
    concurrency: 'connections',
    mechanism: 'HTTP/1.1 POSTs over TCP on 127.0.0.1, keep-alive, Nagle off (node:http both sides)',
    shares: 'network namespace',
    ridesOn: 'tcp',
    drivers: ['node'],
    colour: '#7b4173',
    fidelity: {},
  },
  'http1-uds': {
    ...PLAIN,
    concurrency: 'connections',
    mechanism: 'the same over a Unix socket in the shared volume',
    shares: 'volume',
    ridesOn: 'uds',
    drivers: ['node'],
    colour: '#a55194',
    fidelity: {},
  },
  h2: {
    ...PLAIN,
    concurrency: 'streams',
    mechanism: 'HTTP/2 streams on one session over TCP on 127.0.0.1, prior knowledge, windows raised (node:http2)',
    shares: 'network namespace',
    ridesOn: 'tcp',
    drivers: ['node'],
    colour: '#637939',
    fidelity: {},
  },
  'h2-uds': {
    ...PLAIN,
    concurrency: 'streams',
    mechanism: 'the same over a Unix socket in the shared volume',
    shares: 'volume',
    ridesOn: 'uds',
    drivers: ['node'],
    colour: '#8ca252',
    fidelity: {},
  },
  grpc: {
    ...PLAIN,
    concurrency: 'streams',
    mechanism: 'gRPC over TCP on 127.0.0.1: unary echo, client streaming; raw bytes, no protobuf (@grpc/grpc-js)',
    shares: 'network namespace',
    ridesOn: 'tcp',
    drivers: ['node'],
    colour: '#843c39',
    fidelity: {},
  },
  'grpc-uds': {
    ...PLAIN,
    concurrency: 'streams',
    mechanism: 'the same over a Unix socket in the shared volume',
    shares: 'volume',
    ridesOn: 'uds',
    drivers: ['node'],
    colour: '#bd9e39',
    fidelity: {},
  },
  mq: {
    ...PLAIN,
    concurrency: 'queue pairs',
    mechanism: 'POSIX message queue (mq_open)',
    shares: 'IPC namespace',
    limits: ['mqMsgsizeMaxBytes', 'mqMsgMax', 'rlimitMsgqueueBytes'],
    sysctls: MQ_SYSCTLS,
    objects: ['mq'],
    colour: '#d62728',
    fidelity: { latency: 'blocking', throughput: 'largest' },
  },
  'sysv-mq': {
    ...PLAIN,
    concurrency: 'queue pairs',
    mechanism: 'System V message queue (msgget)',
    shares: 'IPC namespace',
    limits: ['sysvMsgmaxBytes', 'sysvMsgmnbBytes'],
    sysctls: SYSV_MQ_SYSCTLS,
    objects: ['sysv-mq'],
    colour: '#9467bd',
    fidelity: { latency: 'blocking', throughput: 'sizes' },
  },
} as const satisfies Record<string, ChannelInfo>;

/** A channel identifier, e.g. `tcp` or `shm-spin`. */
export type ChannelId = keyof typeof CHANNELS;
/** Every channel podbench implements, in registry order. */
export const CHANNEL_IDS = Object.keys(CHANNELS) as ChannelId[];

/** A channel's entry, typed as the interface (the table's literal types are narrower). */
export const channelInfo = (id: ChannelId): ChannelInfo => CHANNELS[id];

/** Every namespaced sysctl some channel reads: what `--sysctl` accepts. */
export const CHANNEL_SYSCTLS: readonly string[] = [...new Set(CHANNEL_IDS.flatMap((id) => channelInfo(id).sysctls))];

/** Every kind of kernel object some channel creates. */
export const OBJECT_KINDS: readonly ObjectKind[] = [...new Set(CHANNEL_IDS.flatMap((id) => channelInfo(id).objects))];
