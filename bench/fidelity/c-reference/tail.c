/*
 * podbench-ref: `tail` and `tmpfs-tail`, as podbench's agents/channels/tail.ts: one growing log
 * file per direction in a shared directory, the way an application and a log shipper share one
 * (`tail -F`, Fluent Bit, Filebeat). DIR/ref.i2r.log carries initiator → responder and
 * DIR/ref.r2i.log back, each with its reader's position file beside it (ref.i2r.pos, ref.r2i.pos).
 *
 * The writer appends each message with one write() on an O_APPEND descriptor; the reader follows
 * the file: it reads from where it stopped and, at the end of the file, sleeps until inotify
 * reports IN_MODIFY. Messages are fixed-size records and the reader returns only whole ones: a
 * write larger than a page can be seen half done, so a short read keeps its bytes and waits for
 * the rest of the record.
 *
 * Like a shipper's registry, the reader records how far it has read (records, 8 bytes little-
 * endian) in the position file every half window of records. The writer reads that position only
 * when it is a whole window ahead, and then waits (IN_MODIFY on the position file) for the reader
 * to catch up: without it a writer could fill the volume faster than the reader reads. When it
 * records its position the reader also frees what it has read (fallocate PUNCH_HOLE), so the
 * directory holds about a window per direction however long the case. Each case starts with
 * empty files.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE /* fallocate(), FALLOC_FL_PUNCH_HOLE */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <sys/inotify.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "channel.h"
#include "common.h"

/* The bytes a window aims for when messages are small: 256 KiB of log per direction. */
#define WINDOW_TARGET_BYTES (256 * 1024)
/* The fewest records a writer may be ahead (agents/contract/channels.ts TAIL_WINDOW_MIN_RECORDS). */
#define WINDOW_MIN_RECORDS 4
#define PAGE_BYTES 4096
#define POSITION_BYTES 8

enum { DISK_DIR, TMPFS_DIR };

/* The files of one direction. */
struct direction {
	char log[PATH_MAX], position[PATH_MAX];
};

struct tail_endpoint {
	struct endpoint base;
	const struct config *cfg;
	/* Appends to the outgoing log; reads the reader's position of it. */
	int log_out, position_out;
	/* Follows the incoming log (read-write only to punch holes); records the position in it. */
	int log_in, position_in;
	int inotify_fd;
	uint64_t window, record_every;
	uint64_t written;
	uint64_t read_by_peer; /* records the peer has read of ours, as last seen in its position file */
	uint64_t read, freed_up_to;
	bool punching;
	uint64_t waits, partial_reads;
	char drain[4096];
};

/* "i2r" carries initiator → responder, "r2i" responder → initiator. */
static struct direction to_responder, to_initiator;

static uint64_t window_records(uint32_t size)
{
	const uint64_t records = WINDOW_TARGET_BYTES / size;
	return records > WINDOW_MIN_RECORDS ? records : WINDOW_MIN_RECORDS;
}

static const char *dir_of(const struct config *cfg)
{
	return cfg->channel->variant == TMPFS_DIR ? cfg->tmpfs_dir : cfg->dir;
}

static void make_direction(struct direction *d, const char *dir, const char *name)
{
	if (snprintf(d->log, sizeof d->log, "%s/ref.%s.log", dir, name) >= (int)sizeof d->log ||
	    snprintf(d->position, sizeof d->position, "%s/ref.%s.pos", dir, name) >= (int)sizeof d->position)
		fail_with(EXIT_USAGE, "the directory %s is too long", dir);
}

static void make_paths(const struct config *cfg)
{
	make_direction(&to_responder, dir_of(cfg), "i2r");
	make_direction(&to_initiator, dir_of(cfg), "r2i");
}

/*
 * Sleeps until a watched file changes, within what is left of the peer timeout since the wait's
 * start (0: this is its first sleep); returns the wait's start.
 */
