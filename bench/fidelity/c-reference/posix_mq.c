/*
 * podbench-ref: `mq`, as podbench's agents/channels/posix-mq.ts. Two POSIX message queues, one
 * each way; every wait is bounded by mq_timedsend/mq_timedreceive with an absolute
 * CLOCK_REALTIME deadline. As in podbench (agents/native/deadline.ts), the deadline is re-armed
 * every REARM_EVERY calls, and a timeout on a deadline armed before the call is retried once with
 * a fresh one, so a case fails only after a wait of the whole peer timeout.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>

#include "channel.h"
#include "common.h"

#define WANTED_DEPTH 64
/* Kernel bookkeeping per queued message (struct msg_msg and tree node), rounded up. */
#define PER_MESSAGE_OVERHEAD_BYTES 128
/* Calls between re-arms of the deadline, as REARM_EVERY in agents/native/deadline.ts. */
#define REARM_EVERY 64

struct mq_endpoint {
	struct endpoint base;
	const struct config *cfg;
	mqd_t out, in;
	long depth;
	struct timespec deadline;
	int calls_since_arm;
};

/* "/NAME-a" carries initiator → responder, "/NAME-b" responder → initiator. */
static char name_a[256], name_b[256];
static mqd_t hosted_a = (mqd_t)-1, hosted_b = (mqd_t)-1;
static long hosted_depth;

static void make_names(const struct config *cfg)
{
	snprintf(name_a, sizeof name_a, "/%s-a", cfg->name);
	snprintf(name_b, sizeof name_b, "/%s-b", cfg->name);
}

/*
 * The deepest queue the limits allow, up to WANTED_DEPTH: fs.mqueue.msg_max, and half of
 * RLIMIT_MSGQUEUE (the bytes all of a user's queues may take) per queue. 0 when none fits.
 */
