/* Per-connection trace logs: see trace.h. */
#include "trace.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "stack.h"

void trace_file_name(char *buf, size_t len, int pid, const char *proto, uint32_t local_ip,
		     uint16_t local_port, uint32_t remote_ip, uint16_t remote_port)
{
	snprintf(buf, len, "%d-%s-%u.%u.%u.%u:%u-%u.%u.%u.%u:%u.log", pid, proto,
		 local_ip >> 24, (local_ip >> 16) & 0xff, (local_ip >> 8) & 0xff, local_ip & 0xff,
		 local_port,
		 remote_ip >> 24, (remote_ip >> 16) & 0xff, (remote_ip >> 8) & 0xff, remote_ip & 0xff,
		 remote_port);
}

int trace_open(struct ustack *st, struct trace_log *t, const char *proto, uint32_t local_ip,
	       uint16_t local_port, uint32_t remote_ip, uint16_t remote_port)
{
	char name[128], path[sizeof st->cfg.trace_dir + sizeof name + 2];

	t->start_us = stack_now_us(st);
	if (t->f || st->cfg.trace_dir[0] == '\0')
		return 0;
	trace_file_name(name, sizeof name, (int)getpid(), proto, local_ip, local_port, remote_ip,
			remote_port);
	snprintf(path, sizeof path, "%s/%s", st->cfg.trace_dir, name);
	/* append: a later connection reusing the same 4-tuple in this process keeps the history */
	t->f = fopen(path, "ae");
	if (!t->f)
		return -errno;
	return 0;
}

void trace_close(struct trace_log *t)
{
	if (!t->f)
		return;
	fclose(t->f);
	t->f = NULL;
}

void trace_event(const struct ustack *st, struct trace_log *t, bool flush, const char *fmt, ...)
{
	va_list ap;
	uint64_t rel = stack_now_us(st) - t->start_us;

	fprintf(t->f, "%llu.%06llu ", (unsigned long long)(rel / 1000000),
		(unsigned long long)(rel % 1000000));
	va_start(ap, fmt);
	vfprintf(t->f, fmt, ap);
	va_end(ap);
	fputc('\n', t->f);
	if (flush)
		fflush(t->f);
}
