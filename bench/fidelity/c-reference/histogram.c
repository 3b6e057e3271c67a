/*
 * podbench-ref: latency histogram (see histogram.h). The percentile and mean arithmetic follows
 * hdr-histogram-js's JsHistogram step by step, including its floating-point rounding.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "histogram.h"

#include <stddef.h>
#include <string.h>

#include "common.h"

/* Bucket 0 has 2048 slots, buckets 1..53 have 1024 each: every uint64_t value has a slot. */
#define HIST_BUCKETS (64 - HIST_SUB_BUCKET_HALF_MAGNITUDE)
#define HIST_SLOTS (((size_t)HIST_BUCKETS + 1) * HIST_SUB_BUCKET_HALF_COUNT)

void histogram_init(struct histogram *h)
{
	h->counts = alloc_prefaulted(HIST_SLOTS * sizeof *h->counts);
	h->total = 0;
	h->min_nonzero = UINT64_MAX;
	h->max = 0;
}

/* The lowest value that lands in slot `index`, and the width of that slot. */
static uint64_t slot_value(size_t index, uint64_t *width)
{
	int64_t bucket = (int64_t)(index / HIST_SUB_BUCKET_HALF_COUNT) - 1;
	uint64_t sub_bucket = index % HIST_SUB_BUCKET_HALF_COUNT + HIST_SUB_BUCKET_HALF_COUNT;
	if (bucket < 0) {
		sub_bucket -= HIST_SUB_BUCKET_HALF_COUNT;
		bucket = 0;
	}
	*width = (uint64_t)1 << bucket;
	return sub_bucket << bucket;
}

/* ulp.ts: 2^(floor(log2 x) - 52), read off the exponent bits instead of calling libm. */
static double ulp(double x)
{
	uint64_t bits;
	if (x <= 0)
		return 0;
	memcpy(&bits, &x, sizeof bits);
	bits = (bits & 0x7ff0000000000000ull) - (52ull << 52);
	memcpy(&x, &bits, sizeof x);
	return x;
}

uint64_t histogram_percentile(const struct histogram *h, double percentile)
{
	/* Round the count up, forgiving one ulp of error in the product (JsHistogram does this). */
	double fp_count = (percentile < 100 ? percentile : 100) / 100.0 * (double)h->total;
	double wanted = fp_count - ulp(fp_count);
	uint64_t count_at_percentile = (uint64_t)wanted;
	if ((double)count_at_percentile < wanted)
		count_at_percentile++;
	if (count_at_percentile < 1)
		count_at_percentile = 1;

	uint64_t seen = 0;
	for (size_t i = 0; i < HIST_SLOTS; i++) {
		seen += h->counts[i];
		if (seen >= count_at_percentile) {
			uint64_t width;
			uint64_t lowest = slot_value(i, &width);
			return lowest + width - 1;
		}
	}
	return 0;
}

double histogram_mean(const struct histogram *h)
{
	if (h->total == 0)
		return 0;
	double sum = 0;
	for (size_t i = 0; i < HIST_SLOTS; i++) {
		if (h->counts[i] == 0)
			continue;
		uint64_t width;
		uint64_t lowest = slot_value(i, &width);
		sum += (double)(lowest + width / 2) * (double)h->counts[i];
	}
	return sum / (double)h->total;
}
