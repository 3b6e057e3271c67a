/*
 * podbench-ref: `udp`, as podbench's agents/channels/udp.ts. Datagrams over 127.0.0.1 between
 * two connected UDP sockets, one message per datagram: one send() and one recv() per message.
 * UDP has no flow control: a sender faster than its receiver overflows the receive buffer and the
 * kernel drops datagrams. That is what the channel is, so the loop counts losses, reordering and
 * duplicates (loop.c, arrivals.c) and never retries; only a datagram that fails verification
 * fails the case.
 *
 * A receive waits at most the loss timeout (SO_RCVTIMEO = min(100 ms, peer timeout)); then it
 * returns RECEIVED_NOTHING and its message counts as lost. A peer that has closed its socket
 * shows as ECONNREFUSED (the loopback ICMP port unreachable); one that is silent for the whole
 * peer timeout fails the case.
 *
 * Meeting: the responder binds a port and passes it in the rendezvous line; the initiator binds
 * its own, connects, and sends its port in a two-byte big-endian hello; the responder connects
 * back. Both ask for 4 MiB socket buffers, which the kernel caps at net.core.rmem_max /
 * wmem_max; what they got is in the JSON line.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channel.h"
#include "common.h"

/* The largest UDP payload over IPv4: 65,535 less the 20-byte IP and 8-byte UDP headers. */
#define UDP_MAX_PAYLOAD_BYTES 65507
/* How long a receive waits before its datagram counts as lost: far above a loopback round trip. */
#define LOSS_TIMEOUT_MS 100L
/* The socket buffers asked for; the kernel grants at most net.core.rmem_max / wmem_max. */
#define BUFFER_BYTES (4 * 1024 * 1024)

struct udp_endpoint {
	struct endpoint base;
	const struct config *cfg;
	int fd;
	/* Receives in a row that found nothing: the peer is silent once they span the peer timeout. */
	long empty_receives, empty_receives_allowed;
	long receive_timeouts;
	/* Read when the endpoint is made: print_details runs after close. */
	int receive_buffer_bytes, send_buffer_bytes;
};

/* The responder's socket, bound in host() and connected in accept(); one process runs one case. */
static int hosted_fd = -1;

static long loss_timeout_ms(const struct config *cfg)
{
	return cfg->peer_timeout_ms < LOSS_TIMEOUT_MS ? cfg->peer_timeout_ms : LOSS_TIMEOUT_MS;
}

static _Noreturn void peer_closed(const struct udp_endpoint *u)
{
	fail("the %s closed its UDP socket", u->cfg->peer);
}

/* EINTR (a signal) is retried; a datagram the kernel had no buffer for (ENOBUFS) is a loss. */
static void udp_send(struct endpoint *self, const uint8_t *message, size_t length)
{
	struct udp_endpoint *u = (struct udp_endpoint *)self;
	ssize_t sent = send(u->fd, message, length, MSG_NOSIGNAL);
	while (sent < 0 && errno == EINTR)
		sent = send(u->fd, message, length, MSG_NOSIGNAL);
	if (sent == (ssize_t)length)
		return;
	const int err = sent < 0 ? errno : 0;
	/* The responder may echo to an initiator that has finished: its end comes on its own. */
	if (err == ECONNREFUSED && !u->cfg->responder)
		peer_closed(u);
	if (err == ENOBUFS || err == ECONNREFUSED)
		return;
	if (err == EAGAIN)
		fail("the UDP send buffer stayed full for %ld ms", u->cfg->peer_timeout_ms);
	if (err == 0)
		fail("send moved part of a datagram");
	fail_call("send", NULL, err);
}

static size_t udp_receive(struct endpoint *self, uint8_t *into, size_t length)
{
	struct udp_endpoint *u = (struct udp_endpoint *)self;
	ssize_t got = recv(u->fd, into, length, 0);
	while (got < 0 && errno == EINTR)
		got = recv(u->fd, into, length, 0);
	if (got >= 0) {
		u->empty_receives = 0;
		return (size_t)got; /* a datagram of another length fails verification */
	}
	if (errno == ECONNREFUSED && !u->cfg->responder)
		peer_closed(u);
	/*
	 * The responder sees ECONNREFUSED when it echoed to an initiator that had finished (its last
	 * round trips timed out while the responder was held up): nothing came, look for the end.
	 */
	if (errno == ECONNREFUSED)
		return RECEIVED_NOTHING;
	if (errno != EAGAIN)
		fail_call("recv", NULL, errno);
	u->receive_timeouts++;
	if (++u->empty_receives >= u->empty_receives_allowed)
		fail("nothing came from the %s within %ld ms (UDP)", u->cfg->peer, u->cfg->peer_timeout_ms);
	return RECEIVED_NOTHING;
}

static void udp_details(struct endpoint *self, FILE *out)
{
	struct udp_endpoint *u = (struct udp_endpoint *)self;
	fprintf(out, ",\"receiveBufferBytes\":%d,\"sendBufferBytes\":%d,\"receiveTimeouts\":%ld", u->receive_buffer_bytes,
		u->send_buffer_bytes, u->receive_timeouts);
}

