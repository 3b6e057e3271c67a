/*
 * podbench-ref: `tcp` and `uds`, as podbench's agents/channels/stream-socket.ts. One stream
 * socket carries fixed-size messages both ways: a round trip costs one send() and one
 * recv(MSG_WAITALL) per side. Waits are bounded by SO_RCVTIMEO/SO_SNDTIMEO; a dead peer shows
 * as EOF or a reset at once.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "channel.h"
#include "common.h"

enum family { FAMILY_TCP, FAMILY_UDS };

struct socket_endpoint {
	struct endpoint base;
	int fd;
	const struct config *cfg;
};

/* The responder's listening socket; one process runs one case. */
static int listen_fd = -1;

static const char *family_name(const struct config *cfg)
{
	return cfg->channel->variant == FAMILY_TCP ? "tcp" : "uds";
}

static _Noreturn void peer_failed(const struct socket_endpoint *s, const char *call, int err)
{
	const struct config *cfg = s->cfg;
	if (err == 0 || err == ECONNRESET || err == EPIPE)
		fail("the %s closed the %s connection", cfg->peer, family_name(cfg));
	if (err == EAGAIN)
		fail("the %s did not %s within %ld ms", cfg->peer,
		     strcmp(call, "send") == 0 ? "read" : "answer", cfg->peer_timeout_ms);
	fail_call(call, NULL, err);
}

/*
 * The slow paths after a short or failed send/recv. A blocking call moves the whole message
 * unless a signal interrupts it (EINTR: go on), the socket timeout passes (EAGAIN: the peer
 * timeout), or the peer is gone (EOF, EPIPE, ECONNRESET).
 */
static void send_rest(struct socket_endpoint *s, const uint8_t *message, size_t length, ssize_t first)
{
	size_t done = 0;
	for (ssize_t result = first;; result = send(s->fd, message + done, length - done, MSG_NOSIGNAL)) {
		if (result > 0)
			done += (size_t)result;
		else if (result < 0 && errno != EINTR)
			peer_failed(s, "send", errno);
		if (done == length)
			return;
	}
}

static void recv_rest(struct socket_endpoint *s, uint8_t *into, size_t length, ssize_t first)
{
	size_t done = 0;
	for (ssize_t result = first;; result = recv(s->fd, into + done, length - done, MSG_WAITALL)) {
		if (result > 0)
			done += (size_t)result;
		else if (result == 0)
			peer_failed(s, "recv", 0);
		else if (errno != EINTR)
			peer_failed(s, "recv", errno);
		if (done == length)
			return;
	}
}

static void socket_send(struct endpoint *self, const uint8_t *message, size_t length)
{
	struct socket_endpoint *s = (struct socket_endpoint *)self;
	ssize_t sent = send(s->fd, message, length, MSG_NOSIGNAL);
	if (sent != (ssize_t)length)
		send_rest(s, message, length, sent);
}

static size_t socket_receive(struct endpoint *self, uint8_t *into, size_t length)
{
	struct socket_endpoint *s = (struct socket_endpoint *)self;
	ssize_t got = recv(s->fd, into, length, MSG_WAITALL);
	if (got != (ssize_t)length)
		recv_rest(s, into, length, got);
	return length;
}

