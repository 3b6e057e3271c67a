/*
 * podbench-ref: `fifo`, as podbench's agents/channels/fifo.ts. Two named pipes in --dir, one each
 * way (DIR/ref.i2r.fifo initiator → responder, DIR/ref.r2i.fifo back), carry fixed-size messages
 * as a byte stream: one write() and one read() per message while the pipe keeps up.
 *
 * The descriptors are non-blocking and a call that would block waits in poll(), bounded by the
 * peer timeout, because that is what podbench does (a pipe has no SO_RCVTIMEO, and Node restarts
 * a blocking read after its signal handlers); an event loop (libuv, Go's netpoller) reads a pipe
 * the same way.
 *
 * Opening cannot deadlock, whichever side comes first: each side opens its read end first
 * (O_NONBLOCK: at once, without a writer), then its write end, which fails with ENXIO until the
 * peer's read end is open and is retried every millisecond until then. A read before the peer
 * has opened its write end returns 0 and waits in poll(), which reports a hang-up only once a
 * writer has come and gone: then the peer has closed.
 *
 * Each pipe is raised (F_SETPIPE_SZ) to hold two whole messages, or at least one, where the
 * kernel allows, so a message up to that size needs one write; a larger one moves in pieces,
 * each message still whole before the next.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE /* F_GETPIPE_SZ, F_SETPIPE_SZ */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "common.h"

/* Between tries to open a write end while the peer has not opened its read end yet. */
#define OPEN_RETRY_NS 1000000
/* What Linux gives a new pipe. */
#define DEFAULT_PIPE_BYTES 65536L

struct pipe_endpoint {
	struct endpoint base;
	const struct config *cfg;
	int read_fd, write_fd;
	long pipe_bytes_out, pipe_bytes_in;
	uint64_t poll_waits, slow_paths;
};

/* DIR/ref.i2r.fifo carries initiator → responder, DIR/ref.r2i.fifo responder → initiator. */
static char to_responder[PATH_MAX], to_initiator[PATH_MAX];

static void make_paths(const struct config *cfg)
{
	if (snprintf(to_responder, sizeof to_responder, "%s/ref.i2r.fifo", cfg->dir) >= (int)sizeof to_responder ||
	    snprintf(to_initiator, sizeof to_initiator, "%s/ref.r2i.fifo", cfg->dir) >= (int)sizeof to_initiator)
		fail_with(EXIT_USAGE, "--dir is too long");
}

/* The smallest pipe capacity that holds `bytes`: the kernel rounds up to a power of two pages. */
static long pipe_bytes_for(long bytes)
{
	long capacity = DEFAULT_PIPE_BYTES;
	while (capacity < bytes)
		capacity *= 2;
	return capacity;
}

/*
 * Raises the pipe behind `fd` to hold two messages (one being read while the next is written),
 * else one, where the kernel lets this process (EPERM above fs.pipe-max-size without
 * CAP_SYS_RESOURCE, or above the user's pipe pages); returns its capacity.
 */
static long raise_pipe(int fd, uint32_t size)
{
	const long current = fcntl(fd, F_GETPIPE_SZ);
	if (current < 0)
		fail_call("fcntl", "F_GETPIPE_SZ", errno);
	const long wanted[] = { pipe_bytes_for(2L * size), pipe_bytes_for(size) };
	for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++) {
		if (current >= wanted[i])
			return current;
		long raised = fcntl(fd, F_SETPIPE_SZ, (int)wanted[i]);
		if (raised > 0)
			return raised;
	}
	return current;
}

/* Waits in poll() for `events` on `fd`, bounded by the peer timeout. */
static void wait_ready(struct pipe_endpoint *p, int fd, short events)
{
	const struct config *cfg = p->cfg;
	struct pollfd pfd = { .fd = fd, .events = events };
	p->poll_waits++;
	int ready = poll(&pfd, 1, (int)cfg->peer_timeout_ms);
	if (ready == 0)
		fail("the %s did not %s within %ld ms (named pipe)", cfg->peer, events == POLLIN ? "send" : "read",
		     cfg->peer_timeout_ms);
	if (ready < 0 && errno != EINTR)
		fail_call("poll", NULL, errno);
	/* A hang-up with nothing left to read: a writer came and went. */
	if (events == POLLIN && pfd.revents != 0 && !(pfd.revents & POLLIN))
		fail("the %s closed its end of the pipe", cfg->peer);
}

/*
 * The slow paths after a first write or read that returned `first`: part of the message (a
 * message larger than the pipe, or a reader that took what was there), nothing (EAGAIN, or a
 * read of 0 while no writer is open: wait in poll), or a failure. Each moves the rest; a
 * message is whole before the next one starts.
 */
