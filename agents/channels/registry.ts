/** Every channel implementation, by id. */
import type { ChannelId } from '../contract/channels.js';
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

/** The implementation of a channel. */
export function channelFor(id: ChannelId): Channel {
  return channels[id];
}
