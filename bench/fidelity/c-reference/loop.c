/*
 * podbench-ref: the measurement loop (see loop.h), statement for statement as loop.ts: the
 * message is stamped before t0 and verified after t1, so the round trip holds the channel alone.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "loop.h"

#include <stdio.h>

#include "common.h"

static void count_error(struct counts *c, enum verdict v, uint64_t seq)
{
	if (c->errors++ == 0)
		snprintf(c->first_error, sizeof c->first_error, "%s at seq %llu", verdict_text(v),
			 (unsigned long long)seq);
}

/*
 * --send-delay-ns: spin on the clock before a send, as a slower runtime spends time between
 * the channel's calls (podbench: the FFI and JavaScript around each one). It shows how much a
 * given cost per message moves a number on this machine; 0, the default, skips it.
 */
static void delay_send(const struct config *cfg)
{
	if (cfg->send_delay_ns == 0)
		return;
	const int64_t until = now_ns() + cfg->send_delay_ns;
	while (now_ns() < until)
		;
}

/* One untimed round trip (warm-up): stamp, send, receive, verify. */
static void round_trip(struct endpoint *ep, const struct codec *codec, const struct config *cfg, uint8_t *out,
		       uint8_t *back, uint64_t seq, struct counts *counts)
{
	codec_stamp(codec, out, (uint32_t)seq, FLAG_WARMUP);
	delay_send(cfg);
	ep->send(ep, out, codec->size);
	size_t n = ep->receive(ep, back, codec->size);
	enum verdict v = codec_verify(codec, back, n, (uint32_t)seq);
	if (v != VERDICT_OK)
		count_error(counts, v, seq);
}

void run_initiator(struct endpoint *ep, const struct codec *codec, const struct config *cfg,
		   struct histogram *histogram, struct initiator_outcome *out)
{
	uint8_t *msg = alloc_prefaulted(codec->size);
	uint8_t *back = alloc_prefaulted(codec->size);
	codec_fill(codec, msg);
	struct counts *counts = &out->counts;
	uint64_t seq = 0; /* the header holds its low 32 bits, as in podbench */

	const int64_t warmup_end = now_ns() + cfg->warmup_ms * 1000000;
	while (now_ns() < warmup_end) {
		if (cfg->latency) {
			round_trip(ep, codec, cfg, msg, back, seq++, counts);
		} else {
			codec_stamp(codec, msg, (uint32_t)seq++, FLAG_WARMUP);
			delay_send(cfg);
			ep->send(ep, msg, codec->size);
		}
	}

	uint64_t sent = 0;
	const int64_t start = now_ns();
	const int64_t end = start + cfg->duration_ms * 1000000;
	int64_t t = start;
	if (cfg->latency) {
		while (t < end) {
			codec_stamp(codec, msg, (uint32_t)seq, 0);
			const int64_t t0 = now_ns();
			delay_send(cfg);
			ep->send(ep, msg, codec->size);
			size_t n = ep->receive(ep, back, codec->size);
			t = now_ns();
			/* podbench batches samples because an HDR insert costs much in JS; here it is one
			 * increment, so the sample goes straight in (outside t0..t1 either way). */
			histogram_record(histogram, (uint64_t)(t - t0));
			enum verdict v = codec_verify(codec, back, n, (uint32_t)seq);
			if (v == VERDICT_OK)
				counts->bytes += n;
			else
				count_error(counts, v, seq);
			seq++;
			sent++;
		}
		counts->messages = sent;
	} else {
		/* One clock read per message, only to know when to stop. */
		while (t < end) {
			codec_stamp(codec, msg, (uint32_t)seq++, 0);
			delay_send(cfg);
			ep->send(ep, msg, codec->size);
			sent++;
			t = now_ns();
		}
	}
	out->sent = sent;
	out->duration_ns = t - start;

	codec_stamp(codec, msg, (uint32_t)seq, FLAG_END);
	ep->send(ep, msg, codec->size);
}

void run_responder(struct endpoint *ep, const struct codec *codec, const struct config *cfg,
		   struct responder_outcome *out)
{
	uint8_t *msg = alloc_prefaulted(codec->size);
	const bool echo = cfg->latency;
	struct counts *counts = &out->counts;
	uint64_t expected = 0;
	bool timing = false;
	int64_t first_at = 0, last_at = 0;

	for (;;) {
		size_t n = ep->receive(ep, msg, codec->size);
		uint32_t flags = message_flags(msg);
		if (flags & FLAG_END)
			break;
		/* Answer first, check after: the responder's verification is no part of the round trip. */
		if (echo) {
			delay_send(cfg);
			ep->send(ep, msg, codec->size);
		}
		enum verdict v = codec_verify(codec, msg, n, (uint32_t)expected);
		if (v != VERDICT_OK)
			count_error(counts, v, expected);
		/* Resynchronise on the sender's numbering so one lost message counts once, not forever. */
		expected = (uint64_t)message_sequence(msg) + 1;
		if (!(flags & FLAG_WARMUP)) {
			if (!timing) {
				timing = true;
				first_at = now_ns();
			}
			/* Latency mode reads no clock per message here: the initiator times the round trip. */
			if (!echo)
				last_at = now_ns();
			counts->messages++;
			if (v == VERDICT_OK)
				counts->bytes += n;
		}
	}
	out->span_ns = echo ? 0 : last_at - first_at;
}
