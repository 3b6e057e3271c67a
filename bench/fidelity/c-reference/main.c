/*
 * podbench-ref: a C reference for podbench's channels. Two processes, started separately, run
 * one case between them — the same messages, system calls and verification as podbench's
 * agents — so podbench's numbers can be compared with what plain C gets on the same machine.
 *
 *   podbench-ref initiator|responder --channel ID --mode latency|throughput --size BYTES
 *                --dir DIR --name NAME [--tmpfs-dir DIR] [--warmup-ms N] [--duration-ms N]
 *                [--verify sample|full] [--peer-timeout-ms N] [--send-delay-ns N]
 *
 * The responder creates the channel and publishes DIR/ready; the initiator waits for that file,
 * joins, and drives the case. Each prints one JSON line on stdout at the end.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "common.h"
#include "histogram.h"
#include "loop.h"
#include "message.h"

/* podbench's limits and defaults (bench/cli/run-options.ts, bench/cli/cli-options.ts). */
#define MAX_SIZE_BYTES (64L * 1024 * 1024)
#define DEFAULT_WARMUP_MS 200
#define DEFAULT_DURATION_MS 1000
#define DEFAULT_PEER_TIMEOUT_MS 5000
/* How often the initiator looks for DIR/ready. */
#define READY_POLL_NS 1000000

/* Every channel, each defined in a file of its own: one line here (and in channel.h) per channel. */
static const struct channel *const channels[] = {
	&tcp_channel, &uds_channel, &udp_channel, &uds_dgram_channel, &fifo_channel, &file_channel,
	&tmpfs_file_channel, &shm_channel, &shm_spin_channel, &shm_sem_channel, &mmap_channel, &tmpfs_mmap_channel,
	&tail_channel, &tmpfs_tail_channel, &mq_channel, &sysv_mq_channel,
};
#define CHANNEL_COUNT (sizeof channels / sizeof channels[0])

static const char usage[] =
	"usage: podbench-ref initiator|responder --channel CHANNEL\n"
	"         --mode latency|throughput --size BYTES --dir DIR --name NAME [--tmpfs-dir DIR]\n"
	"         [--warmup-ms 200] [--duration-ms 1000] [--verify sample|full] [--peer-timeout-ms 5000]\n"
	"         [--send-delay-ns 0]\n";

/* The channel ids, comma-separated, from the table: for usage and errors. */
static const char *channel_list(void)
{
	static char list[512];
	if (list[0] == '\0')
		for (size_t i = 0; i < CHANNEL_COUNT; i++)
			snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", channels[i]->id);
	return list;
}

/* --- arguments -------------------------------------------------------------------------- */

static long parse_number(const char *flag, const char *text, long min, long max)
{
	char *end;
	errno = 0;
	long value = strtol(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || value < min || value > max)
		fail_with(EXIT_USAGE, "%s must be a whole number from %ld to %ld (got \"%s\")", flag, min, max, text);
	return value;
}

static const struct channel *parse_channel(const char *text)
{
	for (size_t i = 0; i < CHANNEL_COUNT; i++)
		if (strcmp(channels[i]->id, text) == 0)
			return channels[i];
	fail_with(EXIT_USAGE, "--channel must be one of %s (got \"%s\")", channel_list(), text);
}