static int64_t wait_for_event(struct tail_endpoint *t, int64_t start, const char *peer_action)
{
	const int64_t now = now_ns();
	const int64_t since = start == 0 ? now : start;
	const long left_ms = t->cfg->peer_timeout_ms - (long)((now - since) / 1000000);
	if (left_ms <= 0)
		fail("the %s did not %s the log within %ld ms", t->cfg->peer, peer_action, t->cfg->peer_timeout_ms);
	t->waits++;
	struct pollfd pfd = { .fd = t->inotify_fd, .events = POLLIN };
	int ready = poll(&pfd, 1, (int)left_ms);
	/* A signal (EINTR) only wakes the wait early: the caller looks again, within the same timeout. */
	if (ready < 0 && errno != EINTR)
		fail_call("poll", NULL, errno);
	if (ready > 0)
		while (read(t->inotify_fd, t->drain, sizeof t->drain) > 0)
			;
	return since;
}

/* Waits until the reader's recorded position leaves room for another record. */
static void wait_for_room(struct tail_endpoint *t)
{
	int64_t start = 0;
	for (;;) {
		uint64_t position;
		if (pread(t->position_out, &position, POSITION_BYTES, 0) == POSITION_BYTES)
			t->read_by_peer = le64toh(position);
		if (t->written - t->read_by_peer < t->window)
			return;
		start = wait_for_event(t, start, "read");
	}
}

/* A short or failed append: O_APPEND writes the rest at the end, after the part written. */
static void finish_write(struct tail_endpoint *t, const uint8_t *message, size_t length, ssize_t first)
{
	size_t moved = 0;
	for (ssize_t n = first;; n = write(t->log_out, message + moved, length - moved)) {
		if (n > 0)
			moved += (size_t)n;
		else if (n == 0 || errno != EINTR)
			fail_call("write", "the log", n == 0 ? ENOSPC : errno);
		if (moved == length)
			return;
	}
}

static void tail_send(struct endpoint *self, const uint8_t *message, size_t length)
{
	struct tail_endpoint *t = (struct tail_endpoint *)self;
	if (t->written - t->read_by_peer >= t->window)
		wait_for_room(t);
	ssize_t n = write(t->log_out, message, length);
	if (n != (ssize_t)length)
		finish_write(t, message, length, n);
	t->written++;
}

/* The end of the file before a whole record: keep what was read, wait for the writer to append the rest. */
static void finish_read(struct tail_endpoint *t, uint8_t *into, size_t length, ssize_t first)
{
	size_t have = 0;
	int64_t start = 0;
	bool partial = false;
	for (ssize_t n = first;; n = read(t->log_in, into + have, length - have)) {
		if (n > 0) {
			have += (size_t)n;
			if (have == length)
				return;
			if (!partial) /* once per record, however many pieces it came in */
				t->partial_reads++;
			partial = true;
		} else if (n == 0) {
			start = wait_for_event(t, start, "append to");
		} else if (errno != EINTR) {
			fail_call("read", "the log", errno);
		}
	}
}

/* Publishes how many records have been read, and frees the log's pages before that point. */
static void record_position(struct tail_endpoint *t)
{
	const uint64_t position = htole64(t->read);
	if (pwrite(t->position_in, &position, POSITION_BYTES, 0) < 0)
		fail_call("pwrite", "position", errno);
	if (!t->punching)
		return;
	const uint64_t up_to = t->read * t->cfg->size / PAGE_BYTES * PAGE_BYTES;
	if (up_to <= t->freed_up_to)
		return;
	if (fallocate(t->log_in, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)t->freed_up_to,
		      (off_t)(up_to - t->freed_up_to)) != 0)
		t->punching = false; /* EOPNOTSUPP: the filesystem keeps the whole case's log (reported) */
	else
		t->freed_up_to = up_to;
}

static size_t tail_receive(struct endpoint *self, uint8_t *into, size_t length)
{
	struct tail_endpoint *t = (struct tail_endpoint *)self;
	ssize_t n = read(t->log_in, into, length);
	if (n != (ssize_t)length)
		finish_read(t, into, length, n);
	t->read++;
	if (t->read % t->record_every == 0)
		record_position(t);
	return length;
}

