/** Every channel implementation, by id. */
import type { ChannelId } from '../contract/channels.js';
import type { Driver } from '../contract/schema.js';
import { nodeTcpChannel, nodeUdsChannel } from './node-socket.js';
import type { Channel } from './channel.js';
import { fileChannel, tmpfsFileChannel } from './file-handover.js';
import { mqChannel } from './posix-mq.js';
import { shmChannel, shmSpinChannel } from './shm-ring.js';
import { tcpChannel, udsChannel } from './stream-socket.js';
import { sysvMqChannel } from './sysv-mq.js';

const channels: Record<ChannelId, Channel> = {
  tcp: tcpChannel,
  uds: udsChannel,
  file: fileChannel,
  'tmpfs-file': tmpfsFileChannel,
  shm: shmChannel,
  'shm-spin': shmSpinChannel,
  mq: mqChannel,
  'sysv-mq': sysvMqChannel,
};

/**
 * The implementation of a channel. `driver: 'node'` swaps tcp and uds for their net.Socket
 * versions; the other channels have no Node API to drive them, so they always go through libc.
 */
export function channelFor(id: ChannelId, driver: Driver = 'libc'): Channel {
  if (driver === 'node' && id === 'tcp') return nodeTcpChannel;
  if (driver === 'node' && id === 'uds') return nodeUdsChannel;
  return channels[id];
}