/* Becomes part of POSIX object names ("/NAME-a") and paths: keep it to a safe alphabet. */
static const char *parse_name(const char *text)
{
	size_t n = strlen(text);
	if (n == 0 || n > 200 || strspn(text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n)
		fail_with(EXIT_USAGE, "--name must be 1 to 200 letters, digits, '.', '_' or '-' (got \"%s\")", text);
	return text;
}

static const char *choose(const char *flag, const char *text, const char *a, const char *b)
{
	if (strcmp(text, a) != 0 && strcmp(text, b) != 0)
		fail_with(EXIT_USAGE, "%s must be %s or %s (got \"%s\")", flag, a, b, text);
	return strcmp(text, a) == 0 ? a : b;
}

static void parse_args(int argc, char **argv, struct config *cfg)
{
	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		printf("%schannels: %s\n", usage, channel_list());
		exit(EXIT_PASSED);
	}
	if (argc < 2)
		fail_with(EXIT_USAGE, "the first argument must be initiator or responder\n%s", usage);
	cfg->role = choose("the first argument", argv[1], "initiator", "responder");
	cfg->responder = strcmp(cfg->role, "responder") == 0;
	cfg->peer = cfg->responder ? "initiator" : "responder";
	cfg->warmup_ms = DEFAULT_WARMUP_MS;
	cfg->duration_ms = DEFAULT_DURATION_MS;
	cfg->peer_timeout_ms = DEFAULT_PEER_TIMEOUT_MS;
	const char *verify = "sample";

	for (int i = 2; i < argc; i += 2) {
		const char *flag = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
		if (!value)
			fail_with(EXIT_USAGE, "%s needs a value", flag);
		if (strcmp(flag, "--channel") == 0)
			cfg->channel = parse_channel(value);
		else if (strcmp(flag, "--mode") == 0)
			cfg->mode = choose(flag, value, "latency", "throughput");
		else if (strcmp(flag, "--size") == 0)
			cfg->size = (uint32_t)parse_number(flag, value, HEADER_BYTES, MAX_SIZE_BYTES);
		else if (strcmp(flag, "--warmup-ms") == 0)
			cfg->warmup_ms = parse_number(flag, value, 0, 600000);
		else if (strcmp(flag, "--duration-ms") == 0)
			cfg->duration_ms = parse_number(flag, value, 1, 3600000);
		else if (strcmp(flag, "--peer-timeout-ms") == 0)
			cfg->peer_timeout_ms = parse_number(flag, value, 100, 3600000);
		else if (strcmp(flag, "--send-delay-ns") == 0)
			cfg->send_delay_ns = parse_number(flag, value, 0, 1000000);
		else if (strcmp(flag, "--verify") == 0)
			verify = choose(flag, value, "sample", "full");
		else if (strcmp(flag, "--dir") == 0)
			cfg->dir = value;
		else if (strcmp(flag, "--tmpfs-dir") == 0)
			cfg->tmpfs_dir = value;
		else if (strcmp(flag, "--name") == 0)
			cfg->name = parse_name(value);
		else
			fail_with(EXIT_USAGE, "unknown flag %s\n%s", flag, usage);
	}
	const char *missing = !cfg->channel ? "--channel" : !cfg->mode ? "--mode" : !cfg->size ? "--size"
			    : !cfg->dir ? "--dir" : !cfg->name ? "--name"
			    : !cfg->tmpfs_dir && (cfg->channel == &tmpfs_file_channel || cfg->channel == &tmpfs_tail_channel)
			    ? "--tmpfs-dir" : NULL;
	if (missing)
		fail_with(EXIT_USAGE, "%s is required\n%s", missing, usage);
	cfg->latency = strcmp(cfg->mode, "latency") == 0;
	cfg->full_verify = strcmp(verify, "full") == 0;
}

/* --- rendezvous --------------------------------------------------------------------------- */

void params_add(char *params, size_t size, const char *key, long value)
{
	size_t used = strlen(params);
	if ((size_t)snprintf(params + used, size - used, " %s=%ld", key, value) >= size - used)
		fail("internal: the rendezvous line is too long");
}

/* The part of the ready line both sides must agree on, so mismatched invocations fail early. */
static void describe_case(const struct config *cfg, char *line, size_t size)
{
	snprintf(line, size, "podbench-ref channel=%s mode=%s size=%u verify=%s", cfg->channel->id, cfg->mode,
		 cfg->size, cfg->full_verify ? "full" : "sample");
}

static void ready_paths(const struct config *cfg, char *ready, char *staging)
{
	if (snprintf(ready, PATH_MAX, "%s/ready", cfg->dir) >= PATH_MAX ||
	    snprintf(staging, PATH_MAX, "%s/ready.tmp", cfg->dir) >= PATH_MAX)
		fail_with(EXIT_USAGE, "--dir is too long");
}

