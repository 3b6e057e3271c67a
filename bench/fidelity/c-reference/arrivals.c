/*
 * podbench-ref: arrivals of numbered messages (see arrivals.h), statement for statement as
 * arrivals.ts.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "arrivals.h"

#include <string.h>

#define MASK (ARRIVALS_WINDOW - 1)

static void mark(struct arrivals *a, int64_t seq)
{
	a->seen[(seq & MASK) >> 5] |= 1u << (seq & 31);
}

static void clear(struct arrivals *a, int64_t seq)
{
	a->seen[(seq & MASK) >> 5] &= ~(1u << (seq & 31));
}

void arrivals_init(struct arrivals *a)
{
	memset(a, 0, sizeof *a);
	a->highest = -1;
}

bool arrivals_note(struct arrivals *a, uint32_t seq32)
{
	const int64_t seq = seq32;
	if (a->highest < 0) {
		/* The first arrival: the window is still all clear, nothing to forget (no sweep in a timed round trip). */
		a->highest = seq;
		mark(a, seq);
		a->unique++;
		return true;
	}
	if (seq > a->highest) {
		/* Numbers entering the window forget what the numbers ARRIVALS_WINDOW before them left. */
		const int64_t from = a->highest + 1 > seq - MASK ? a->highest + 1 : seq - MASK;
		for (int64_t s = from; s < seq; s++)
			clear(a, s);
		a->highest = seq;
		mark(a, seq);
		a->unique++;
		return true;
	}
	if (seq <= a->highest - ARRIVALS_WINDOW) {
		/* Too old to tell: counted as out of order, the likelier of the two. */
		a->reordered++;
		a->unique++;
		return true;
	}
	uint32_t *word = &a->seen[(seq & MASK) >> 5];
	const uint32_t bit = 1u << (seq & 31);
	if (*word & bit) {
		a->duplicated++;
		return false;
	}
	*word |= bit;
	a->reordered++;
	a->unique++;
	return true;
}
