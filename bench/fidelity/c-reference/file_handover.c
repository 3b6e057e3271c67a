/*
 * podbench-ref: `file` and `tmpfs-file`, as podbench's agents/channels/file-handover.ts:
 * messages handed over as files in a shared directory, the way a log shipper or a spooling
 * sidecar would. Each direction has a directory of WINDOW message names, used in turn, and a
 * staging directory on the same filesystem.
 *
 * The writer writes the whole message to a staging file, closes it and rename()s it to its
 * final name; rename is atomic within a filesystem, so a final name only ever shows a complete
 * message. The reader learns of it through inotify (IN_MOVED_TO), reads it and unlinks it; the
 * writer reuses a name only after that unlink (IN_DELETE), which bounds the messages in flight
 * to the window. Nothing is fsync()ed: the hand-over goes through the page cache.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "channel.h"
#include "common.h"

/* Messages a writer may have in flight per direction. */
#define WINDOW 8

enum { DISK_DIR, TMPFS_DIR };

/* One direction's names, made once so the loop passes ready paths rather than building them. */
struct direction {
	char dir[PATH_MAX], staging_dir[PATH_MAX];
	char finals[WINDOW][PATH_MAX], staging[WINDOW][PATH_MAX];
};

struct file_endpoint {
	struct endpoint base;
	const struct config *cfg;
	const struct direction *out, *in;
	int inotify_fd;
	uint32_t sent, received;
	uint64_t waits;
	char drain[4096];
};

/* "a" carries initiator → responder, "b" responder → initiator. */
static char root[PATH_MAX];
static struct direction dir_a, dir_b;

