/** Message stamping and verification: what the receiver catches, in both verify modes. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HEADER_BYTES, MessageCodec, Verdict, allocMessage, Flags } from '../agents/measure/message.js';

function stamped(size: number, verify: 'sample' | 'full', seq = 7) {
  const codec = new MessageCodec(size, verify);
  const msg = allocMessage(size);
  codec.fill(msg);
  codec.stamp(msg, seq, 0);
  return { codec, msg };
}

describe('MessageCodec', () => {
  for (const size of [16, 17, 64, 1000, 65536]) {
    it(`${size} B: a stamped message verifies, with its flags and sequence readable`, () => {
      const { codec, msg } = stamped(size, 'sample');
      assert.equal(codec.verify(msg, size, 7), Verdict.ok);
      codec.stamp(msg, 8, Flags.end);
      assert.equal(MessageCodec.flags(msg), Flags.end);
      assert.equal(MessageCodec.sequence(msg), 8);
      assert.equal(codec.verify(msg, size, 8), Verdict.ok);
    });
  }

  it('writes the header little-endian at the documented offsets, and the sequence into both payload ends', () => {
    const { msg } = stamped(64, 'sample', 0x01020304);
    const bytes = msg.bytes;
    assert.deepEqual([...bytes.subarray(0, 4)], [0x04, 0x03, 0x02, 0x01]);
    assert.equal(bytes.readUInt32LE(4), 64);
    assert.equal(bytes.readUInt32LE(12), 0);
    assert.equal(bytes.readUInt32LE(HEADER_BYTES), 0x01020304);
    assert.equal(bytes.readUInt32LE(60), 0x01020304);
  });

  it('catches a wrong sequence number and a short message', () => {
    const { codec, msg } = stamped(256, 'sample');
    assert.equal(codec.verify(msg, 256, 8), Verdict.sequence);
    assert.equal(codec.verify(msg, 255, 7), Verdict.length);
  });

  it('sample mode catches corruption in the first and last 64 payload bytes', () => {
    for (const offset of [HEADER_BYTES, HEADER_BYTES + 63, 65536 - 64, 65535]) {
      const { codec, msg } = stamped(65536, 'sample');
      msg.bytes[offset]! ^= 0x01;
      assert.equal(codec.verify(msg, 65536, 7), Verdict.checksum, `offset ${offset}`);
    }
  });

  it('full mode catches a flipped bit anywhere; sample mode only where it looks', () => {
    const middle = 30_000;
    const full = stamped(65536, 'full');
    full.msg.bytes[middle]! ^= 0x10;
    assert.equal(full.codec.verify(full.msg, 65536, 7), Verdict.checksum);
    const sample = stamped(65536, 'sample');
    sample.msg.bytes[middle]! ^= 0x10;
    assert.equal(sample.codec.verify(sample.msg, 65536, 7), Verdict.ok);
  });

  it('catches a stale payload under a fresh header (payload carries the sequence)', () => {
    const { codec, msg } = stamped(4096, 'sample', 1);
    const old = Buffer.from(msg.bytes);
    codec.stamp(msg, 2, 0);
    old.copy(msg.bytes, HEADER_BYTES, HEADER_BYTES); // payload of message 1, header of message 2
    assert.equal(codec.verify(msg, 4096, 2), Verdict.checksum);
  });
});
