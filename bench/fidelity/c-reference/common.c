/*
 * podbench-ref: shared helpers (see common.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common.h"

#include <errno.h>
#include <limits.h>
#include <mqueue.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <time.h>
#include <unistd.h>

static _Noreturn void vexit_with(int code, const char *fmt, va_list args)
{
	fputs("podbench-ref: ", stderr);
	vfprintf(stderr, fmt, args);
	fputc('\n', stderr);
	cleanup_run();
	exit(code);
}

void fail(const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	vexit_with(EXIT_FAILED, fmt, args);
}

void fail_with(int code, const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	vexit_with(code, fmt, args);
}

void fail_call(const char *call, const char *subject, int err)
{
	if (subject)
		fail("%s(%s) failed: %s (errno %d)", call, subject, strerror(err), err);
	fail("%s failed: %s (errno %d)", call, strerror(err), err);
}

int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void *alloc_prefaulted(size_t bytes)
{
	void *p = mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED)
		fail_call("mmap", "buffer", errno);
	return p;
}

long read_proc_number(const char *path)
{
	FILE *f = fopen(path, "r");
	long value = -1;
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &value) != 1)
		value = -1;
	fclose(f);
	return value;
}

/* Keys tried in turn; another program may hold one. */
#define SYSV_KEY_ATTEMPTS 8

int create_sysv(const char *seed, const char *call, int (*create)(key_t key), void (*record)(int id))
{
	uint32_t h = 0x811c9dc5u;
	for (const char *p = seed; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x01000193u;

	/* Block the cleanup signals until the new id is recorded, so a signal cannot leak the object. */
	sigset_t block, saved;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	for (int attempt = 0; attempt < SYSV_KEY_ATTEMPTS; attempt++) {
		key_t key = (key_t)(((h >> 3) + (uint32_t)attempt) * 2 + 1); /* positive, odd (never IPC_PRIVATE), distinct per attempt */
		sigprocmask(SIG_BLOCK, &block, &saved);
		int id = create(key);
		int err = errno;
		if (id >= 0)
			record(id);
		sigprocmask(SIG_SETMASK, &saved, NULL);
		if (id >= 0)
			return id;
		if (err != EEXIST) {
			char subject[32];
			snprintf(subject, sizeof subject, "key %d", (int)key);
			fail_call(call, subject, err);
		}
	}
	fail("%s: %d keys in a row are taken by other objects", call, SYSV_KEY_ATTEMPTS);
}

long param_number(const char *params, const char *key)
{
	char needle[64];
	snprintf(needle, sizeof needle, " %s=", key);
	const char *at = strstr(params, needle);
	if (!at)
		fail("the responder's ready line has no %s= (got \"%s\")", key, params);
	return strtol(at + strlen(needle), NULL, 10);
}

/* --- cleanup registry ------------------------------------------------------------------- */

enum cleanup_kind { CLEAN_SHM, CLEAN_MQ, CLEAN_SYSV, CLEAN_SEM, CLEAN_FILE, CLEAN_DIR, CLEAN_RENAME };

struct cleanup_item {
	enum cleanup_kind kind;
	int id;
	char path[PATH_MAX];
	char to[PATH_MAX]; /* CLEAN_RENAME only */
};

/* The file channel records 4 directories of 8 names each, 6 directories and a rename: 48 is ample. */
#define CLEANUP_MAX 48
static struct cleanup_item items[CLEANUP_MAX];
/* Items [0, count) are live. An item is written in full before count covers it. */
static volatile sig_atomic_t count;

static void copy_path(char *to, const char *path)
{
	if (path && snprintf(to, PATH_MAX, "%s", path) >= PATH_MAX)
		fail("path too long: %s", path);
}

static void record(enum cleanup_kind kind, int id, const char *path, const char *to)
{
	if (count == CLEANUP_MAX)
		fail("internal: more than %d objects to clean up", CLEANUP_MAX);
	struct cleanup_item *item = &items[count];
	item->kind = kind;
	item->id = id;
	copy_path(item->path, path);
	copy_path(item->to, to);
	__atomic_signal_fence(__ATOMIC_SEQ_CST); /* the handler must never see a half-written item */
	count = count + 1;
}

void cleanup_shm(const char *name) { record(CLEAN_SHM, 0, name, NULL); }
void cleanup_mq(const char *name) { record(CLEAN_MQ, 0, name, NULL); }
void cleanup_sysv_queue(int id) { record(CLEAN_SYSV, id, NULL, NULL); }
void cleanup_sysv_sem(int id) { record(CLEAN_SEM, id, NULL, NULL); }
void cleanup_file(const char *path) { record(CLEAN_FILE, 0, path, NULL); }
void cleanup_dir(const char *path) { record(CLEAN_DIR, 0, path, NULL); }
void cleanup_rename(const char *from, const char *to) { record(CLEAN_RENAME, 0, from, to); }

void cleanup_run(void)
{
	/* Pop after removing: a signal arriving meanwhile repeats this item (harmless), never skips it. */
	while (count > 0) {
		const struct cleanup_item *item = &items[count - 1];
		switch (item->kind) {
		case CLEAN_SHM: shm_unlink(item->path); break;
		case CLEAN_MQ: mq_unlink(item->path); break;
		case CLEAN_SYSV: msgctl(item->id, IPC_RMID, NULL); break;
		case CLEAN_SEM: semctl(item->id, 0, IPC_RMID); break;
		case CLEAN_FILE: unlink(item->path); break;
		case CLEAN_DIR: rmdir(item->path); break;
		case CLEAN_RENAME: rename(item->path, item->to); break;
		}
		count = count - 1;
	}
}

static void on_signal(int sig)
{
	int saved = errno;
	cleanup_run();
	/* Die of the signal itself, so the parent sees the usual status. */
	signal(sig, SIG_DFL);
	raise(sig);
	errno = saved;
}

void cleanup_on_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigfillset(&sa.sa_mask); /* one handler at a time */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}
