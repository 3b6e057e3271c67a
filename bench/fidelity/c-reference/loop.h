/*
 * podbench-ref: the one measurement loop every channel runs through, as podbench's
 * agents/measure/loop.ts. Buffers, histogram and codec are made before timing; inside the timed
 * part there is no allocation, no output and no system call but the channel's own and the clock.
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
};

struct responder_outcome {
	struct counts counts;
	int64_t span_ns; /* first to last timed message received (throughput mode only) */
};

/* Latency mode records round trips into `histogram`; throughput mode leaves it alone. */
void run_initiator(struct endpoint *ep, const struct codec *codec, const struct config *cfg,
		   struct histogram *histogram, struct initiator_outcome *out);
void run_responder(struct endpoint *ep, const struct codec *codec, const struct config *cfg,
		   struct responder_outcome *out);

#endif
