/**
 * Every channel implementation, by id: one line per channel. What a channel is (mechanism,
 * modes, limits, objects, colour) is in the contract's registry, agents/contract/channels.ts;
 * this table only adds the code, so the compiler asks for a line here for every id there.
 */
import { channelInfo, type ChannelId, type DriverId } from '../contract/channels.js';
import { nodeTcpChannel, nodeUdsChannel } from './node-socket.js';
import type { Channel } from './channel.js';
import { fifoChannel } from './fifo.js';
import { grpcChannel, grpcUdsChannel } from './grpc.js';
import { h2Channel, h2UdsChannel } from './h2.js';
import { http1Channel, http1UdsChannel } from './http1.js';
import { fileChannel, tmpfsFileChannel } from './file-handover.js';
import { mqChannel } from './posix-mq.js';
import { mmapChannel, shmChannel, shmSemChannel, shmSpinChannel, tmpfsMmapChannel } from './shm-ring.js';
import { tcpChannel, udsChannel } from './stream-socket.js';
import { sysvMqChannel } from './sysv-mq.js';
import { udpChannel } from './udp.js';
import { diskTailChannel, tmpfsTailChannel } from './tail.js';
import { unixDgramChannel } from './unix-dgram.js';

const IMPLEMENTATIONS: {
  readonly [id in ChannelId]: { readonly [driver in DriverId]?: Channel };
} = {
  tcp: { libc: tcpChannel, node: nodeTcpChannel },
  uds: { libc: udsChannel, node: nodeUdsChannel },
  udp: { libc: udpChannel },
  'uds-dgram': { libc: unixDgramChannel },
  fifo: { libc: fifoChannel },
  file: { libc: fileChannel },
  'tmpfs-file': { libc: tmpfsFileChannel },
  shm: { libc: shmChannel },
  'shm-spin': { libc: shmSpinChannel },
  'shm-sem': { libc: shmSemChannel },
  mmap: { libc: mmapChannel },
  'tmpfs-mmap': { libc: tmpfsMmapChannel },
  tail: { libc: diskTailChannel },
  'tmpfs-tail': { libc: tmpfsTailChannel },
  http1: { node: http1Channel },
  'http1-uds': { node: http1UdsChannel },
  h2: { node: h2Channel },
  'h2-uds': { node: h2UdsChannel },
  grpc: { node: grpcChannel },
  'grpc-uds': { node: grpcUdsChannel },
  mq: { libc: mqChannel },
  'sysv-mq': { libc: sysvMqChannel },
};

/**
 * The implementation of a channel for a driver. A channel without that driver runs through its
 * default, the first its registry entry lists: libc for the kernel's channels (only tcp and uds
 * also have a Node API to drive them), node for the protocols Node speaks.
 */
export function channelFor(id: ChannelId, driver: DriverId = 'libc'): Channel {
  const implementations = IMPLEMENTATIONS[id];
  const { drivers } = channelInfo(id);
  const chosen = implementations[drivers.includes(driver) ? driver : drivers[0]!];
  if (!chosen) throw new Error(`channel ${id} has no implementation for its driver ${driver}`);
  return chosen;
}
