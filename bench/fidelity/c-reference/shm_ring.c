/*
 * podbench-ref: `shm`, `shm-spin`, `shm-sem`, `mmap` and `tmpfs-mmap`, as podbench's
 * agents/channels/shm-ring.ts, with the same memory layout: two single-producer single-consumer
 * rings (initiator → responder first, then back) in one POSIX shared-memory object. A ring is a
 * control block — `head` (messages published) and `tail` (messages consumed), each on its own
 * 64-byte cache line next to a `waiting` flag — and a power-of-two number of slots, each a
 * 64-byte header holding the length followed by the message rounded up to whole cache lines.
 *
 * Waiting (`shm`) is an eventcount: the waiter raises its flag, re-reads the counter it watches,
 * and only then sleeps on the *flag* with FUTEX_WAIT(flag, 1). The other side advances the
 * counter and, only when the flag is up, takes it down and calls FUTEX_WAKE(flag). Raising,
 * advancing and taking down are sequentially consistent read-modify-writes (full barriers, as
 * JS Atomics are), so either the waiter sees the new counter or the waker sees the flag; a late
 * waker that takes down a flag raised for the next wait changes the very word the waiter is about
 * to sleep on, so the kernel refuses the sleep (EAGAIN) and nothing is lost. `shm-spin` polls the
 * counter instead and enters the kernel only for sched_yield() every 4096 polls.
 *
 * `shm-sem` is the same eventcount with a System V semaphore per flag (a set of four: ring A's
 * consumer and producer flags 0 and 1, ring B's 2 and 3) in place of the futex: the waiter sleeps
 * in semtimedop(-1), the waker posts with semop(+1). A semaphore, unlike a futex, keeps a post
 * nobody waited for, so before a wait ends every take-down of its flag (one post) is matched by
 * exactly one successful semtimedop (settle): the semaphores are back at 0 after every wait, and
 * a later wait never returns early. `mmap` and `tmpfs-mmap` are the futex ring in a file.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE /* semtimedop() */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "channel.h"
#include "common.h"

#define CACHE_LINE 64
/* Bytes of ring memory aimed for, so large messages still get a few slots. */
#define RING_TARGET_BYTES (4u * 1024 * 1024)
#define MAX_SLOTS 256u
/*
 * Polls between clock checks in spin mode; each check also yields the CPU once, so two spinners
 * sharing one CPU hand over at once instead of at the end of a time slice.
 */
#define SPINS_PER_CHECK 4096

/* 32-bit word offsets inside a ring's control block. */
enum { HEAD = 0, CONSUMER_WAITING = 1, TAIL = CACHE_LINE / 4, PRODUCER_WAITING = TAIL + 1 };
#define CONTROL_BYTES (2 * CACHE_LINE)
#define SLOT_HEADER_BYTES CACHE_LINE /* holds the message length */
/* The four flags of the pair, a semaphore each in `shm-sem`. */
#define FLAGS 4

/* Variants: the futex ring in POSIX shm, the spinning one, the futex ring in a file on the
 * disk-backed and the memory-backed shared directory, and the semaphore ring in POSIX shm. */
enum { SHM_FUTEX, SHM_SPIN, MMAP_DISK, MMAP_TMPFS, SHM_SEM };

/* How the waiting side waits. */
enum waiting { WAIT_SPIN, WAIT_FUTEX, WAIT_SEMAPHORE };

struct layout {
	uint32_t slots;
	size_t slot_stride, ring_bytes, total_bytes;
};

