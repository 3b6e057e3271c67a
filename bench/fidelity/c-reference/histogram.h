/*
 * podbench-ref: a latency histogram with the bucket layout of HdrHistogram at 3 significant
 * digits and a lowest discernible value of 1 ns — what podbench builds with hdr-histogram-js —
 * so percentiles come out of the same buckets and report the same value for them.
 *
 * Values 0..2047 are counted exactly; above that every power of two is split into 1024 equal
 * sub-buckets (a relative error below 0.1%). The counts cover every 64-bit value and are
 * allocated and touched before timing, so recording is a few instructions and never allocates.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PODBENCH_REF_HISTOGRAM_H
#define PODBENCH_REF_HISTOGRAM_H

#include <stdint.h>

#define HIST_SUB_BUCKET_HALF_MAGNITUDE 10 /* sub-bucket count 2048 = 2 * 10^3 rounded up to 2^11 */
#define HIST_SUB_BUCKET_HALF_COUNT (1u << HIST_SUB_BUCKET_HALF_MAGNITUDE)
#define HIST_SUB_BUCKET_MASK ((uint64_t)2 * HIST_SUB_BUCKET_HALF_COUNT - 1)

struct histogram {
	uint64_t *counts;
	uint64_t total;
	uint64_t min_nonzero; /* the raw values recorded, as hdr-histogram-js keeps them */
	uint64_t max;
};

void histogram_init(struct histogram *h);

static inline unsigned histogram_bucket(uint64_t value)
{
	/* Which power of two above the exactly counted range; 0 for values below 2048. */
	return 64 - HIST_SUB_BUCKET_HALF_MAGNITUDE - 1 - __builtin_clzll(value | HIST_SUB_BUCKET_MASK);
}

static inline void histogram_record(struct histogram *h, uint64_t value)
{
	unsigned bucket = histogram_bucket(value);
	uint64_t sub_bucket = value >> bucket;
	h->counts[((uint64_t)(bucket + 1) << HIST_SUB_BUCKET_HALF_MAGNITUDE) + sub_bucket - HIST_SUB_BUCKET_HALF_COUNT]++;
	h->total++;
	if (value > h->max)
		h->max = value;
	if (value != 0 && value < h->min_nonzero)
		h->min_nonzero = value;
}

/* The highest value of the bucket that holds the given percentile (0 < percentile <= 100). */
uint64_t histogram_percentile(const struct histogram *h, double percentile);
/* The mean of the bucket midpoints, as HdrHistogram computes it. */
double histogram_mean(const struct histogram *h);

#endif