static void write_rest(struct pipe_endpoint *p, const uint8_t *message, size_t length, ssize_t first)
{
	size_t done = 0;
	p->slow_paths++;
	for (ssize_t result = first;; result = write(p->write_fd, message + done, length - done)) {
		if (result > 0) {
			done += (size_t)result;
			if (done == length)
				return;
		} else if (result < 0) {
			if (errno == EAGAIN)
				wait_ready(p, p->write_fd, POLLOUT);
			else if (errno == EPIPE)
				fail("the %s closed its end of the pipe", p->cfg->peer);
			else if (errno != EINTR)
				fail_call("write", NULL, errno);
		}
	}
}

static void read_rest(struct pipe_endpoint *p, uint8_t *into, size_t length, ssize_t first)
{
	size_t done = 0;
	p->slow_paths++;
	for (ssize_t result = first;; result = read(p->read_fd, into + done, length - done)) {
		if (result > 0) {
			done += (size_t)result;
			if (done == length)
				return;
		} else if (result == 0 || errno == EAGAIN) {
			wait_ready(p, p->read_fd, POLLIN);
		} else if (errno != EINTR) {
			fail_call("read", NULL, errno);
		}
	}
}

static void pipe_send(struct endpoint *self, const uint8_t *message, size_t length)
{
	struct pipe_endpoint *p = (struct pipe_endpoint *)self;
	ssize_t first = write(p->write_fd, message, length);
	if (first != (ssize_t)length)
		write_rest(p, message, length, first);
}

static size_t pipe_receive(struct endpoint *self, uint8_t *into, size_t length)
{
	struct pipe_endpoint *p = (struct pipe_endpoint *)self;
	ssize_t first = read(p->read_fd, into, length);
	if (first != (ssize_t)length)
		read_rest(p, into, length, first);
	return length;
}

static void pipe_details(struct endpoint *self, FILE *out)
{
	struct pipe_endpoint *p = (struct pipe_endpoint *)self;
	fprintf(out, ",\"pipeBytesOut\":%ld,\"pipeBytesIn\":%ld,\"pollWaits\":%llu,\"slowPaths\":%llu",
		p->pipe_bytes_out, p->pipe_bytes_in, (unsigned long long)p->poll_waits,
		(unsigned long long)p->slow_paths);
}

static void pipe_close(struct endpoint *self)
{
	struct pipe_endpoint *p = (struct pipe_endpoint *)self;
	if (p->read_fd >= 0) {
		close(p->read_fd);
		close(p->write_fd);
	}
	p->read_fd = p->write_fd = -1;
}

/* Opens the write end of `path` once the peer has its read end open (ENXIO until then), bounded. */
static int open_write_end(const struct config *cfg, const char *path)
{
	const int64_t deadline = now_ns() + cfg->peer_timeout_ms * 1000000;
	for (;;) {
		int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0)
			return fd;
		if (errno != ENXIO)
			fail_call("open", path, errno);
		if (now_ns() > deadline)
			fail("the %s did not open the named pipe %s within %ld ms", cfg->peer, path, cfg->peer_timeout_ms);
		nanosleep(&(struct timespec){ .tv_nsec = OPEN_RETRY_NS }, NULL);
	}
}

/* Opens this side's two ends, read end first (see the top of the file), and makes its endpoint. */
static struct endpoint *open_side(const struct config *cfg, const char *read_path, const char *write_path)
{
	static struct pipe_endpoint p;
	/* A write to a pipe whose reader has gone must return EPIPE, not kill us (Node ignores it too). */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		fail_call("signal", "SIGPIPE", errno);
	int read_fd = open(read_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (read_fd < 0)
		fail_call("open", read_path, errno);
	int write_fd = open_write_end(cfg, write_path);
	p = (struct pipe_endpoint){
		.base = { .send = pipe_send, .receive = pipe_receive, .print_details = pipe_details, .close = pipe_close },
		.cfg = cfg,
		.read_fd = read_fd,
		.write_fd = write_fd,
		.pipe_bytes_out = raise_pipe(write_fd, cfg->size),
		.pipe_bytes_in = raise_pipe(read_fd, cfg->size),
	};
	return &p.base;
}

static void fifo_host(const struct config *cfg, char *params, size_t params_size)
{
	(void)params, (void)params_size; /* the initiator derives the paths from --dir */
	make_paths(cfg);
	const char *paths[] = { to_responder, to_initiator };
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		unlink(paths[i]); /* a stale pipe from an earlier case */
		cleanup_file(paths[i]);
		if (mkfifo(paths[i], 0600) != 0)
			fail_call("mkfifo", paths[i], errno);
	}
}

static struct endpoint *fifo_accept(const struct config *cfg)
{
	return open_side(cfg, to_responder, to_initiator);
}

static struct endpoint *fifo_join(const struct config *cfg, const char *params)
{
	(void)params;
	make_paths(cfg);
	return open_side(cfg, to_initiator, to_responder);
}

const struct channel fifo_channel = {
	.id = "fifo", .host = fifo_host, .accept = fifo_accept, .join = fifo_join,
};
