/*
 * podbench-ref: the measurement loop (see loop.h), statement for statement as loop.ts: the
 * message is stamped before t0 and verified after t1, so the round trip holds the channel alone.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "arrivals.h"
#include "common.h"

/* How often a responder that has left its loop looks for DIR/ref.end. */
#define END_POLL_NS 1000000

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

/* --- lossy channels --------------------------------------------------------------------------- */

/* DIR/ref.end and DIR/ref.end.tmp, where the initiator of a lossy channel says it has finished. */
static void end_paths(const struct config *cfg, char *end, char *staging)
{
	if (snprintf(end, PATH_MAX, "%s/ref.end", cfg->dir) >= PATH_MAX ||
	    snprintf(staging, PATH_MAX, "%s/ref.end.tmp", cfg->dir) >= PATH_MAX)
		fail_with(EXIT_USAGE, "--dir is too long");
}

void prepare_end_file(const struct config *cfg)
{
	char end[PATH_MAX], staging[PATH_MAX];
	end_paths(cfg, end, staging);
	/* A stale one from an earlier case in the same directory would end this one at once. */
	unlink(end);
	unlink(staging);
	cleanup_file(end);
	cleanup_file(staging);
}

/* Initiator, after the end flag: writes the timed messages sent, atomically (a rename). */
static void publish_end(const struct config *cfg, uint64_t sent)
{
	char end[PATH_MAX], staging[PATH_MAX], line[32];
	end_paths(cfg, end, staging);
	int length = snprintf(line, sizeof line, "%llu\n", (unsigned long long)sent);
	int fd = open(staging, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		fail_call("open", staging, errno);
	if (write(fd, line, (size_t)length) != length)
		fail_call("write", staging, errno);
	close(fd);
	if (rename(staging, end) != 0)
		fail_call("rename", end, errno);
}

/*
 * Responder, once out of its loop: the timed messages the initiator sent, from DIR/ref.end. The
 * initiator writes it just after the end flag, so this waits (bounded by the peer timeout) when
 * the end flag came first.
 */
static uint64_t await_end(const struct config *cfg)
{
	char end[PATH_MAX], staging[PATH_MAX], line[32];
	end_paths(cfg, end, staging);
	const int64_t deadline = now_ns() + cfg->peer_timeout_ms * 1000000;
	for (;;) {
		int fd = open(end, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t n = read(fd, line, sizeof line - 1);
			close(fd);
			char *rest;
			line[n > 0 ? n : 0] = '\0';
			unsigned long long sent = strtoull(line, &rest, 10);
			if (n <= 0 || rest == line || *rest != '\n')
				fail("%s does not hold a message count", end);
			return sent;
		}
		if (errno != ENOENT)
			fail_call("open", end, errno);
		if (now_ns() >= deadline)
			fail("the %s did not write %s within %ld ms", cfg->peer, end, cfg->peer_timeout_ms);
		nanosleep(&(struct timespec){ .tv_nsec = END_POLL_NS }, NULL);
	}
}

/*
 * Waits for the reply to message `seq` over a lossy channel: replies to earlier messages (late,
 * or duplicated) are verified against their own number and passed over. Timed replies are noted
 * in `arrivals` (NULL in the warm-up). Returns the reply's length, or RECEIVED_NOTHING when a
 * receive found nothing within the loss timeout.
 */
static size_t reply_to(struct endpoint *ep, const struct codec *codec, uint8_t *back, uint64_t seq,
		       struct arrivals *arrivals, struct counts *counts)
{
	for (;;) {
		size_t n = ep->receive(ep, back, codec->size);
		if (n == RECEIVED_NOTHING)
			return n;
		const uint32_t got = message_sequence(back);
		if (arrivals && !(message_flags(back) & FLAG_WARMUP))
			arrivals_note(arrivals, got);
		if (got == (uint32_t)seq)
			return n;
		enum verdict v = codec_verify(codec, back, n, got);
		if (v != VERDICT_OK)
			count_error(counts, v, got);
	}
}

/* One untimed round trip over a lossy channel: as round_trip(), but the reply may not come. */
static void lossy_round_trip(struct endpoint *ep, const struct codec *codec, const struct config *cfg, uint8_t *out,
			     uint8_t *back, uint64_t seq, struct counts *counts)
{
	codec_stamp(codec, out, (uint32_t)seq, FLAG_WARMUP);
	delay_send(cfg);
	ep->send(ep, out, codec->size);
	size_t n = reply_to(ep, codec, back, seq, NULL, counts);
	if (n == RECEIVED_NOTHING)
		return;
	enum verdict v = codec_verify(codec, back, n, (uint32_t)seq);
	if (v != VERDICT_OK)
		count_error(counts, v, seq);
}

/*
 * The timed round trips over a lossy channel, from `*seq` until the clock passes `end`: a round
 * trip whose reply does not come in time is counted as lost and not recorded. Returns the last
 * clock reading.
 */
static int64_t lossy_round_trips(struct endpoint *ep, const struct codec *codec, const struct config *cfg,
				 uint8_t *msg, uint8_t *back, struct histogram *histogram, struct arrivals *arrivals,
				 uint64_t *seq_io, int64_t end, struct initiator_outcome *out)
{
	struct counts *counts = &out->counts;
	uint64_t seq = *seq_io, sent = 0, lost = 0;
	int64_t t = now_ns();
	while (t < end) {
		codec_stamp(codec, msg, (uint32_t)seq, 0);
		const int64_t t0 = now_ns();
		delay_send(cfg);
		ep->send(ep, msg, codec->size);
		size_t n = reply_to(ep, codec, back, seq, arrivals, counts);
		t = now_ns();
		if (n != RECEIVED_NOTHING) {
			histogram_record(histogram, (uint64_t)(t - t0));
			enum verdict v = codec_verify(codec, back, n, (uint32_t)seq);
			if (v == VERDICT_OK)
				counts->bytes += n;
			else
				count_error(counts, v, seq);
		} else {
			lost++;
		}
		seq++;
		sent++;
	}
	*seq_io = seq;
	out->sent = sent;
	out->lost = lost;
	counts->messages = sent - lost;
	return t;
}

/* --- the loops -------------------------------------------------------------------------------- */

void run_initiator(struct endpoint *ep, const struct codec *codec, const struct config *cfg,
		   struct histogram *histogram, struct initiator_outcome *out)
{
	uint8_t *msg = alloc_prefaulted(codec->size);
	uint8_t *back = alloc_prefaulted(codec->size);
	codec_fill(codec, msg);
	struct counts *counts = &out->counts;
	uint64_t seq = 0; /* the header holds its low 32 bits, as in podbench */
	const bool lossy = cfg->channel->lossy;
	struct arrivals *arrivals = lossy ? alloc_prefaulted(sizeof *arrivals) : NULL;
	if (arrivals)
		arrivals_init(arrivals);

	const int64_t warmup_end = now_ns() + cfg->warmup_ms * 1000000;
	while (now_ns() < warmup_end) {
		if (cfg->latency && lossy) {
			lossy_round_trip(ep, codec, cfg, msg, back, seq++, counts);
		} else if (cfg->latency) {
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
	if (cfg->latency && lossy) {
		t = lossy_round_trips(ep, codec, cfg, msg, back, histogram, arrivals, &seq, end, out);
		sent = out->sent;
	} else if (cfg->latency) {
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
	if (lossy) {
		publish_end(cfg, sent);
		out->reordered = arrivals->reordered;
		out->duplicated = arrivals->duplicated;
	}
}

/*
 * The responder's loop over a lossy channel: as the plain one, but a receive that finds nothing in
 * time looks for DIR/ref.end, and each datagram is checked against its own number and counted
 * once (the arrivals say what came out of order or again).
 */
static void serve_lossy(struct endpoint *ep, const struct codec *codec, const struct config *cfg,
			struct responder_outcome *out)
{
	uint8_t *msg = alloc_prefaulted(codec->size);
	struct arrivals *arrivals = alloc_prefaulted(sizeof *arrivals);
	arrivals_init(arrivals);
	char end[PATH_MAX], staging[PATH_MAX];
	end_paths(cfg, end, staging);
	const bool echo = cfg->latency;
	struct counts *counts = &out->counts;
	uint64_t expected = 0;
	bool timing = false;
	int64_t first_at = 0, last_at = 0;

	for (;;) {
		size_t n = ep->receive(ep, msg, codec->size);
		if (n == RECEIVED_NOTHING) {
			/* The end flag may have been lost: the file says whether the initiator has finished. */
			if (access(end, F_OK) == 0)
				break;
			continue;
		}
		uint32_t flags = message_flags(msg);
		if (flags & FLAG_END)
			break;
		if (echo) {
			delay_send(cfg);
			ep->send(ep, msg, codec->size);
		}
		/* A datagram may come out of order or twice: it is checked against its own number. */
		const uint32_t seq = message_sequence(msg);
		enum verdict v = codec_verify(codec, msg, n, seq);
		if (v != VERDICT_OK)
			count_error(counts, v, expected);
		/* As in the plain loop, a failure is named after the number expected; resynchronise on this one. */
		expected = (uint64_t)seq + 1;
		if ((flags & FLAG_WARMUP) || !arrivals_note(arrivals, seq))
			continue;
		if (!timing) {
			timing = true;
			first_at = now_ns();
		}
		if (!echo)
			last_at = now_ns();
		counts->messages++;
		if (v == VERDICT_OK)
			counts->bytes += n;
	}
	out->span_ns = echo ? 0 : last_at - first_at;
	/* Outside the timed part: also lets the initiator's file be written before cleanup removes it. */
	out->sent = await_end(cfg);
	out->lost = out->sent > counts->messages ? out->sent - counts->messages : 0;
	out->reordered = arrivals->reordered;
	out->duplicated = arrivals->duplicated;
}

void run_responder(struct endpoint *ep, const struct codec *codec, const struct config *cfg,
		   struct responder_outcome *out)
{
	if (cfg->channel->lossy) {
		serve_lossy(ep, codec, cfg, out);
		return;
	}
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
