#include "log.h"

#include <stdarg.h>
#include <stdio.h>

enum us_log_level us_log_threshold = US_LOG_WARN;

void us_log(enum us_log_level level, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (level > us_log_threshold)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* one write: lines from several threads do not interleave */
	fprintf(stderr, "ustack: %s\n", line);
}
