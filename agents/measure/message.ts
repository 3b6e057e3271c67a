/**
 * Message framing and verification, the same for every channel.
 *
 * A message is `sizeBytes` long and starts with a 16-byte little-endian header:
 * `seq u32 | length u32 | checksum u32 | flags u32`. The payload after it is filled once with a
 * pseudo-random pattern; each message stamps its sequence number into the first and last payload
 * word, so a stale or mixed-up payload fails the checksum even when its header looks right.
 *
 * The checksum covers the sequence number, the length and either a fixed sample of the payload
 * (first and last 64 bytes: the same cost at every size, so verification does not dominate
 * throughput) or, with `verify: 'full'`, every payload byte.
 */
import type { RunSettings } from '../contract/schema.js';
import { HEADER_BYTES } from '../contract/message-header.js';
import { addressOf } from '../native/libc.js';

export { HEADER_BYTES };
/** Payload bytes checksummed at each end of the payload in `sample` mode. */
export const SAMPLE_BYTES = 64;

/** Header flags. */
export const Flags = {
  /** Warm-up message: verified, not counted. */
  warmup: 1,
  /** Last message of a case: the receiver stops. */
  end: 2,
} as const;

/** Outcome of {@link MessageCodec.verify}: 0 is good, anything else names the first problem. */
export const Verdict = { ok: 0, sequence: 1, length: 2, checksum: 3 } as const;
export type Verdict = (typeof Verdict)[keyof typeof Verdict];

/** A message buffer with a word view and the address of the same memory, made once before timing. */
export interface MessageBuffer {
  /** The whole message, as channels send and receive it. */
  readonly bytes: Buffer;
  /** The same memory as 32-bit words, for the checksum. */
  readonly words: Int32Array;
  /**
   * The same memory for the little-endian header fields. Buffer's readUInt32LE/writeUInt32LE
   * cost ~22 ns each here against ~2 ns for DataView, and the header is touched between the
   * channel's calls: in the responder's echo path and in the initiator's gap between round trips.
   */
  readonly view: DataView;
  /** Where `bytes` starts in memory, for native calls (see addressOf in native/libc.ts). */
  readonly address: number;
}

/** Where every message buffer starts: at the start of a page, as the C reference's (mmap) do. */
const PAGE_BYTES = 4096;

/**
 * Allocates a message buffer that starts at the start of a page (so 4-byte aligned, as the word
 * checksum needs). The page matters: how fast the kernel copies a message in and out depends on
 * where the user buffer sits against the kernel's (4K aliasing, `rep movsb`'s alignment rules),
 * and the C reference's buffers start on a page; a buffer at whatever offset malloc gives would
 * make podbench and C do different work.
 */
export function allocMessage(sizeBytes: number): MessageBuffer {
  // allocUnsafeSlow gives the buffer its own ArrayBuffer: a fixed address, never moved.
  const backing = Buffer.allocUnsafeSlow(Math.ceil(sizeBytes / 4) * 4 + PAGE_BYTES).fill(0);
  const offset = (PAGE_BYTES - (addressOf(backing) % PAGE_BYTES)) % PAGE_BYTES;
  return {
    bytes: backing.subarray(offset, offset + sizeBytes),
    words: new Int32Array(backing.buffer, offset, Math.floor(sizeBytes / 4)),
    view: new DataView(backing.buffer, offset, sizeBytes),
    address: addressOf(backing) + offset,
  };
}

/** Stamps and verifies messages of one size; holds no per-message state, allocates nothing. */
export class MessageCodec {
  readonly sizeBytes: number;
  private readonly full: boolean;
  // Word ranges (in 32-bit words) of the payload the checksum covers, and the unaligned tail.
  private readonly headEndWord: number;
  private readonly tailStartWord: number;
  private readonly endWord: number;
  private readonly stampHead: boolean;
  private readonly stampTail: boolean;

  constructor(sizeBytes: number, verify: RunSettings['verify']) {
    if (sizeBytes < HEADER_BYTES) throw new RangeError(`a message needs at least ${HEADER_BYTES} bytes`);
    this.sizeBytes = sizeBytes;
    this.full = verify === 'full';
    this.endWord = Math.floor(sizeBytes / 4);
    const headerWords = HEADER_BYTES / 4;
    if (this.full) {
      this.headEndWord = this.endWord;
      this.tailStartWord = this.endWord;
    } else {
      this.headEndWord = Math.min(this.endWord, headerWords + SAMPLE_BYTES / 4);
      this.tailStartWord = Math.max(this.headEndWord, this.endWord - SAMPLE_BYTES / 4);
    }
    this.stampHead = sizeBytes >= HEADER_BYTES + 4;
    this.stampTail = sizeBytes >= HEADER_BYTES + 8;
  }

  /** Fills a buffer's payload with the pattern; done once per buffer, before timing. */
  fill({ bytes: buf }: MessageBuffer): void {
    let x = 0x9e3779b9;
    for (let i = HEADER_BYTES; i < this.sizeBytes; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      buf[i] = x & 0xff;
    }
  }

  /** Writes header and sequence stamps for message `seq` into `buf`. */
  stamp(msg: MessageBuffer, sequence: number, flags: number): void {
    const view = msg.view;
    const seq = sequence >>> 0; // the header holds 32 bits; long fast runs pass 2^32 messages
    if (this.stampHead) view.setUint32(HEADER_BYTES, seq, true);
    if (this.stampTail) view.setUint32(this.sizeBytes - 4, seq, true);
    view.setUint32(0, seq, true);
    view.setUint32(4, this.sizeBytes, true);
    view.setUint32(12, flags, true);
    view.setUint32(8, this.checksum(msg, seq), true);
  }

  /** Checks a received message against the expected sequence number and the bytes received. */
  verify(msg: MessageBuffer, receivedBytes: number, expectedSeq: number): Verdict {
    const view = msg.view;
    const seq = view.getUint32(0, true);
    if (receivedBytes !== this.sizeBytes || view.getUint32(4, true) !== this.sizeBytes) return Verdict.length;
    if (seq !== expectedSeq >>> 0) return Verdict.sequence;
    if (view.getUint32(8, true) !== this.checksum(msg, seq)) return Verdict.checksum;
    return Verdict.ok;
  }

  /** The header's sequence number. */
  static sequence(msg: MessageBuffer): number {
    return msg.view.getUint32(0, true);
  }

  /** The header's flags. */
  static flags(msg: MessageBuffer): number {
    return msg.view.getUint32(12, true);
  }

  private checksum({ bytes: buf, words }: MessageBuffer, seq: number): number {
    let h = Math.imul(0x811c9dc5 ^ seq, 0x01000193);
    h = Math.imul(h ^ this.sizeBytes, 0x01000193);
    const headerWords = HEADER_BYTES / 4;
    for (let i = headerWords; i < this.headEndWord; i++) h = Math.imul(h ^ words[i]!, 0x01000193);
    for (let i = this.tailStartWord; i < this.endWord; i++) h = Math.imul(h ^ words[i]!, 0x01000193);
    for (let i = this.endWord * 4; i < this.sizeBytes; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
    return h >>> 0;
  }
}
