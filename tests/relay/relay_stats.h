/* relay_stats.h — counters as `key=value` lines (stderr dump and --stats file). */
#ifndef RELAY_STATS_H
#define RELAY_STATS_H

#include <stdio.h>

#include "relay_core.h"

/* One line per counter: "<prefix>.<name>=<value>\n", then "<prefix>.held=<n>". */
void relay_stats_print_dir(FILE *out, const char *prefix, const struct relay_dir *dir);

/* Reads back one value from such lines (for tests): 0 or -ENOENT. */
int relay_stats_lookup(const char *text, const char *key, unsigned long long *value);

#endif