static struct layout layout_for(uint32_t size)
{
	struct layout l;
	l.slot_stride = SLOT_HEADER_BYTES + (size + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
	l.slots = 2;
	while (l.slots * 2 <= MAX_SLOTS && l.slots * 2 * l.slot_stride <= RING_TARGET_BYTES)
		l.slots *= 2;
	l.ring_bytes = CONTROL_BYTES + l.slots * l.slot_stride;
	l.total_bytes = 2 * l.ring_bytes;
	return l;
}

/* One direction, seen from one side. */
struct ring {
	uint32_t *control;
	uint8_t *slots;
	size_t stride;
	/* The flags' numbers among the pair's four (ring A: 0 and 1, ring B: 2 and 3). */
	int consumer_flag, producer_flag;
};

struct ring_endpoint {
	struct endpoint base;
	const struct config *cfg;
	void *mapping;
	size_t mapping_bytes;
	struct ring out, in;
	uint32_t mask;
	enum waiting waiting;
	struct timespec timeout; /* relative, for FUTEX_WAIT and semtimedop */
	int semid;
	/* One wait (-1) and one post (+1) operation per flag, made once. */
	struct sembuf sem_wait[FLAGS], sem_post[FLAGS];
	uint32_t sent, received;
	uint64_t wakeups, sleeps, timeouts, yields;
};

static uint32_t load(uint32_t *word) { return __atomic_load_n(word, __ATOMIC_SEQ_CST); }

static void futex_wake(uint32_t *word)
{
	/* Not FUTEX_PRIVATE_FLAG: the word is shared between processes. */
	if (syscall(SYS_futex, word, FUTEX_WAKE, 1, NULL, NULL, 0) < 0)
		fail_call("futex", "FUTEX_WAKE", errno);
}

/* 0 when woken, or the expected outcomes EAGAIN, ETIMEDOUT, EINTR; anything else fails. */
static int futex_wait(uint32_t *word, uint32_t expected, const struct timespec *timeout)
{
	if (syscall(SYS_futex, word, FUTEX_WAIT, expected, timeout, NULL, 0) == 0)
		return 0;
	if (errno == EAGAIN || errno == ETIMEDOUT || errno == EINTR)
		return errno;
	fail_call("futex", "FUTEX_WAIT", errno);
}

/* 0 when a post was taken, or the expected outcomes ETIMEDOUT (semtimedop's EAGAIN), EINTR. */
static int sem_sleep(struct ring_endpoint *r, int flag)
{
	if (semtimedop(r->semid, &r->sem_wait[flag], 1, &r->timeout) == 0)
		return 0;
	if (errno == EAGAIN)
		return ETIMEDOUT;
	if (errno == EINTR)
		return errno;
	if (errno == EIDRM || errno == EINVAL)
		fail("the %s removed the semaphore set", r->cfg->peer);
	fail_call("semtimedop", NULL, errno);
}

/* Sleeps while flag `flag_id` (the word `flag`) is up: 0 when woken, else ETIMEDOUT, EINTR or EAGAIN. */
static int sleep_on(struct ring_endpoint *r, uint32_t *flag, int flag_id)
{
	return r->waiting == WAIT_SEMAPHORE ? sem_sleep(r, flag_id) : futex_wait(flag, 1, &r->timeout);
}

/* Wakes the side sleeping on flag `flag_id` (the word `flag`), whose flag was just taken down. */
static void wake(struct ring_endpoint *r, uint32_t *flag, int flag_id)
{
	if (r->waiting != WAIT_SEMAPHORE)
		futex_wake(flag);
	else if (semop(r->semid, &r->sem_post[flag_id], 1) != 0)
		fail_call("semop", NULL, errno);
}

static _Noreturn void timed_out(const struct ring_endpoint *r, const char *peer_action)
{
	fail("the %s did not %s within %ld ms (shared-memory ring)", r->cfg->peer, peer_action,
	     r->cfg->peer_timeout_ms);
}

/* Starts the wait's clock on the first call; fails once the peer timeout has passed since. */
static int64_t check_waited(const struct ring_endpoint *r, int64_t start, const char *peer_action)
{
	const int64_t now = now_ns();
	if (start == 0)
		return now;
	if (now - start > r->cfg->peer_timeout_ms * 1000000)
		timed_out(r, peer_action);
	return start;
}

/*
 * A wait ends with `owed` take-downs of flag `flag_id` not yet matched by a wake-up the sleeper
 * consumed: a semaphore must take those posts now (the waker has posted, or is about to), bounded
 * by the same wait's clock; a futex keeps nothing.
 */
static void settle(struct ring_endpoint *r, int flag_id, unsigned owed, int64_t start, const char *peer_action)
{
	if (r->waiting != WAIT_SEMAPHORE)
		return;
	for (unsigned left = owed; left > 0; r->sleeps++) { /* counted as waits, as the agents count them */
		int woke = sem_sleep(r, flag_id);
		if (woke == 0)
			left--;
		else if (woke == ETIMEDOUT)
			timed_out(r, peer_action);
		else
			start = check_waited(r, start, peer_action);
	}
}

/*
 * Blocks until control[word] differs from `seen`, by spinning or by the eventcount on flag word
 * `flag` (number `flag_id` among the pair's four). The clock is read only once a wait has gone on
 * for a while (after a batch of spins, or a wake-up that brought nothing), as podbench does: a
 * clock read on every wait would sit inside every round trip.
 */
static void await_change(struct ring_endpoint *r, uint32_t *control, int word, int flag, int flag_id, uint32_t seen,
			 const char *peer_action)
{
	int64_t start = 0;
	if (r->waiting == WAIT_SPIN) {
		unsigned spins = 0;
		while (load(&control[word]) == seen) {
			if (++spins == SPINS_PER_CHECK) {
				spins = 0;
				r->yields++;
				sched_yield();
				start = check_waited(r, start, peer_action);
			}
		}
		return;
	}
	/* Take-downs of our flag by the waker (each one a wake-up sent) and wake-ups received: a raise
	 * that finds the flag down again after our earlier raise means the waker took it. */
	unsigned taken_down = 0, woken = 0;
	bool raised = false;
	for (;;) {
		if (__atomic_exchange_n(&control[flag], 1, __ATOMIC_SEQ_CST) == 0 && raised)
			taken_down++;
		raised = true;
		if (load(&control[word]) != seen)
			break;
		r->sleeps++;
		int woke = sleep_on(r, &control[flag], flag_id);
		if (woke == 0)
			woken++;
		else if (woke == ETIMEDOUT)
			r->timeouts++;
		if (load(&control[word]) != seen)
			break;
		/* A whole peer timeout asleep without progress; else a wake-up that brought nothing
		 * (a late waker, EINTR, the flag already taken down), bounded by the clock. */
		if (woke == ETIMEDOUT)
			timed_out(r, peer_action);
		start = check_waited(r, start, peer_action);
	}
	if (__atomic_exchange_n(&control[flag], 0, __ATOMIC_SEQ_CST) == 0)
		taken_down++;
	if (taken_down > woken)
		settle(r, flag_id, taken_down - woken, start, peer_action);
}

/*
 * After advancing a counter: wakes the other side if, and only if, its flag says it sleeps. A
 * spinning peer never sleeps, so spin mode does not even look.
 */
static void wake_if_waiting(struct ring_endpoint *r, uint32_t *flag, int flag_id)
{
	if (r->waiting != WAIT_SPIN && load(flag) != 0 && __atomic_exchange_n(flag, 0, __ATOMIC_SEQ_CST) != 0) {
		r->wakeups++;
		wake(r, flag, flag_id);
	}
}

static void ring_send(struct endpoint *self, const uint8_t *message, size_t length)
{
	struct ring_endpoint *r = (struct ring_endpoint *)self;
	struct ring *ring = &r->out;
	const uint32_t seq = r->sent;
	/* Wait for a free slot: the consumer's tail must be within `slots` of our head. */
	if ((int32_t)(seq - load(&ring->control[TAIL])) > (int32_t)r->mask)
		await_change(r, ring->control, TAIL, PRODUCER_WAITING, ring->producer_flag, seq - r->mask - 1, "read");
	uint8_t *slot = ring->slots + (seq & r->mask) * ring->stride;
	memcpy(slot + SLOT_HEADER_BYTES, message, length);
	*(int32_t *)slot = (int32_t)length; /* published by the seq_cst add below */
	r->sent = seq + 1;
	__atomic_fetch_add(&ring->control[HEAD], 1, __ATOMIC_SEQ_CST);
	wake_if_waiting(r, &ring->control[CONSUMER_WAITING], ring->consumer_flag);
}

static size_t ring_receive(struct endpoint *self, uint8_t *into, size_t length)
{
	struct ring_endpoint *r = (struct ring_endpoint *)self;
	struct ring *ring = &r->in;
	const uint32_t seq = r->received;
	if (load(&ring->control[HEAD]) == seq)
		await_change(r, ring->control, HEAD, CONSUMER_WAITING, ring->consumer_flag, seq, "send");
	const uint8_t *slot = ring->slots + (seq & r->mask) * ring->stride;
	size_t received = (size_t)*(const int32_t *)slot;
	memcpy(into, slot + SLOT_HEADER_BYTES, length); /* the whole slot, as podbench copies it */
	r->received = seq + 1;
	__atomic_fetch_add(&ring->control[TAIL], 1, __ATOMIC_SEQ_CST);
	wake_if_waiting(r, &ring->control[PRODUCER_WAITING], ring->producer_flag);
	return received;
}

static void ring_details(struct endpoint *self, FILE *out)
{
	struct ring_endpoint *r = (struct ring_endpoint *)self;
	fprintf(out, ",\"ringSlots\":%u", r->mask + 1);
	if (r->waiting == WAIT_SPIN)
		fprintf(out, ",\"spinYields\":%llu", (unsigned long long)r->yields);
	else if (r->waiting == WAIT_SEMAPHORE)
		fprintf(out, ",\"semPosts\":%llu,\"semWaits\":%llu,\"semTimeouts\":%llu",
			(unsigned long long)r->wakeups, (unsigned long long)r->sleeps,
			(unsigned long long)r->timeouts);
	else
		fprintf(out, ",\"futexWakes\":%llu,\"futexWaits\":%llu,\"futexTimeouts\":%llu",
			(unsigned long long)r->wakeups, (unsigned long long)r->sleeps,
			(unsigned long long)r->timeouts);
}

static void ring_close(struct endpoint *self)
{
	struct ring_endpoint *r = (struct ring_endpoint *)self;
	if (r->mapping)
		munmap(r->mapping, r->mapping_bytes);
	r->mapping = NULL;
}

/* --- hosting and joining ---------------------------------------------------------------- */

static char shm_name[4096];
static void *hosted_mapping;
static int hosted_semid = -1;

static bool in_file(const struct config *cfg)
{
	return cfg->channel->variant == MMAP_DISK || cfg->channel->variant == MMAP_TMPFS;
}

/* The POSIX shm name, or the file's path in the shared directory. */
static const char *name_of(const struct config *cfg)
{
	if (in_file(cfg))
		snprintf(shm_name, sizeof shm_name, "%s/%s.ring",
			 cfg->channel->variant == MMAP_TMPFS && cfg->tmpfs_dir ? cfg->tmpfs_dir : cfg->dir, cfg->name);
	else
		snprintf(shm_name, sizeof shm_name, "/%s", cfg->name);
	return shm_name;
}

static bool shm_skip(const struct config *cfg, char *why, size_t why_size)
{
	/* kernel.sem's first number, SEMMSL: the semaphores one set may hold. */
	const long per_set = cfg->channel->variant == SHM_SEM ? read_proc_number("/proc/sys/kernel/sem") : -1;
	if (per_set >= 0 && per_set < FLAGS) {
		snprintf(why, why_size, "kernel.sem allows %ld semaphores per set (SEMMSL); the rings need %d", per_set, FLAGS);
		return true;
	}
	/* Only the responder checks: once it has made the rings, the initiator would see them as used. */
	struct statvfs fs;
	struct layout l = layout_for(cfg->size);
	const char *where = in_file(cfg) ? (cfg->channel->variant == MMAP_TMPFS && cfg->tmpfs_dir ? cfg->tmpfs_dir : cfg->dir) : "/dev/shm";
	if (!cfg->responder || statvfs(where, &fs) != 0)
		return false;
	unsigned long long free_bytes = (unsigned long long)fs.f_bavail * fs.f_bsize;
	if (free_bytes >= l.total_bytes)
		return false;
	snprintf(why, why_size, "%s has %llu bytes free; the two rings need %zu", where, free_bytes, l.total_bytes);
	return true;
}

static void *map_object(const char *name, int flags, size_t bytes, bool create, bool file)
{
	int fd = file ? open(name, flags | O_CLOEXEC, 0600) : shm_open(name, flags, 0600);
	if (fd < 0)
		fail_call(file ? "open" : "shm_open", name, errno);
	if (create) {
		if (ftruncate(fd, (off_t)bytes) != 0)
			fail_call("ftruncate", name, errno);
		/* On tmpfs ftruncate reserves nothing; a full /dev/shm would SIGBUS us later. */
		int err = posix_fallocate(fd, 0, (off_t)bytes);
		if (err != 0)
			fail_call("posix_fallocate", name, err);
	}
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		fail_call("mmap", name, errno);
	close(fd);
	return p;
}

static int make_semaphores(key_t key)
{
	return semget(key, FLAGS, IPC_CREAT | IPC_EXCL | 0600);
}

static void shm_host(const struct config *cfg, char *params, size_t params_size)
{
	/* The initiator derives the name from --name; only the semaphore set's id travels. */
	const char *name = name_of(cfg);
	if (in_file(cfg))
		cleanup_file(name);
	else
		cleanup_shm(name);
	hosted_mapping = map_object(name, O_RDWR | O_CREAT | O_EXCL, layout_for(cfg->size).total_bytes, true, in_file(cfg));
	if (cfg->channel->variant == SHM_SEM) {
		char seed[300];
		snprintf(seed, sizeof seed, "%s/sem", cfg->name);
		hosted_semid = create_sysv(seed, "semget", make_semaphores, cleanup_sysv_sem);
		params_add(params, params_size, "semid", hosted_semid);
	}
}

/* Ring `which` (0: A, 1: B) of the pair. */
static struct ring ring_at(uint8_t *base, const struct layout *l, int which)
{
	return (struct ring){
		.control = (uint32_t *)(base + which * l->ring_bytes),
		.slots = base + which * l->ring_bytes + CONTROL_BYTES,
		.stride = l->slot_stride,
		.consumer_flag = 2 * which,
		.producer_flag = 2 * which + 1,
	};
}

/* Ring A (at offset 0) carries initiator → responder, ring B responder → initiator. */
static struct endpoint *endpoint_on(void *mapping, const struct config *cfg, int semid)
{
	static struct ring_endpoint r;
	const struct layout l = layout_for(cfg->size);
	struct ring a = ring_at(mapping, &l, 0), b = ring_at(mapping, &l, 1);
	const int variant = cfg->channel->variant;
	r = (struct ring_endpoint){
		.base = { .send = ring_send, .receive = ring_receive, .print_details = ring_details, .close = ring_close },
		.cfg = cfg,
		.mapping = mapping,
		.mapping_bytes = l.total_bytes,
		.out = cfg->responder ? b : a,
		.in = cfg->responder ? a : b,
		.mask = l.slots - 1,
		.waiting = variant == SHM_SPIN ? WAIT_SPIN : variant == SHM_SEM ? WAIT_SEMAPHORE : WAIT_FUTEX,
		.timeout = { .tv_sec = cfg->peer_timeout_ms / 1000, .tv_nsec = cfg->peer_timeout_ms % 1000 * 1000000 },
		.semid = semid,
	};
	for (int flag = 0; flag < FLAGS; flag++) {
		r.sem_wait[flag] = (struct sembuf){ .sem_num = (unsigned short)flag, .sem_op = -1, .sem_flg = 0 };
		r.sem_post[flag] = (struct sembuf){ .sem_num = (unsigned short)flag, .sem_op = 1, .sem_flg = 0 };
	}
	return &r.base;
}

static struct endpoint *shm_accept(const struct config *cfg)
{
	return endpoint_on(hosted_mapping, cfg, hosted_semid);
}

static struct endpoint *shm_join(const struct config *cfg, const char *params)
{
	const int semid = cfg->channel->variant == SHM_SEM ? (int)param_number(params, "semid") : -1;
	return endpoint_on(map_object(name_of(cfg), O_RDWR, layout_for(cfg->size).total_bytes, false, in_file(cfg)), cfg,
			   semid);
}

const struct channel shm_channel = {
	.id = "shm", .variant = SHM_FUTEX, .skip = shm_skip, .host = shm_host, .accept = shm_accept, .join = shm_join,
};
const struct channel shm_spin_channel = {
	.id = "shm-spin", .variant = SHM_SPIN, .skip = shm_skip, .host = shm_host, .accept = shm_accept, .join = shm_join,
};
const struct channel shm_sem_channel = {
	.id = "shm-sem", .variant = SHM_SEM, .skip = shm_skip, .host = shm_host, .accept = shm_accept, .join = shm_join,
};
const struct channel mmap_channel = {
	.id = "mmap", .variant = MMAP_DISK, .skip = shm_skip, .host = shm_host, .accept = shm_accept, .join = shm_join,
};
const struct channel tmpfs_mmap_channel = {
	.id = "tmpfs-mmap", .variant = MMAP_TMPFS, .skip = shm_skip, .host = shm_host, .accept = shm_accept, .join = shm_join,
};