static void socket_close(struct endpoint *self)
{
	struct socket_endpoint *s = (struct socket_endpoint *)self;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

static void set_option(int fd, int level, int name, const void *value, socklen_t size, const char *label)
{
	if (setsockopt(fd, level, name, value, size) != 0)
		fail_call("setsockopt", label, errno);
}

static struct endpoint *endpoint_on(int fd, const struct config *cfg)
{
	static struct socket_endpoint s;
	if (cfg->channel->variant == FAMILY_TCP) {
		int one = 1;
		set_option(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one, "TCP_NODELAY");
	}
	struct timeval tv = { .tv_sec = cfg->peer_timeout_ms / 1000, .tv_usec = cfg->peer_timeout_ms % 1000 * 1000 };
	set_option(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv, "SO_RCVTIMEO");
	set_option(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv, "SO_SNDTIMEO");
	s = (struct socket_endpoint){
		.base = { .send = socket_send, .receive = socket_receive, .close = socket_close },
		.fd = fd,
		.cfg = cfg,
	};
	return &s.base;
}

static struct sockaddr_in inet_address(int port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return addr;
}

/* DIR/ref.sock; the kernel allows 107 bytes of path. */
static struct sockaddr_un unix_address(const struct config *cfg)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int n = snprintf(addr.sun_path, sizeof addr.sun_path, "%s/ref.sock", cfg->dir);
	if (n < 0 || (size_t)n >= sizeof addr.sun_path)
		fail("the Unix socket path %s/ref.sock is longer than the %zu bytes the kernel allows; use a shorter --dir",
		     cfg->dir, sizeof addr.sun_path - 1);
	return addr;
}

static int new_socket(const struct config *cfg)
{
	int fd = socket(cfg->channel->variant == FAMILY_TCP ? AF_INET : AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fail_call("socket", NULL, errno);
	return fd;
}

static void socket_host(const struct config *cfg, char *params, size_t params_size)
{
	listen_fd = new_socket(cfg);
	if (cfg->channel->variant == FAMILY_TCP) {
		int one = 1;
		set_option(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one, "SO_REUSEADDR");
		struct sockaddr_in addr = inet_address(0);
		socklen_t len = sizeof addr;
		if (bind(listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0)
			fail_call("bind", "127.0.0.1:0", errno);
		if (getsockname(listen_fd, (struct sockaddr *)&addr, &len) != 0)
			fail_call("getsockname", NULL, errno);
		params_add(params, params_size, "port", ntohs(addr.sin_port));
	} else {
		struct sockaddr_un addr = unix_address(cfg);
		unlink(addr.sun_path); /* a stale socket file from an earlier case */
		cleanup_file(addr.sun_path);
		if (bind(listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0)
			fail_call("bind", addr.sun_path, errno);
	}
	if (listen(listen_fd, 1) != 0)
		fail_call("listen", NULL, errno);
}

static struct endpoint *socket_accept(const struct config *cfg)
{
	struct pollfd pfd = { .fd = listen_fd, .events = POLLIN };
	int ready = poll(&pfd, 1, (int)cfg->peer_timeout_ms);
	if (ready < 0)
		fail_call("poll", NULL, errno);
	if (ready == 0)
		fail("the initiator did not connect to the %s socket within %ld ms", family_name(cfg), cfg->peer_timeout_ms);
	int fd = accept(listen_fd, NULL, NULL);
	if (fd < 0)
		fail_call("accept", NULL, errno);
	/* Like podbench, stop listening once connected; the socket file goes with it. */
	close(listen_fd);
	listen_fd = -1;
	if (cfg->channel->variant == FAMILY_UDS) {
		struct sockaddr_un addr = unix_address(cfg);
		unlink(addr.sun_path);
	}
	return endpoint_on(fd, cfg);
}

static struct endpoint *socket_join(const struct config *cfg, const char *params)
{
	int fd = new_socket(cfg);
	if (cfg->channel->variant == FAMILY_TCP) {
		int port = (int)param_number(params, "port");
		struct sockaddr_in addr = inet_address(port);
		char where[32];
		if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
			snprintf(where, sizeof where, "127.0.0.1:%d", port);
			fail_call("connect", where, errno);
		}
	} else {
		struct sockaddr_un addr = unix_address(cfg);
		if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0)
			fail_call("connect", addr.sun_path, errno);
	}
	return endpoint_on(fd, cfg);
}

const struct channel tcp_channel = {
	.id = "tcp", .variant = FAMILY_TCP, .host = socket_host, .accept = socket_accept, .join = socket_join,
};
const struct channel uds_channel = {
	.id = "uds", .variant = FAMILY_UDS, .host = socket_host, .accept = socket_accept, .join = socket_join,
};
