/*
 * podbench-ref: what arrived of a stream of numbered messages over a channel that may lose,
 * reorder or duplicate them (udp), as podbench's agents/measure/arrivals.ts. Each sequence number
 * is marked in a sliding window of the most recent ARRIVALS_WINDOW numbers, so an arrival is told
 * apart as new, out of order (a later message came first) or a duplicate. The window is part of
 * the struct, made before timing: nothing allocates per arrival.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PODBENCH_REF_ARRIVALS_H
#define PODBENCH_REF_ARRIVALS_H

#include <stdbool.h>
#include <stdint.h>

/* Sequence numbers remembered behind the highest one seen. */
#define ARRIVALS_WINDOW (1L << 16)

struct arrivals {
	uint32_t seen[ARRIVALS_WINDOW / 32];
	int64_t highest;     /* -1 before the first arrival */
	uint64_t unique;     /* distinct messages that arrived */
	uint64_t reordered;  /* arrivals of a message after one sent later (once per message) */
	uint64_t duplicated; /* arrivals of a message already seen */
};

void arrivals_init(struct arrivals *a);
/* Notes the arrival of message `seq`; returns whether it is its first arrival. */
bool arrivals_note(struct arrivals *a, uint32_t seq);

#endif
