/* relay_stats.c — printing and reading back relay counters. */
#include "relay_stats.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void relay_stats_print_dir(FILE *out, const char *prefix, const struct relay_dir *dir)
{
	const char *base = (const char *)&dir->ctr;

	for (size_t i = 0; i < relay_counter_field_count; i++) {
		uint64_t value;

		memcpy(&value, base + relay_counter_fields[i].offset, sizeof(value));
		fprintf(out, "%s.%s=%llu\n", prefix, relay_counter_fields[i].name,
			(unsigned long long)value);
	}
	fprintf(out, "%s.held=%u\n", prefix, relay_dir_held(dir));
}

int relay_stats_lookup(const char *text, const char *key, unsigned long long *value)
{
	size_t key_len = strlen(key);
	const char *line = text;

	while (line && *line) {
		if (strncmp(line, key, key_len) == 0 && line[key_len] == '=') {
			*value = strtoull(line + key_len + 1, NULL, 10);
			return 0;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return -ENOENT;
}
