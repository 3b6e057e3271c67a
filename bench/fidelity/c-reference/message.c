/*
 * podbench-ref: message framing and verification (see message.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "message.h"

#include <string.h>

/* The header is little-endian; x86-64 and arm64 Linux are too, so words are read as they lie. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "podbench-ref assumes a little-endian CPU");

#define FNV_OFFSET 0x811c9dc5u
#define FNV_PRIME 0x01000193u

static uint32_t load32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

static void store32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof v);
}

void codec_init(struct codec *c, uint32_t size, bool full)
{
	const uint32_t header_words = HEADER_BYTES / 4;
	c->size = size;
	c->end_word = size / 4;
	if (full) {
		c->head_end_word = c->end_word;
		c->tail_start_word = c->end_word;
	} else {
		/* The first and last SAMPLE_BYTES of the payload; they overlap in small messages. */
		uint32_t head_end = header_words + SAMPLE_BYTES / 4;
		uint32_t tail_start = c->end_word > SAMPLE_BYTES / 4 ? c->end_word - SAMPLE_BYTES / 4 : 0;
		c->head_end_word = head_end < c->end_word ? head_end : c->end_word;
		c->tail_start_word = tail_start > c->head_end_word ? tail_start : c->head_end_word;
	}
	c->stamp_head = size >= HEADER_BYTES + 4;
	c->stamp_tail = size >= HEADER_BYTES + 8;
}

void codec_fill(const struct codec *c, uint8_t *msg)
{
	uint32_t x = 0x9e3779b9u; /* xorshift32: JS's << and >>> on int32 give the same bits */
	for (uint32_t i = HEADER_BYTES; i < c->size; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		msg[i] = (uint8_t)x;
	}
}

static uint32_t checksum(const struct codec *c, const uint8_t *msg, uint32_t seq)
{
	uint32_t h = (FNV_OFFSET ^ seq) * FNV_PRIME;
	h = (h ^ c->size) * FNV_PRIME;
	for (uint32_t i = HEADER_BYTES / 4; i < c->head_end_word; i++)
		h = (h ^ load32(msg + 4 * i)) * FNV_PRIME;
	for (uint32_t i = c->tail_start_word; i < c->end_word; i++)
		h = (h ^ load32(msg + 4 * i)) * FNV_PRIME;
	for (uint32_t i = c->end_word * 4; i < c->size; i++)
		h = (h ^ msg[i]) * FNV_PRIME;
	return h;
}

void codec_stamp(const struct codec *c, uint8_t *msg, uint32_t seq, uint32_t flags)
{
	if (c->stamp_head)
		store32(msg + HEADER_BYTES, seq);
	if (c->stamp_tail)
		store32(msg + c->size - 4, seq);
	store32(msg, seq);
	store32(msg + 4, c->size);
	store32(msg + 12, flags);
	store32(msg + 8, checksum(c, msg, seq));
}

enum verdict codec_verify(const struct codec *c, const uint8_t *msg, size_t received, uint32_t expected)
{
	uint32_t seq = load32(msg);
	if (received != c->size || load32(msg + 4) != c->size)
		return VERDICT_LENGTH;
	if (seq != expected)
		return VERDICT_SEQUENCE;
	if (load32(msg + 8) != checksum(c, msg, seq))
		return VERDICT_CHECKSUM;
	return VERDICT_OK;
}

uint32_t message_sequence(const uint8_t *msg) { return load32(msg); }
uint32_t message_flags(const uint8_t *msg) { return load32(msg + 12); }

const char *verdict_text(enum verdict v)
{
	switch (v) {
	case VERDICT_SEQUENCE: return "sequence mismatch";
	case VERDICT_LENGTH: return "length mismatch";
	case VERDICT_CHECKSUM: return "checksum mismatch";
	default: return "ok";
	}
}
