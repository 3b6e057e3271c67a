/*
 * podbench-ref: `uds-dgram`, as podbench's agents/channels/unix-dgram.ts. Two Unix datagram
 * sockets with their files in --dir (DIR/ref.r.dgram the responder's, DIR/ref.i.dgram the
 * initiator's): the responder's bound and not connected, the initiator's connected to it (the
 * DogStatsD and syslog pattern). A message is one datagram: boundaries are kept, nothing is lost,
 * and the initiator blocks while the responder's queue holds net.unix.max_dgram_qlen datagrams
 * (SO_SNDTIMEO bounds the wait). The kernel applies that limit only to a sender whose receiver is
 * not connected back to it, so the responder answers with sendto(). One send() or sendto() and
 * one recv() per message.
 *
 * Meeting: the responder binds its socket; the initiator binds its own, connects to the
 * responder's and sends an empty datagram, which tells the responder it is there. Each side
 * removes its own socket file when it closes.
 *
 * A datagram must fit the sender's buffer (the kernel refuses one larger than SO_SNDBUF with
 * EMSGSIZE), so SO_SNDBUF is raised to hold a queue of messages, up to net.core.wmem_max, and a
 * size the socket still refuses is skipped with that as the reason — found by sending one.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "channel.h"
#include "common.h"

/* What the kernel charges per datagram beyond its bytes (sk_buff and its accounting), roughly. */
#define PER_DATAGRAM_OVERHEAD_BYTES 1024L
/* The kernel's default max_dgram_qlen, when the sysctl cannot be read. */
#define DEFAULT_QLEN 10L

struct dgram_endpoint {
	struct endpoint base;
	const struct config *cfg;
	int fd;
	const char *own_path;
	/* Where the unconnected responder sends; NULL for the connected initiator. */
	const struct sockaddr_un *to;
	int send_buffer_bytes; /* read when the endpoint is made: print_details runs after close */
};

static struct sockaddr_un responder_addr, initiator_addr;
/* The responder's socket, bound in host(); one process runs one case. */
static int hosted_fd = -1;

/* DIR/ref.<r|i>.dgram; false when it does not fit the 107 bytes of path the kernel allows. */
static bool address_for(const struct config *cfg, const char *side, struct sockaddr_un *addr)
{
	*addr = (struct sockaddr_un){ .sun_family = AF_UNIX };
	int n = snprintf(addr->sun_path, sizeof addr->sun_path, "%s/ref.%s.dgram", cfg->dir, side);
	return n >= 0 && (size_t)n < sizeof addr->sun_path;
}

static void make_addresses(const struct config *cfg)
{
	if (!address_for(cfg, "r", &responder_addr) || !address_for(cfg, "i", &initiator_addr))
		fail("the Unix socket path %s/ref.r.dgram is longer than the %zu bytes the kernel allows; use a shorter --dir",
		     cfg->dir, sizeof responder_addr.sun_path - 1);
}

/* The SO_SNDBUF asked for: a full receive queue of messages plus one, within net.core.wmem_max. */
static int wanted_send_buffer(const struct config *cfg)
{
	long qlen = read_proc_number("/proc/sys/net/unix/max_dgram_qlen");
	long wmem_max = read_proc_number("/proc/sys/net/core/wmem_max");
	if (qlen < 0)
		qlen = DEFAULT_QLEN;
	long wanted = (qlen + 1) * (cfg->size + PER_DATAGRAM_OVERHEAD_BYTES);
	if (wmem_max >= 0 && wanted > wmem_max)
		wanted = wmem_max;
	return wanted > INT_MAX ? INT_MAX : (int)wanted;
}

static void set_option(int fd, int name, const void *value, socklen_t size, const char *label)
{
	if (setsockopt(fd, SOL_SOCKET, name, value, size) != 0)
		fail_call("setsockopt", label, errno);
}

static int send_buffer_of(int fd)
{
	int bytes = 0;
	socklen_t len = sizeof bytes;
	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, &len) != 0)
		fail_call("getsockopt", "SO_SNDBUF", errno);
	return bytes;
}

