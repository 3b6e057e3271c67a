/*
 * podbench-ref: helpers every part of the program shares — error exits, the clock, memory that
 * is touched before timing, kernel limits, and the list of kernel objects to remove on exit.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PODBENCH_REF_COMMON_H
#define PODBENCH_REF_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Exit codes, the same contract the benchmark script relies on. */
enum {
	EXIT_PASSED = 0,
	EXIT_FAILED = 1,  /* verification errors, a peer that did not answer, a failed call */
	EXIT_USAGE = 2,   /* bad arguments, or no responder to meet */
	EXIT_SKIPPED = 3, /* a kernel limit rules the case out here */
};

/* Prints "podbench-ref: <text>" on stderr, removes what this process created, exits 1. */
_Noreturn void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same for a failed call: "call(subject) failed: <strerror> (errno N)"; subject may be NULL. */
_Noreturn void fail_call(const char *call, const char *subject, int err);
/* The same with another exit code (EXIT_USAGE, EXIT_SKIPPED). */
_Noreturn void fail_with(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* CLOCK_MONOTONIC in nanoseconds; a vDSO call, no system call. */
int64_t now_ns(void);

/*
 * Zeroed memory whose pages are already mapped (MAP_POPULATE), so the first touch inside the
 * timed loop costs no page fault. Never freed: the process runs one case and exits.
 */
void *alloc_prefaulted(size_t bytes);

/* A number from a /proc file (e.g. /proc/sys/kernel/msgmax), or -1 when it cannot be read. */
long read_proc_number(const char *path);

/*
 * Creates a System V object (a queue, a semaphore set) under a key derived from `seed` (--name
 * and which object, as podbench derives it from the run), trying a few keys in turn because
 * another program may hold one. `create(key)` is msgget or semget with IPC_CREAT | IPC_EXCL and
 * returns the id or -1; `record(id)` (cleanup_sysv_queue, cleanup_sysv_sem) runs with the
 * cleanup signals blocked since the creation, so a signal cannot leak the object.
 */
int create_sysv(const char *seed, const char *call, int (*create)(key_t key), void (*record)(int id));

/* The number after " key=" in a rendezvous line; fails when the key is missing. */
long param_number(const char *params, const char *key);

/*
 * The responder's record of what it created, removed in reverse order at the end of the case,
 * on any failure and on SIGINT/SIGTERM. Removal uses only async-signal-safe calls on names
 * prepared in advance, so the signal handler can run it. Objects with names are recorded
 * *before* they are created (removing what does not exist is harmless); System V queues and
 * semaphore sets, known only by the id msgget or semget returns, right after, with the signals
 * blocked in between (create_sysv).
 */
void cleanup_shm(const char *name);
void cleanup_mq(const char *name);
void cleanup_sysv_queue(int id);
void cleanup_sysv_sem(int id);
void cleanup_file(const char *path);
void cleanup_dir(const char *path);
/* Renames `from` to `to` (e.g. to freeze a directory tree a live peer still writes into). */
void cleanup_rename(const char *from, const char *to);
/* Removes everything recorded so far; idempotent. */
void cleanup_run(void);
/* Makes SIGINT, SIGTERM and SIGHUP run cleanup_run() before the process dies of the signal. */
void cleanup_on_signals(void);

#endif
