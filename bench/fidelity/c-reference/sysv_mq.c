/*
 * podbench-ref: `sysv-mq`, as podbench's agents/channels/sysv-mq.ts and
 * agents/native/interrupt-timer.ts. Two System V message queues, one each way. A message travels
 * in a frame of an 8-byte `long mtype` followed by the message, copied into and out of the
 * frame as podbench does.
 *
 * msgsnd/msgrcv have no timeout. While a case runs, a POSIX timer sends SIGALRM to this thread
 * every 250 ms; its handler does nothing and is installed without SA_RESTART (System V calls
 * are never restarted anyway), so a blocked call returns EINTR and the endpoint gives up once
 * the peer has been silent for the peer timeout.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE /* gettid() */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/msg.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "common.h"

#define MTYPE_BYTES 8
#define INTERRUPT_INTERVAL_MS 250

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

struct sysv_endpoint {
	struct endpoint base;
	const struct config *cfg;
	int out, in;
	uint8_t *send_frame, *receive_frame;
	timer_t timer;
	bool timer_running;
};

static int hosted_a = -1, hosted_b = -1;

static bool sysv_skip(const struct config *cfg, char *why, size_t why_size)
{
	long msgmax = read_proc_number("/proc/sys/kernel/msgmax");
	long msgmnb = read_proc_number("/proc/sys/kernel/msgmnb");
	if (msgmax >= 0 && cfg->size > msgmax)
		snprintf(why, why_size, "kernel.msgmax is %ld bytes, below the %u-byte message", msgmax, cfg->size);
	else if (msgmnb >= 0 && cfg->size > msgmnb)
		snprintf(why, why_size, "kernel.msgmnb is %ld bytes, below the %u-byte message", msgmnb, cfg->size);
	else
		return false;
	return true;
}

static void ignore_signal(int sig)
{
	(void)sig;
}

/* Starts SIGALRM to the calling thread every INTERRUPT_INTERVAL_MS. */
static void start_interrupt_timer(struct sysv_endpoint *q)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = ignore_signal; /* no SA_RESTART: the blocked call must return EINTR */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) != 0)
		fail_call("sigaction", "SIGALRM", errno);

	/* SIGEV_THREAD_ID: delivered to any other thread, the signal would not interrupt the call. */
	struct sigevent sev;
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGALRM;
	sev.sigev_notify_thread_id = gettid();
	if (timer_create(CLOCK_MONOTONIC, &sev, &q->timer) != 0)
		fail_call("timer_create", NULL, errno);
	const struct timespec interval = { .tv_sec = 0, .tv_nsec = INTERRUPT_INTERVAL_MS * 1000000L };
	const struct itimerspec spec = { .it_interval = interval, .it_value = interval };
	if (timer_settime(q->timer, 0, &spec, NULL) != 0)
		fail_call("timer_settime", NULL, errno);
	q->timer_running = true;
}

/* After a failed call: returns when the wait started; fails once the peer timeout has passed. */
static int64_t retry_or_fail(const struct sysv_endpoint *q, const char *call, const char *peer_action, int64_t start)
{
	const struct config *cfg = q->cfg;
	if (errno == EIDRM)
		fail("the %s removed the System V queue", cfg->peer);
	if (errno != EINTR)
		fail_call(call, NULL, errno);
	/* Like podbench, the first interrupt only starts the clock. */
	int64_t now = now_ns();
	if (start == 0)
		return now;
	if (now - start >= cfg->peer_timeout_ms * 1000000)
		fail("the %s did not %s within %ld ms (System V queue)", cfg->peer, peer_action, cfg->peer_timeout_ms);
	return start;
}

static void sysv_send(struct endpoint *self, const uint8_t *message, size_t length)
{
	struct sysv_endpoint *q = (struct sysv_endpoint *)self;
	memcpy(q->send_frame + MTYPE_BYTES, message, length);
	int64_t start = 0;
	while (msgsnd(q->out, q->send_frame, length, 0) != 0)
		start = retry_or_fail(q, "msgsnd", "read", start);
}

static size_t sysv_receive(struct endpoint *self, uint8_t *into, size_t length)
{
	struct sysv_endpoint *q = (struct sysv_endpoint *)self;
	int64_t start = 0;
	ssize_t n;
	while ((n = msgrcv(q->in, q->receive_frame, length, 0, 0)) < 0)
		start = retry_or_fail(q, "msgrcv", "send", start);
	memcpy(into, q->receive_frame + MTYPE_BYTES, (size_t)n);
	return (size_t)n;
}

static void sysv_close(struct endpoint *self)
{
	struct sysv_endpoint *q = (struct sysv_endpoint *)self;
	if (q->timer_running)
		timer_delete(q->timer);
	q->timer_running = false;
}

static struct endpoint *endpoint_on(int out, int in, const struct config *cfg)
{
	static struct sysv_endpoint q;
	q = (struct sysv_endpoint){
		.base = { .send = sysv_send, .receive = sysv_receive, .close = sysv_close },
		.cfg = cfg,
		.out = out,
		.in = in,
		.send_frame = alloc_prefaulted(MTYPE_BYTES + cfg->size),
		.receive_frame = alloc_prefaulted(MTYPE_BYTES + cfg->size),
	};
	const long mtype = 1;
	memcpy(q.send_frame, &mtype, sizeof mtype);
	start_interrupt_timer(&q);
	return &q.base;
}

static int make_queue(key_t key)
{
	return msgget(key, IPC_CREAT | IPC_EXCL | 0600);
}

/* Creates queue `which` (0 or 1) under a key derived from --name, and records it for removal. */
static int create_queue(const struct config *cfg, int which)
{
	char seed[300];
	snprintf(seed, sizeof seed, "%s/%d", cfg->name, which);
	return create_sysv(seed, "msgget", make_queue, cleanup_sysv_queue);
}

static void sysv_host(const struct config *cfg, char *params, size_t params_size)
{
	hosted_a = create_queue(cfg, 0);
	hosted_b = create_queue(cfg, 1);
	params_add(params, params_size, "a", hosted_a);
	params_add(params, params_size, "b", hosted_b);
}

/* Queue a carries initiator → responder, queue b responder → initiator. */
static struct endpoint *sysv_accept(const struct config *cfg)
{
	return endpoint_on(hosted_b, hosted_a, cfg);
}

static struct endpoint *sysv_join(const struct config *cfg, const char *params)
{
	return endpoint_on((int)param_number(params, "a"), (int)param_number(params, "b"), cfg);
}

const struct channel sysv_mq_channel = {
	.id = "sysv-mq", .skip = sysv_skip, .host = sysv_host, .accept = sysv_accept, .join = sysv_join,
};