static _Noreturn void dgram_failed(const struct dgram_endpoint *d, const char *call, int err)
{
	const struct config *cfg = d->cfg;
	if (err == ECONNREFUSED || err == ECONNRESET || err == EPIPE || err == ENOENT /* the peer's file is gone */)
		fail("the %s closed its datagram socket", cfg->peer);
	if (err == EAGAIN)
		fail("the %s did not %s within %ld ms (Unix datagram socket)", cfg->peer,
		     strcmp(call, "send") == 0 ? "read" : "send", cfg->peer_timeout_ms);
	if (err == 0)
		fail("%s moved part of a datagram", call);
	fail_call(call, NULL, err);
}

/* The unconnected responder sends to the initiator's address; the connected initiator just sends. */
static ssize_t send_once(const struct dgram_endpoint *d, const uint8_t *message, size_t length)
{
	if (d->to)
		return sendto(d->fd, message, length, MSG_NOSIGNAL, (const struct sockaddr *)d->to, sizeof *d->to);
	return send(d->fd, message, length, MSG_NOSIGNAL);
}

/* SO_SNDTIMEO/SO_RCVTIMEO bound a blocked call; EINTR (a signal) is simply retried. */
static void dgram_send(struct endpoint *self, const uint8_t *message, size_t length)
{
	struct dgram_endpoint *d = (struct dgram_endpoint *)self;
	ssize_t sent = send_once(d, message, length);
	while (sent < 0 && errno == EINTR)
		sent = send_once(d, message, length);
	if (sent != (ssize_t)length)
		dgram_failed(d, "send", sent < 0 ? errno : 0);
}

static size_t dgram_receive(struct endpoint *self, uint8_t *into, size_t length)
{
	struct dgram_endpoint *d = (struct dgram_endpoint *)self;
	ssize_t got = recv(d->fd, into, length, 0);
	while (got < 0 && errno == EINTR)
		got = recv(d->fd, into, length, 0);
	if (got < 0)
		dgram_failed(d, "recv", errno);
	return (size_t)got; /* a datagram of another length fails verification */
}

static void dgram_details(struct endpoint *self, FILE *out)
{
	struct dgram_endpoint *d = (struct dgram_endpoint *)self;
	fprintf(out, ",\"sendBufferBytes\":%d", d->send_buffer_bytes);
}

static void dgram_close(struct endpoint *self)
{
	struct dgram_endpoint *d = (struct dgram_endpoint *)self;
	if (d->fd < 0)
		return;
	close(d->fd);
	unlink(d->own_path); /* the initiator's own cleanup: it runs no cleanup_run() on success */
	d->fd = -1;
}

static struct endpoint *endpoint_on(int fd, const char *own_path, const struct sockaddr_un *to,
				    const struct config *cfg)
{
	static struct dgram_endpoint d;
	d = (struct dgram_endpoint){
		.base = { .send = dgram_send, .receive = dgram_receive, .print_details = dgram_details, .close = dgram_close },
		.cfg = cfg,
		.fd = fd,
		.own_path = own_path,
		.to = to,
		.send_buffer_bytes = send_buffer_of(fd),
	};
	return &d.base;
}

/* A datagram socket with the case's send buffer and the peer timeout on its calls. */
static int new_socket(const struct config *cfg)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fail_call("socket", NULL, errno);
	int bytes = wanted_send_buffer(cfg);
	set_option(fd, SO_SNDBUF, &bytes, sizeof bytes, "SO_SNDBUF");
	struct timeval tv = { .tv_sec = cfg->peer_timeout_ms / 1000, .tv_usec = cfg->peer_timeout_ms % 1000 * 1000 };
	set_option(fd, SO_RCVTIMEO, &tv, sizeof tv, "SO_RCVTIMEO");
	set_option(fd, SO_SNDTIMEO, &tv, sizeof tv, "SO_SNDTIMEO");
	return fd;
}

static void bind_to(int fd, const struct sockaddr_un *addr)
{
	unlink(addr->sun_path); /* a stale socket file from an earlier case */
	cleanup_file(addr->sun_path);
	if (bind(fd, (const struct sockaddr *)addr, sizeof *addr) != 0)
		fail_call("bind", addr->sun_path, errno);
}

