/*
 * podbench-ref: the interface every channel implements, as podbench's agents/channels/channel.ts.
 *
 * The responder *hosts* a channel (creates the kernel objects, listens) and writes what the
 * initiator needs to *join* it into the rendezvous line; both sides then hold an endpoint that
 * the one measurement loop drives. All calls block, each wait bounded by the peer timeout; a
 * channel that fails calls fail(), which removes what the responder created and exits.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PODBENCH_REF_CHANNEL_H
#define PODBENCH_REF_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct channel;

/* One case, as given on the command line. */
struct config {
	bool responder;
	const char *role;    /* "initiator" or "responder" */
	const char *peer;    /* the other one, for error messages */
	const struct channel *channel;
	bool latency;
	const char *mode;    /* "latency" or "throughput" */
	uint32_t size;
	long warmup_ms, duration_ms, peer_timeout_ms;
	/* Busy-wait before every send, to model a runtime's own cost per message (0: none). */
	long send_delay_ns;
	bool full_verify;
	const char *dir, *tmpfs_dir, *name;
};

/*
 * What a lossy channel's receive returns when nothing came within its loss timeout: the message
 * counts as lost. Other channels never return it; they fail after the peer timeout instead.
 */
#define RECEIVED_NOTHING ((size_t)-1)

/* One side of an open channel. Messages are whole: send writes all of one, receive reads one. */
struct endpoint {
	/* A lossy channel's send may drop the message (a loss like any other) and return. */
	void (*send)(struct endpoint *self, const uint8_t *message, size_t length);
	/* Receives one message into `into` (`length` bytes of room); returns its length, or RECEIVED_NOTHING. */
	size_t (*receive)(struct endpoint *self, uint8_t *into, size_t length);
	/* Writes the channel's facts (e.g. futex wake-ups) as JSON members ",\"k\":v"; may be NULL. */
	void (*print_details)(struct endpoint *self, FILE *out);
	void (*close)(struct endpoint *self);
};

/* Longest rendezvous line: the case, then the channel's own " key=value" parameters. */
#define PARAMS_MAX 512

struct channel {
	const char *id;
	/* Which variant of the implementation: socket family, spinning or not, which directory. */
	int variant;
	/*
	 * Whether messages may be lost, reordered or duplicated (datagrams without flow control):
	 * the loop then counts them instead of failing, and the end of a case also travels in
	 * DIR/ref.end, as podbench's on its control connection (loop.h).
	 */
	bool lossy;
	/* Writes why the case cannot run here (a kernel limit) and returns true; NULL: always runs. */
	bool (*skip)(const struct config *cfg, char *why, size_t why_size);
	/* Responder: creates the channel, records it for cleanup, appends " key=value" to params. */
	void (*host)(const struct config *cfg, char *params, size_t params_size);
	/* Responder, after the rendezvous: waits (bounded) for the initiator and returns its side. */
	struct endpoint *(*accept)(const struct config *cfg);
	/* Initiator: opens the channel the responder made. */
	struct endpoint *(*join)(const struct config *cfg, const char *params);
};

extern const struct channel tcp_channel, uds_channel, udp_channel, uds_dgram_channel, fifo_channel,
	file_channel, tmpfs_file_channel, shm_channel, shm_spin_channel, shm_sem_channel, mmap_channel,
	tmpfs_mmap_channel, tail_channel, tmpfs_tail_channel, mq_channel, sysv_mq_channel;

/* Appends " key=value" to a rendezvous line. */
void params_add(char *params, size_t size, const char *key, long value);

#endif