static void path_join(char *out, const char *dir, const char *name)
{
	if (snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
		fail("path too long: %s/%s", dir, name);
}

static void make_direction(struct direction *d, const char *base, const char *name)
{
	char staging_name[32];
	snprintf(staging_name, sizeof staging_name, "%s-staging", name);
	path_join(d->dir, base, name);
	path_join(d->staging_dir, base, staging_name);
	for (int i = 0; i < WINDOW; i++) {
		char file[16];
		snprintf(file, sizeof file, "m%d", i);
		path_join(d->finals[i], d->dir, file);
		path_join(d->staging[i], d->staging_dir, file);
	}
}

static void make_layout(const struct config *cfg)
{
	path_join(root, cfg->channel->variant == TMPFS_DIR ? cfg->tmpfs_dir : cfg->dir, "podbench-ref");
	make_direction(&dir_a, root, "a");
	make_direction(&dir_b, root, "b");
}

/* Sleeps until the directories change (or the peer timeout passes); returns the wait's start. */
static int64_t wait_for_event(struct file_endpoint *f, int64_t start, const char *peer_action)
{
	const int64_t now = now_ns();
	const int64_t since = start == 0 ? now : start;
	const long left_ms = f->cfg->peer_timeout_ms - (long)((now - since) / 1000000);
	if (left_ms <= 0)
		fail("the %s did not %s a message file within %ld ms", f->cfg->peer, peer_action, f->cfg->peer_timeout_ms);
	f->waits++;
	struct pollfd pfd = { .fd = f->inotify_fd, .events = POLLIN };
	int ready = poll(&pfd, 1, (int)left_ms);
	if (ready < 0)
		fail_call("poll", NULL, errno);
	if (ready > 0)
		while (read(f->inotify_fd, f->drain, sizeof f->drain) > 0)
			;
	return since;
}

static void file_send(struct endpoint *self, const uint8_t *message, size_t length)
{
	struct file_endpoint *f = (struct file_endpoint *)self;
	const int slot = f->sent % WINDOW;
	const char *final = f->out->finals[slot], *staging = f->out->staging[slot];
	/* The name is free once the reader has unlinked the message that last used it. */
	int64_t start = 0;
	while (access(final, F_OK) == 0)
		start = wait_for_event(f, start, "read");
	int fd = open(staging, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		fail_call("open", staging, errno);
	ssize_t written = write(fd, message, length);
	int err = written < 0 ? errno : ENOSPC; /* read before close() can change it */
	close(fd);
	if (written != (ssize_t)length)
		fail_call("write", staging, err);
	if (rename(staging, final) != 0)
		fail_call("rename", final, errno);
	f->sent++;
}

static size_t file_receive(struct endpoint *self, uint8_t *into, size_t length)
{
	struct file_endpoint *f = (struct file_endpoint *)self;
	const char *final = f->in->finals[f->received % WINDOW];
	int64_t start = 0;
	int fd;
	while ((fd = open(final, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno != ENOENT)
			fail_call("open", final, errno);
		start = wait_for_event(f, start, "send");
	}
	ssize_t n = read(fd, into, length);
	int err = errno;
	close(fd);
	if (n < 0)
		fail_call("read", final, err);
	if (unlink(final) != 0)
		fail_call("unlink", final, errno);
	f->received++;
	return (size_t)n;
}

static void file_details(struct endpoint *self, FILE *out)
{
	struct file_endpoint *f = (struct file_endpoint *)self;
	fprintf(out, ",\"window\":%d,\"inotifyWaits\":%llu", WINDOW, (unsigned long long)f->waits);
}

static void file_close(struct endpoint *self)
{
	struct file_endpoint *f = (struct file_endpoint *)self;
	if (f->inotify_fd >= 0)
		close(f->inotify_fd);
	f->inotify_fd = -1;
}

static void watch(int fd, const char *dir, uint32_t mask)
{
	if (inotify_add_watch(fd, dir, mask) < 0)
		fail_call("inotify_add_watch", dir, errno);
}

static struct endpoint *endpoint_on(const struct direction *out, const struct direction *in, const struct config *cfg)
{
	static struct file_endpoint f;
	f = (struct file_endpoint){
		.base = { .send = file_send, .receive = file_receive, .print_details = file_details, .close = file_close },
		.cfg = cfg,
		.out = out,
		.in = in,
		.inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC),
	};
	if (f.inotify_fd < 0)
		fail_call("inotify_init1", NULL, errno);
	watch(f.inotify_fd, in->dir, IN_MOVED_TO);
	watch(f.inotify_fd, out->dir, IN_DELETE);
	return &f.base;
}

static void make_dir(const char *path)
{
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		fail_call("mkdir", path, errno);
}

/*
 * Records the removal of the tree, then creates it. Removal first renames the root away, which
 * freezes the tree: an initiator still writing (when the responder is stopped by a signal) can
 * no longer create or rename anything in it, so every name recorded under the new root goes.
 */
static void record_removal(void)
{
	static char gone[PATH_MAX];
	static struct direction gone_dirs[2];
	if (snprintf(gone, sizeof gone, "%s.removing", root) >= (int)sizeof gone)
		fail("path too long: %s.removing", root);
	cleanup_dir(root); /* in case the rename found nothing to rename */
	cleanup_dir(gone);
	for (int d = 0; d < 2; d++) {
		struct direction *dir = &gone_dirs[d];
		make_direction(dir, gone, d == 0 ? "a" : "b");
		cleanup_dir(dir->dir);
		cleanup_dir(dir->staging_dir);
		for (int i = 0; i < WINDOW; i++) {
			cleanup_file(dir->finals[i]);
			cleanup_file(dir->staging[i]);
		}
	}
	cleanup_rename(root, gone); /* recorded last, so done first */
}

static void file_host(const struct config *cfg, char *params, size_t params_size)
{
	(void)params, (void)params_size; /* the initiator derives the paths from its own arguments */
	make_layout(cfg);
	record_removal();
	make_dir(root);
	const struct direction *dirs[] = { &dir_a, &dir_b };
	for (int d = 0; d < 2; d++) {
		make_dir(dirs[d]->dir);
		make_dir(dirs[d]->staging_dir);
	}
}

static struct endpoint *file_accept(const struct config *cfg)
{
	return endpoint_on(&dir_b, &dir_a, cfg);
}

static struct endpoint *file_join(const struct config *cfg, const char *params)
{
	(void)params;
	make_layout(cfg);
	return endpoint_on(&dir_a, &dir_b, cfg);
}

const struct channel file_channel = {
	.id = "file", .variant = DISK_DIR, .host = file_host, .accept = file_accept, .join = file_join,
};
const struct channel tmpfs_file_channel = {
	.id = "tmpfs-file", .variant = TMPFS_DIR, .host = file_host, .accept = file_accept, .join = file_join,
};