static void udp_close(struct endpoint *self)
{
	struct udp_endpoint *u = (struct udp_endpoint *)self;
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
}

static int int_option(int fd, int name, const char *label)
{
	int value = 0;
	socklen_t len = sizeof value;
	if (getsockopt(fd, SOL_SOCKET, name, &value, &len) != 0)
		fail_call("getsockopt", label, errno);
	return value;
}

static struct endpoint *endpoint_on(int fd, const struct config *cfg)
{
	static struct udp_endpoint u;
	const long allowed = (cfg->peer_timeout_ms + loss_timeout_ms(cfg) - 1) / loss_timeout_ms(cfg);
	u = (struct udp_endpoint){
		.base = { .send = udp_send, .receive = udp_receive, .print_details = udp_details, .close = udp_close },
		.cfg = cfg,
		.fd = fd,
		.empty_receives_allowed = allowed > 1 ? allowed : 1,
		.receive_buffer_bytes = int_option(fd, SO_RCVBUF, "SO_RCVBUF"),
		.send_buffer_bytes = int_option(fd, SO_SNDBUF, "SO_SNDBUF"),
	};
	return &u.base;
}

static void set_option(int fd, int name, const void *value, socklen_t size, const char *label)
{
	if (setsockopt(fd, SOL_SOCKET, name, value, size) != 0)
		fail_call("setsockopt", label, errno);
}

static struct timeval timeval_of(long ms)
{
	return (struct timeval){ .tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000 };
}

static struct sockaddr_in inet_address(int port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return addr;
}

static int bound_port(int fd)
{
	struct sockaddr_in addr;
	socklen_t len = sizeof addr;
	if (getsockname(fd, (struct sockaddr *)&addr, &len) != 0)
		fail_call("getsockname", NULL, errno);
	return ntohs(addr.sin_port);
}

static void connect_to(int fd, int port)
{
	struct sockaddr_in addr = inet_address(port);
	if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
		char where[32];
		snprintf(where, sizeof where, "127.0.0.1:%d", port);
		fail_call("connect", where, errno);
	}
}

/* A UDP socket bound to 127.0.0.1 (an ephemeral port), with the buffers and timeouts of a case. */
static int bound_socket(const struct config *cfg)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fail_call("socket", NULL, errno);
	int bytes = BUFFER_BYTES;
	set_option(fd, SO_RCVBUF, &bytes, sizeof bytes, "SO_RCVBUF");
	set_option(fd, SO_SNDBUF, &bytes, sizeof bytes, "SO_SNDBUF");
	struct timeval receive = timeval_of(loss_timeout_ms(cfg)), send = timeval_of(cfg->peer_timeout_ms);
	set_option(fd, SO_RCVTIMEO, &receive, sizeof receive, "SO_RCVTIMEO");
	set_option(fd, SO_SNDTIMEO, &send, sizeof send, "SO_SNDTIMEO");
	struct sockaddr_in addr = inet_address(0);
	if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0)
		fail_call("bind", "127.0.0.1:0", errno);
	return fd;
}

static bool udp_skip(const struct config *cfg, char *why, size_t why_size)
{
	if (cfg->size <= UDP_MAX_PAYLOAD_BYTES)
		return false;
	snprintf(why, why_size,
		 "a UDP datagram over IPv4 carries at most %d bytes (65,535 less the 20-byte IP and 8-byte UDP headers)",
		 UDP_MAX_PAYLOAD_BYTES);
	return true;
}

static void udp_host(const struct config *cfg, char *params, size_t params_size)
{
	hosted_fd = bound_socket(cfg);
	params_add(params, params_size, "port", bound_port(hosted_fd));
}

static struct endpoint *udp_accept(const struct config *cfg)
{
	struct pollfd pfd = { .fd = hosted_fd, .events = POLLIN };
	int ready = poll(&pfd, 1, (int)cfg->peer_timeout_ms);
	if (ready < 0)
		fail_call("poll", NULL, errno);
	if (ready == 0)
		fail("the initiator sent nothing to the UDP socket within %ld ms", cfg->peer_timeout_ms);
	uint8_t hello[2];
	ssize_t got = recv(hosted_fd, hello, sizeof hello, 0);
	if (got < 0)
		fail_call("recv", "hello", errno);
	if (got != sizeof hello)
		fail("the initiator sent a malformed UDP hello");
	connect_to(hosted_fd, hello[0] << 8 | hello[1]);
	return endpoint_on(hosted_fd, cfg);
}

static struct endpoint *udp_join(const struct config *cfg, const char *params)
{
	int fd = bound_socket(cfg);
	connect_to(fd, (int)param_number(params, "port"));
	const int port = bound_port(fd);
	const uint8_t hello[2] = { (uint8_t)(port >> 8), (uint8_t)port };
	if (send(fd, hello, sizeof hello, MSG_NOSIGNAL) != sizeof hello)
		fail_call("send", "hello", errno);
	return endpoint_on(fd, cfg);
}

const struct channel udp_channel = {
	.id = "udp", .lossy = true, .skip = udp_skip, .host = udp_host, .accept = udp_accept, .join = udp_join,
};
