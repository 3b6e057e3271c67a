/*
 * podbench-ref: message framing and verification, bit for bit as podbench's
 * agents/measure/message.ts.
 *
 * A message is `size` bytes and starts with a 16-byte little-endian header:
 * `seq u32 | length u32 | checksum u32 | flags u32`. The payload is filled once with a
 * pseudo-random pattern; each message stamps its sequence number into the first and last
 * payload word, so a stale payload under a fresh header fails the checksum.
 *
 * The checksum (FNV-1a style, 32-bit multiply) covers the sequence number, the length and either
 * the first and last 64 payload bytes (`sample`: the same cost at every size) or every payload
 * byte (`full`).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PODBENCH_REF_MESSAGE_H
#define PODBENCH_REF_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HEADER_BYTES 16
#define SAMPLE_BYTES 64

/* Header flags. */
enum {
	FLAG_WARMUP = 1, /* verified, not counted */
	FLAG_END = 2,    /* the last message of a case: the receiver stops */
};

/* What verify() found; the order of the checks is podbench's. */
enum verdict { VERDICT_OK, VERDICT_SEQUENCE, VERDICT_LENGTH, VERDICT_CHECKSUM };

/* Stamps and verifies messages of one size; holds no per-message state. */
struct codec {
	uint32_t size;
	/* 32-bit word ranges of the payload the checksum covers, then the unaligned tail bytes. */
	uint32_t head_end_word, tail_start_word, end_word;
	bool stamp_head, stamp_tail;
};

void codec_init(struct codec *c, uint32_t size, bool full);
/* Fills the payload with the pattern; once per buffer, before timing. */
void codec_fill(const struct codec *c, uint8_t *msg);
/* Writes header and sequence stamps for message `seq`. */
void codec_stamp(const struct codec *c, uint8_t *msg, uint32_t seq, uint32_t flags);
/* Checks a received message against the expected sequence and the byte count received. */
enum verdict codec_verify(const struct codec *c, const uint8_t *msg, size_t received, uint32_t expected);

uint32_t message_sequence(const uint8_t *msg);
uint32_t message_flags(const uint8_t *msg);
/* "checksum mismatch" and so on, as podbench words it. */
const char *verdict_text(enum verdict v);

#endif