static void tail_details(struct endpoint *self, FILE *out)
{
	struct tail_endpoint *t = (struct tail_endpoint *)self;
	fprintf(out, ",\"windowRecords\":%llu,\"inotifyWaits\":%llu,\"partialReads\":%llu,\"holePunching\":%s",
		(unsigned long long)t->window, (unsigned long long)t->waits, (unsigned long long)t->partial_reads,
		t->punching ? "true" : "false");
}

static void tail_close(struct endpoint *self)
{
	struct tail_endpoint *t = (struct tail_endpoint *)self;
	if (t->inotify_fd < 0)
		return;
	const int fds[] = { t->log_out, t->position_out, t->log_in, t->position_in, t->inotify_fd };
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
		close(fds[i]);
	t->inotify_fd = -1;
}

static int open_file(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0600);
	if (fd < 0)
		fail_call("open", path, errno);
	return fd;
}

static void watch(int fd, const char *path)
{
	if (inotify_add_watch(fd, path, IN_MODIFY) < 0)
		fail_call("inotify_add_watch", path, errno);
}

static struct endpoint *endpoint_on(const struct direction *out, const struct direction *in, const struct config *cfg)
{
	static struct tail_endpoint t;
	const uint64_t window = window_records(cfg->size);
	t = (struct tail_endpoint){
		.base = { .send = tail_send, .receive = tail_receive, .print_details = tail_details, .close = tail_close },
		.cfg = cfg,
		.window = window,
		.record_every = window / 2 > 1 ? window / 2 : 1,
		.punching = true,
	};
	t.log_out = open_file(out->log, O_WRONLY | O_APPEND);
	t.position_out = open_file(out->position, O_RDONLY);
	t.log_in = open_file(in->log, O_RDWR);
	t.position_in = open_file(in->position, O_RDWR);
	t.inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (t.inotify_fd < 0)
		fail_call("inotify_init1", NULL, errno);
	/* New records in what we read, and the reader's new position in what we write. */
	watch(t.inotify_fd, in->log);
	watch(t.inotify_fd, out->position);
	return &t.base;
}

static bool tail_skip(const struct config *cfg, char *why, size_t why_size)
{
	/* Only the responder checks: once the logs grow, the initiator would see them as used. */
	struct statvfs fs;
	const char *dir = dir_of(cfg);
	const unsigned long long needed = 2 * (window_records(cfg->size) * cfg->size + PAGE_BYTES);
	if (!cfg->responder || statvfs(dir, &fs) != 0)
		return false;
	unsigned long long free_bytes = (unsigned long long)fs.f_bavail * fs.f_bsize;
	if (free_bytes >= needed)
		return false;
	snprintf(why, why_size, "%s has %llu bytes free; the two logs need %llu", dir, free_bytes, needed);
	return true;
}

static void tail_host(const struct config *cfg, char *params, size_t params_size)
{
	(void)params, (void)params_size; /* the initiator derives the paths from its own arguments */
	make_paths(cfg);
	const char *paths[] = { to_responder.log, to_responder.position, to_initiator.log, to_initiator.position };
	/* Every case starts with empty files, made before the initiator joins so both can open them. */
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		cleanup_file(paths[i]);
		close(open_file(paths[i], O_WRONLY | O_CREAT | O_TRUNC));
	}
}

static struct endpoint *tail_accept(const struct config *cfg)
{
	return endpoint_on(&to_initiator, &to_responder, cfg);
}

static struct endpoint *tail_join(const struct config *cfg, const char *params)
{
	(void)params;
	make_paths(cfg);
	return endpoint_on(&to_responder, &to_initiator, cfg);
}

const struct channel tail_channel = {
	.id = "tail", .variant = DISK_DIR, .skip = tail_skip, .host = tail_host, .accept = tail_accept, .join = tail_join,
};
const struct channel tmpfs_tail_channel = {
	.id = "tmpfs-tail", .variant = TMPFS_DIR, .skip = tail_skip, .host = tail_host, .accept = tail_accept,
	.join = tail_join,
};