static long depth_for(uint32_t size, long *rlimit_bytes)
{
	long depth = WANTED_DEPTH;
	long msg_max = read_proc_number("/proc/sys/fs/mqueue/msg_max");
	struct rlimit rl;
	if (msg_max >= 0 && msg_max < depth)
		depth = msg_max;
	*rlimit_bytes = -1;
	if (getrlimit(RLIMIT_MSGQUEUE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		*rlimit_bytes = (long)rl.rlim_cur;
		long fits = (long)(rl.rlim_cur / 2 / (size + PER_MESSAGE_OVERHEAD_BYTES));
		if (fits < depth)
			depth = fits;
	}
	return depth;
}

static bool mq_skip(const struct config *cfg, char *why, size_t why_size)
{
	long size_max = read_proc_number("/proc/sys/fs/mqueue/msgsize_max");
	long rlimit_bytes;
	if (size_max >= 0 && cfg->size > size_max) {
		snprintf(why, why_size, "fs.mqueue.msgsize_max is %ld bytes, below the %u-byte message", size_max, cfg->size);
		return true;
	}
	if (depth_for(cfg->size, &rlimit_bytes) < 1) {
		snprintf(why, why_size, "RLIMIT_MSGQUEUE is %ld bytes, too little for two queues of %u-byte messages",
			 rlimit_bytes, cfg->size);
		return true;
	}
	return false;
}

static _Noreturn void queue_failed(const struct mq_endpoint *q, const char *call, const char *peer_action)
{
	if (errno == ETIMEDOUT)
		fail("the %s did not %s within %ld ms (POSIX queue)", q->cfg->peer, peer_action, q->cfg->peer_timeout_ms);
	fail_call(call, NULL, errno);
}

/* Sets the deadline to now + the peer timeout. */
static void arm(struct mq_endpoint *q)
{
	clock_gettime(CLOCK_REALTIME, &q->deadline);
	q->deadline.tv_sec += q->cfg->peer_timeout_ms / 1000;
	q->deadline.tv_nsec += q->cfg->peer_timeout_ms % 1000 * 1000000;
	if (q->deadline.tv_nsec >= 1000000000) {
		q->deadline.tv_sec++;
		q->deadline.tv_nsec -= 1000000000;
	}
	q->calls_since_arm = 0;
}

/* Before each wait: re-arms when the deadline has served REARM_EVERY calls. */
static void before_call(struct mq_endpoint *q)
{
	if (++q->calls_since_arm >= REARM_EVERY)
		arm(q);
}

/* After ETIMEDOUT: true (and re-armed) when the deadline predates this call, so wait again. */
static bool retry_after_timeout(struct mq_endpoint *q)
{
	if (q->calls_since_arm == 0)
		return false;
	arm(q);
	return true;
}

static void queue_send(struct endpoint *self, const uint8_t *message, size_t length)
{
	struct mq_endpoint *q = (struct mq_endpoint *)self;
	before_call(q);
	while (mq_timedsend(q->out, (const char *)message, length, 0, &q->deadline) != 0) {
		if (errno != ETIMEDOUT || !retry_after_timeout(q))
			queue_failed(q, "mq_timedsend", "read");
	}
}

static size_t queue_receive(struct endpoint *self, uint8_t *into, size_t length)
{
	struct mq_endpoint *q = (struct mq_endpoint *)self;
	before_call(q);
	ssize_t n;
	while ((n = mq_timedreceive(q->in, (char *)into, length, NULL, &q->deadline)) < 0) {
		if (errno != ETIMEDOUT || !retry_after_timeout(q))
			queue_failed(q, "mq_timedreceive", "send");
	}
	return (size_t)n;
}

static void queue_details(struct endpoint *self, FILE *out)
{
	struct mq_endpoint *q = (struct mq_endpoint *)self;
	fprintf(out, ",\"queueDepth\":%ld", q->depth);
}

static void queue_close(struct endpoint *self)
{
	struct mq_endpoint *q = (struct mq_endpoint *)self;
	if (q->out != (mqd_t)-1) {
		mq_close(q->out);
		mq_close(q->in);
	}
	q->out = q->in = (mqd_t)-1;
}

static mqd_t open_queue(const char *name, int flags, struct mq_attr *attr)
{
	mqd_t q = mq_open(name, flags | O_CLOEXEC, 0600, attr);
	if (q == (mqd_t)-1)
		fail_call("mq_open", name, errno);
	return q;
}

static void mq_host(const struct config *cfg, char *params, size_t params_size)
{
	long rlimit_bytes;
	hosted_depth = depth_for(cfg->size, &rlimit_bytes);
	struct mq_attr attr = { .mq_maxmsg = hosted_depth, .mq_msgsize = cfg->size };
	make_names(cfg);
	cleanup_mq(name_a);
	hosted_a = open_queue(name_a, O_RDWR | O_CREAT | O_EXCL, &attr);
	cleanup_mq(name_b);
	hosted_b = open_queue(name_b, O_RDWR | O_CREAT | O_EXCL, &attr);
	params_add(params, params_size, "depth", hosted_depth);
}

static struct endpoint *endpoint_on(mqd_t out, mqd_t in, long depth, const struct config *cfg)
{
	static struct mq_endpoint q;
	q = (struct mq_endpoint){
		.base = { .send = queue_send, .receive = queue_receive, .print_details = queue_details, .close = queue_close },
		.cfg = cfg,
		.out = out,
		.in = in,
		.depth = depth,
	};
	arm(&q);
	return &q.base;
}

/* The responder reads queue a and writes queue b, on the descriptors it created them with. */
static struct endpoint *mq_accept(const struct config *cfg)
{
	return endpoint_on(hosted_b, hosted_a, hosted_depth, cfg);
}

static struct endpoint *mq_join(const struct config *cfg, const char *params)
{
	make_names(cfg);
	mqd_t a = open_queue(name_a, O_RDWR, NULL);
	mqd_t b = open_queue(name_b, O_RDWR, NULL);
	return endpoint_on(a, b, param_number(params, "depth"), cfg);
}

const struct channel mq_channel = {
	.id = "mq", .skip = mq_skip, .host = mq_host, .accept = mq_accept, .join = mq_join,
};
