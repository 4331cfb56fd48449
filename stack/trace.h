/*
 * Per-connection trace logs (USTACK_TRACE, see design.md "Trace logs").
 *
 * One plain-text file per connection in st->cfg.trace_dir, named
 * `<pid>-<proto>-<local ip>:<port>-<remote ip>:<port>.log`, one event per line, the time since
 * the connection's start first ("  0.000123 state SYN_SENT => ESTABLISHED"). The file is opened
 * once per connection and written through stdio; trace_event() with flush=true (state changes,
 * timers, application calls, close) pushes the buffer to the file so tests and people can read
 * it while the process runs.
 */
#ifndef USTACK_TRACE_H
#define USTACK_TRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct ustack;

struct trace_log {
	FILE *f;               /* NULL: tracing off for this connection */
	uint64_t start_us;     /* stack clock at the connection's start */
};

/* Open the log of a connection (no-op returning 0 when st->cfg.trace_dir is empty). Addresses
 * host order. Returns 0 or -errno (the connection works on without a log). */
int trace_open(struct ustack *st, struct trace_log *t, const char *proto, uint32_t local_ip,
	       uint16_t local_port, uint32_t remote_ip, uint16_t remote_port);
void trace_close(struct trace_log *t);
static inline bool trace_on(const struct trace_log *t) { return t->f != NULL; }

/* One line: relative time, then the formatted event. Call only when trace_on(t). */
void trace_event(const struct ustack *st, struct trace_log *t, bool flush, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The file name a connection's log gets (without the directory), for tests. */
void trace_file_name(char *buf, size_t len, int pid, const char *proto, uint32_t local_ip,
		     uint16_t local_port, uint32_t remote_ip, uint16_t remote_port);

#define TRACE(st, t, flush, ...) \
	do { if (trace_on(t)) trace_event((st), (t), (flush), __VA_ARGS__); } while (0)

#endif