static void connect_to(int fd, const struct sockaddr_un *addr)
{
	if (connect(fd, (const struct sockaddr *)addr, sizeof *addr) != 0)
		fail_call("connect", addr->sun_path, errno);
}

/*
 * Whether this host's sockets take a datagram of the case's size: a socket pair with the case's
 * send buffer sends one, without waiting. Also, as podbench, whether the socket paths fit.
 */
static bool dgram_skip(const struct config *cfg, char *why, size_t why_size)
{
	struct sockaddr_un addr;
	if (!address_for(cfg, "r", &addr) || !address_for(cfg, "i", &addr)) {
		snprintf(why, why_size, "the socket path in the shared directory %s is %zu bytes, over the %zu the kernel "
			 "allows for a Unix socket; use a shorter --dir", cfg->dir, strlen(cfg->dir) + strlen("/ref.r.dgram"),
			 sizeof addr.sun_path - 1);
		return true;
	}
	int pair[2];
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair) != 0)
		fail_call("socketpair", NULL, errno);
	int bytes = wanted_send_buffer(cfg);
	set_option(pair[0], SO_SNDBUF, &bytes, sizeof bytes, "SO_SNDBUF");
	uint8_t *probe = calloc(1, cfg->size);
	if (!probe)
		fail("out of memory for a %u-byte probe datagram", cfg->size);
	ssize_t sent = send(pair[0], probe, cfg->size, MSG_DONTWAIT | MSG_NOSIGNAL);
	int err = errno;
	free(probe);
	bool skip = sent != (ssize_t)cfg->size;
	if (skip) {
		if (err != EMSGSIZE && err != ENOBUFS)
			fail_call("send", "probe datagram", err);
		long wmem_max = read_proc_number("/proc/sys/net/core/wmem_max");
		char wmem[32] = "unknown";
		if (wmem_max >= 0)
			snprintf(wmem, sizeof wmem, "%ld", wmem_max);
		snprintf(why, why_size,
			 "a Unix datagram of %u bytes does not fit the socket's %d-byte send buffer "
			 "(net.core.wmem_max is %s; raising it on the node allows larger ones)",
			 cfg->size, send_buffer_of(pair[0]), wmem);
	}
	close(pair[0]);
	close(pair[1]);
	return skip;
}

static void dgram_host(const struct config *cfg, char *params, size_t params_size)
{
	(void)params, (void)params_size; /* the initiator derives both paths from --dir */
	make_addresses(cfg);
	hosted_fd = new_socket(cfg);
	bind_to(hosted_fd, &responder_addr);
}

static struct endpoint *dgram_accept(const struct config *cfg)
{
	struct pollfd pfd = { .fd = hosted_fd, .events = POLLIN };
	int ready = poll(&pfd, 1, (int)cfg->peer_timeout_ms);
	if (ready < 0)
		fail_call("poll", NULL, errno);
	if (ready == 0)
		fail("the initiator did not send to the datagram socket within %ld ms", cfg->peer_timeout_ms);
	uint8_t hello[1];
	if (recv(hosted_fd, hello, sizeof hello, 0) < 0)
		fail_call("recv", "hello", errno);
	return endpoint_on(hosted_fd, responder_addr.sun_path, &initiator_addr, cfg);
}

static struct endpoint *dgram_join(const struct config *cfg, const char *params)
{
	(void)params;
	make_addresses(cfg);
	int fd = new_socket(cfg);
	/* Recorded so that a failure removes it; on success dgram_close does. */
	bind_to(fd, &initiator_addr);
	connect_to(fd, &responder_addr);
	uint8_t hello[1] = { 0 };
	if (send(fd, hello, 0, MSG_NOSIGNAL) < 0)
		fail_call("send", "hello", errno);
	return endpoint_on(fd, initiator_addr.sun_path, NULL, cfg);
}

const struct channel uds_dgram_channel = {
	.id = "uds-dgram", .skip = dgram_skip, .host = dgram_host, .accept = dgram_accept, .join = dgram_join,
};