/* Responder: writes the line to DIR/ready.tmp and renames it, so the initiator never reads half. */
static void publish_ready(const struct config *cfg, const char *line)
{
	char ready[PATH_MAX], staging[PATH_MAX];
	ready_paths(cfg, ready, staging);
	cleanup_file(ready);
	cleanup_file(staging);
	int fd = open(staging, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		fail_call("open", staging, errno);
	size_t length = strlen(line);
	if (write(fd, line, length) != (ssize_t)length || write(fd, "\n", 1) != 1)
		fail_call("write", staging, errno);
	close(fd);
	if (rename(staging, ready) != 0)
		fail_call("rename", ready, errno);
}

/* Initiator: polls for DIR/ready every millisecond until the peer timeout; returns its line. */
static void await_ready(const struct config *cfg, char *line, size_t size)
{
	char ready[PATH_MAX], staging[PATH_MAX];
	ready_paths(cfg, ready, staging);
	const int64_t deadline = now_ns() + cfg->peer_timeout_ms * 1000000;
	for (;;) {
		int fd = open(ready, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t n = read(fd, line, size - 1);
			close(fd);
			if (n > 0 && line[n - 1] == '\n') {
				line[n - 1] = '\0';
				return;
			}
			fail("%s does not hold a rendezvous line", ready);
		}
		if (errno != ENOENT)
			fail_call("open", ready, errno);
		if (now_ns() >= deadline)
			fail_with(EXIT_USAGE, "no responder: %s did not appear within %ld ms", ready, cfg->peer_timeout_ms);
		nanosleep(&(struct timespec){ .tv_nsec = READY_POLL_NS }, NULL);
	}
}

static void check_same_case(const struct config *cfg, const char *line)
{
	char mine[PARAMS_MAX];
	describe_case(cfg, mine, sizeof mine);
	size_t n = strlen(mine);
	if (strncmp(line, mine, n) != 0 || (line[n] != '\0' && line[n] != ' '))
		fail_with(EXIT_USAGE, "the responder runs another case: \"%s\", not \"%s\"", line, mine);
}

/* --- output --------------------------------------------------------------------------------- */

static void print_start(const struct config *cfg)
{
	printf("{\"role\":\"%s\",\"channel\":\"%s\",\"mode\":\"%s\",\"sizeBytes\":%u", cfg->role, cfg->channel->id,
	       cfg->mode, cfg->size);
	if (cfg->send_delay_ns > 0)
		printf(",\"sendDelayNs\":%ld", cfg->send_delay_ns);
}

static void print_end(const struct counts *counts, struct endpoint *ep)
{
	if (counts && counts->errors > 0)
		printf(",\"firstError\":\"%s\"", counts->first_error);
	if (ep && ep->print_details)
		ep->print_details(ep, stdout);
	printf("}\n");
	fflush(stdout);
}

static void print_initiator(const struct config *cfg, const struct initiator_outcome *o, const struct histogram *h,
			    struct endpoint *ep)
{
	print_start(cfg);
	if (cfg->latency) {
		/* podbench reports max as max(maxValue, p99.9): percentiles are bucket tops, the max is raw. */
		uint64_t p999 = histogram_percentile(h, 99.9);
		printf(",\"roundTrips\":%llu,\"errors\":%llu,\"p50Ns\":%llu,\"p90Ns\":%llu,\"p99Ns\":%llu,\"p999Ns\":%llu"
		       ",\"meanNs\":%.1f,\"minNs\":%llu,\"maxNs\":%llu",
		       (unsigned long long)o->sent, (unsigned long long)o->counts.errors,
		       (unsigned long long)histogram_percentile(h, 50), (unsigned long long)histogram_percentile(h, 90),
		       (unsigned long long)histogram_percentile(h, 99), (unsigned long long)p999, histogram_mean(h),
		       (unsigned long long)(h->total ? h->min_nonzero : 0),
		       (unsigned long long)(h->max > p999 ? h->max : p999));
		/* A lossy channel's losses in latency mode are the initiator's, as in podbench's results. */
		if (cfg->channel->lossy)
			printf(",\"lost\":%llu,\"reordered\":%llu,\"duplicated\":%llu", (unsigned long long)o->lost,
			       (unsigned long long)o->reordered, (unsigned long long)o->duplicated);
	} else {
		printf(",\"sent\":%llu", (unsigned long long)o->sent);
	}
	printf(",\"durationNs\":%lld", (long long)o->duration_ns);
	print_end(&o->counts, ep);
}

static void print_responder(const struct config *cfg, const struct responder_outcome *o, struct endpoint *ep)
{
	print_start(cfg);
	printf(",\"messages\":%llu,\"errors\":%llu,\"bytes\":%llu", (unsigned long long)o->counts.messages,
	       (unsigned long long)o->counts.errors, (unsigned long long)o->counts.bytes);
	if (!cfg->latency) {
		/* The receiver's rate between its first and last timed message: n - 1 intervals. */
		const uint64_t n = o->counts.messages;
		const double per_sec = n > 1 && o->span_ns > 0 ? (double)(n - 1) * 1e9 / (double)o->span_ns : 0;
		printf(",\"spanNs\":%lld,\"messagesPerSec\":%.1f,\"bytesPerSec\":%.0f", (long long)o->span_ns, per_sec,
		       per_sec * cfg->size);
		/* In throughput mode they are the responder's: what the initiator sent, less what arrived. */
		if (cfg->channel->lossy)
			printf(",\"sent\":%llu,\"lost\":%llu,\"reordered\":%llu,\"duplicated\":%llu",
			       (unsigned long long)o->sent, (unsigned long long)o->lost, (unsigned long long)o->reordered,
			       (unsigned long long)o->duplicated);
	}
	print_end(&o->counts, ep);
}

/* --- the case ------------------------------------------------------------------------------- */

static void skip_if_infeasible(const struct config *cfg)
{
	char why[256];
	if (!cfg->channel->skip || !cfg->channel->skip(cfg, why, sizeof why))
		return;
	print_start(cfg);
	printf(",\"skipped\":\"%s\"}\n", why);
	fflush(stdout);
	fail_with(EXIT_SKIPPED, "skipped: %s", why);
}

static int verdict_exit(const struct config *cfg, const struct counts *counts, uint64_t timed_messages)
{
	if (counts->errors > 0) {
		fprintf(stderr, "podbench-ref: %llu message(s) failed verification (first: %s)\n",
			(unsigned long long)counts->errors, counts->first_error);
		return EXIT_FAILED;
	}
	if (cfg->responder && !cfg->latency && timed_messages < 2) {
		fprintf(stderr, "podbench-ref: only %llu timed message(s) reached the responder; use a longer --duration-ms\n",
			(unsigned long long)timed_messages);
		return EXIT_FAILED;
	}
	return EXIT_PASSED;
}

static int run_as_responder(const struct config *cfg, const struct codec *codec)
{
	char line[PARAMS_MAX];
	struct responder_outcome outcome = { 0 };
	cleanup_on_signals();
	describe_case(cfg, line, sizeof line);
	if (cfg->channel->lossy)
		prepare_end_file(cfg);
	cfg->channel->host(cfg, line, sizeof line);
	publish_ready(cfg, line);
	struct endpoint *ep = cfg->channel->accept(cfg);
	run_responder(ep, codec, cfg, &outcome);
	ep->close(ep);
	cleanup_run(); /* before the report: once the line is out, nothing of the case is left */
	print_responder(cfg, &outcome, ep);
	return verdict_exit(cfg, &outcome.counts, outcome.counts.messages);
}

static int run_as_initiator(const struct config *cfg, const struct codec *codec)
{
	char line[PARAMS_MAX];
	struct initiator_outcome outcome = { 0 };
	struct histogram histogram;
	if (cfg->latency)
		histogram_init(&histogram);
	await_ready(cfg, line, sizeof line);
	check_same_case(cfg, line);
	struct endpoint *ep = cfg->channel->join(cfg, line);
	run_initiator(ep, codec, cfg, &histogram, &outcome);
	ep->close(ep);
	print_initiator(cfg, &outcome, &histogram, ep);
	return verdict_exit(cfg, &outcome.counts, outcome.sent);
}

int main(int argc, char **argv)
{
	struct config cfg = { 0 };
	struct codec codec;
	parse_args(argc, argv, &cfg);
	skip_if_infeasible(&cfg);
	codec_init(&codec, cfg.size, cfg.full_verify);
	return cfg.responder ? run_as_responder(&cfg, &codec) : run_as_initiator(&cfg, &codec);
}
