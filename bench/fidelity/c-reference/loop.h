/*
 * podbench-ref: the one measurement loop every channel runs through, as podbench's
 * agents/measure/loop.ts. Buffers, histogram and codec are made before timing; inside the timed
 * part there is no allocation, no output and no system call but the channel's own and the clock.
 *
 * A lossy channel (udp) runs the same loop with podbench's lossy steps: a round trip whose reply
 * does not come within the loss timeout is counted as lost, not recorded; replies and messages
 * are checked against their own sequence number and noted in an arrivals window (arrivals.h);
 * each message is counted once. Its last datagram, the end flag, may be lost too, so the end of
 * the case also travels outside the channel, as podbench's on its control connection: after the
 * end flag, the initiator writes the number of timed messages it sent to DIR/ref.end (to
 * DIR/ref.end.tmp, renamed), and a responder whose receive found nothing looks for that file.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PODBENCH_REF_LOOP_H
#define PODBENCH_REF_LOOP_H

#include <stdint.h>

#include "channel.h"
#include "histogram.h"
#include "message.h"

/* What the side that verifies messages saw. */
struct counts {
	uint64_t messages; /* timed messages received and verified */
	uint64_t bytes;    /* bytes of the timed messages that verified */
	uint64_t errors;   /* messages, warm-up included, that failed verification */
	char first_error[64];
};

struct initiator_outcome {
	struct counts counts;
	uint64_t sent;       /* timed messages sent (round trips in latency mode) */
	int64_t duration_ns; /* length of the timed part */
	/* A lossy channel in latency mode: round trips without a reply in time; how timed replies arrived. */
	uint64_t lost, reordered, duplicated;
};

struct responder_outcome {
	struct counts counts;
	int64_t span_ns; /* first to last timed message received (throughput mode only) */
	/*
	 * A lossy channel: the timed messages the initiator sent (DIR/ref.end), those of them that
	 * never arrived, and timed messages that arrived out of order or again (counts.messages
	 * counts each once).
	 */
	uint64_t sent, lost, reordered, duplicated;
};

/* Responder of a lossy channel, before the rendezvous: removes a stale DIR/ref.end, records it for cleanup. */
void prepare_end_file(const struct config *cfg);

/* Latency mode records round trips into `histogram`; throughput mode leaves it alone. */
void run_initiator(struct endpoint *ep, const struct codec *codec, const struct config *cfg,
		   struct histogram *histogram, struct initiator_outcome *out);
void run_responder(struct endpoint *ep, const struct codec *codec, const struct config *cfg,
		   struct responder_outcome *out);

#endif
