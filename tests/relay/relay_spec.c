/* relay_spec.c — strict parser for impairment specs (grammar in relay_spec.h). */
#include "relay_spec.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPEC_MAX_LEN 1024

void relay_impair_default(struct relay_impair *imp)
{
	memset(imp, 0, sizeof(*imp));
	imp->loss_model = RELAY_LOSS_NONE;
	imp->limit_frames = RELAY_DEFAULT_LIMIT;
	imp->queue_frames = RELAY_DEFAULT_LIMIT;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Reads an unsigned decimal ("12", "0.5", ".5" is refused) at s.  On success
 * stores it and the first unread character; -EINVAL if s has no number. */
static int scan_decimal(const char *s, double *out, const char **end)
{
	char buf[64];
	size_t n = 0;
	bool dot = false, digit = false;

	while ((s[n] >= '0' && s[n] <= '9') || (s[n] == '.' && !dot)) {
		if (s[n] == '.') {
			if (!digit)
				return -EINVAL;
			dot = true;
		} else {
			digit = true;
		}
		n++;
	}
	if (!digit || n >= sizeof(buf) || s[n - 1] == '.')
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	*out = strtod(buf, NULL);
	*end = s + n;
	return 0;
}

static int scan_integer(const char *s, uint64_t *out, const char **end)
{
	size_t n = 0;
	uint64_t v = 0;

	while (s[n] >= '0' && s[n] <= '9') {
		unsigned d = (unsigned)(s[n] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
		n++;
	}
	if (n == 0)
		return -EINVAL;
	*out = v;
	*end = s + n;
	return 0;
}

/* PCT := DECIMAL "%", 0..100, returned as a fraction. */
static int parse_percent(const char *key, const char *s, double *out, char *err, size_t errlen)
{
	const char *end;
	double v;

	if (scan_decimal(s, &v, &end) < 0 || strcmp(end, "%") != 0)
		return fail(err, errlen, "%s: '%s' is not a percentage (expected e.g. 1%% or 0.5%%)",
			    key, s);
	if (v > 100.0)
		return fail(err, errlen, "%s: '%s' is above 100%%", key, s);
	*out = v / 100.0;
	return 0;
}

/* TIME := DECIMAL ("ns"|"us"|"ms"|"s"). */
static int parse_time(const char *key, const char *s, int64_t *out_ns, char *err, size_t errlen)
{
	static const struct {
		const char *unit;
		double ns;
	} units[] = { { "ns", 1.0 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 } };
	const char *end;
	double v;

	if (scan_decimal(s, &v, &end) < 0)
		return fail(err, errlen, "%s: '%s' is not a time (expected e.g. 20ms or 500us)", key, s);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) != 0)
			continue;
		double ns = v * units[i].ns;

		if (ns > (double)RELAY_MAX_DELAY_NS)
			return fail(err, errlen, "%s: '%s' is above 100s", key, s);
		*out_ns = (int64_t)(ns + 0.5);
		return 0;
	}
	if (*end == '\0')
		return fail(err, errlen, "%s: '%s' needs a unit (ns, us, ms, s)", key, s);
	return fail(err, errlen, "%s: '%s' has an unknown unit '%s' (ns, us, ms, s)", key, s, end);
}

/* RATE := DECIMAL ("bit"|"kbit"|"mbit"|"gbit"), 1000-based like tc. */
static int parse_rate(const char *s, uint64_t *out_bps, char *err, size_t errlen)
{
	static const struct {
		const char *unit;
		double bps;
	} units[] = { { "bit", 1.0 }, { "kbit", 1e3 }, { "mbit", 1e6 }, { "gbit", 1e9 } };
	const char *end;
	double v;

	if (scan_decimal(s, &v, &end) < 0)
		return fail(err, errlen, "rate: '%s' is not a rate (expected e.g. 10mbit)", s);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) != 0)
			continue;
		double bps = v * units[i].bps;

		if (bps < (double)RELAY_MIN_RATE_BPS)
			return fail(err, errlen, "rate: '%s' is below 1kbit", s);
		if (bps > (double)RELAY_MAX_RATE_BPS)
			return fail(err, errlen, "rate: '%s' is above 1000gbit", s);
		*out_bps = (uint64_t)(bps + 0.5);
		return 0;
	}
	if (*end == '\0')
		return fail(err, errlen, "rate: '%s' needs a unit (bit, kbit, mbit, gbit)", s);
	return fail(err, errlen, "rate: '%s' has an unknown unit '%s' (bit, kbit, mbit, gbit)", s,
		    end);
}

/* SIZE := INTEGER ["b"|"k"|"m"], 1024-based. */
static int parse_size(const char *s, uint32_t *out, char *err, size_t errlen)
{
	const char *end;
	uint64_t v, mult;

	if (scan_integer(s, &v, &end) < 0)
		return fail(err, errlen, "burst: '%s' is not a size (expected e.g. 15000, 32k, 1m)", s);
	if (*end == '\0' || strcmp(end, "b") == 0)
		mult = 1;
	else if (strcmp(end, "k") == 0)
		mult = 1024;
	else if (strcmp(end, "m") == 0)
		mult = 1024 * 1024;
	else
		return fail(err, errlen, "burst: '%s' has an unknown unit (b, k, m)", s);
	if (v > RELAY_MAX_BURST_BYTES / mult)
		return fail(err, errlen, "burst: '%s' is above 64m", s);
	*out = (uint32_t)(v * mult);
	return 0;
}

static int parse_count(const char *key, const char *s, uint32_t *out, char *err, size_t errlen)
{
	const char *end;
	uint64_t v;

	if (scan_integer(s, &v, &end) < 0 || *end != '\0')
		return fail(err, errlen, "%s: '%s' is not a whole number of frames", key, s);
	if (v < 1 || v > RELAY_MAX_LIMIT)
		return fail(err, errlen, "%s: '%s' is outside 1..%u", key, s, RELAY_MAX_LIMIT);
	*out = (uint32_t)v;
	return 0;
}

/* loss = PCT | gemodel:P/R[/BAD[/GOOD]] */
static int parse_loss(char *value, struct relay_impair *imp, char *err, size_t errlen)
{
	static const char prefix[] = "gemodel:";

	if (strncmp(value, prefix, sizeof(prefix) - 1) != 0) {
		imp->loss_model = RELAY_LOSS_RANDOM;
		return parse_percent("loss", value, &imp->loss, err, errlen);
	}

	double *fields[4] = { &imp->ge_p, &imp->ge_r, &imp->ge_loss_bad, &imp->ge_loss_good };
	static const char *names[4] = { "loss gemodel p", "loss gemodel r", "loss gemodel 1-h",
					"loss gemodel 1-k" };
	char *rest = value + sizeof(prefix) - 1;
	int n = 0;

	imp->loss_model = RELAY_LOSS_GEMODEL;
	imp->ge_loss_bad = 1.0;
	imp->ge_loss_good = 0.0;
	for (;;) {
		char *slash = strchr(rest, '/');

		if (n == 4)
			return fail(err, errlen, "loss: gemodel takes at most 4 values (p/r/1-h/1-k)");
		if (slash)
			*slash = '\0';
		int rc = parse_percent(names[n], rest, fields[n], err, errlen);

		if (rc < 0)
			return rc;
		n++;
		if (!slash)
			break;
		rest = slash + 1;
	}
	if (n < 2)
		return fail(err, errlen, "loss: gemodel needs at least p/r (e.g. gemodel:1%%/30%%)");
	return 0;
}

/* delay = TIME[/TIME] */
static int parse_delay(char *value, struct relay_impair *imp, char *err, size_t errlen)
{
	char *slash = strchr(value, '/');
	int rc;

	imp->jitter_ns = 0;
	if (slash) {
		*slash = '\0';
		rc = parse_time("delay jitter", slash + 1, &imp->jitter_ns, err, errlen);
		if (rc < 0)
			return rc;
	}
	return parse_time("delay", value, &imp->delay_ns, err, errlen);
}

static int parse_item(char *item, struct relay_impair *imp, unsigned *seen, char *err,
		      size_t errlen)
{
	char *eq = strchr(item, '=');

	if (!eq)
		return fail(err, errlen, "'%s': expected key=value", item);
	*eq = '\0';
	char *key = item, *value = eq + 1;
	unsigned bit;
	int rc;

	if (*value == '\0')
		return fail(err, errlen, "%s: missing value", key);
	if (strcmp(key, "loss") == 0) {
		bit = RELAY_KEY_LOSS;
		rc = parse_loss(value, imp, err, errlen);
	} else if (strcmp(key, "delay") == 0) {
		bit = RELAY_KEY_DELAY;
		rc = parse_delay(value, imp, err, errlen);
	} else if (strcmp(key, "reorder") == 0) {
		bit = RELAY_KEY_REORDER;
		rc = parse_percent(key, value, &imp->reorder, err, errlen);
	} else if (strcmp(key, "dup") == 0) {
		bit = RELAY_KEY_DUP;
		rc = parse_percent(key, value, &imp->dup, err, errlen);
	} else if (strcmp(key, "corrupt") == 0) {
		bit = RELAY_KEY_CORRUPT;
		rc = parse_percent(key, value, &imp->corrupt, err, errlen);
	} else if (strcmp(key, "rate") == 0) {
		bit = RELAY_KEY_RATE;
		rc = parse_rate(value, &imp->rate_bps, err, errlen);
	} else if (strcmp(key, "burst") == 0) {
		bit = RELAY_KEY_BURST;
		rc = parse_size(value, &imp->burst_bytes, err, errlen);
	} else if (strcmp(key, "queue") == 0) {
		bit = RELAY_KEY_QUEUE;
		rc = parse_count(key, value, &imp->queue_frames, err, errlen);
	} else if (strcmp(key, "limit") == 0) {
		bit = RELAY_KEY_LIMIT;
		rc = parse_count(key, value, &imp->limit_frames, err, errlen);
	} else {
		return fail(err, errlen,
			    "%s: unknown key (known: loss, delay, reorder, dup, corrupt, rate, burst, queue, limit)",
			    key);
	}
	if (rc < 0)
		return rc;
	if (*seen & bit)
		return fail(err, errlen, "%s: given twice", key);
	*seen |= bit;
	imp->set |= bit;
	return 0;
}

int relay_spec_parse(const char *spec, struct relay_impair *imp, char *err, size_t errlen)
{
	char buf[SPEC_MAX_LEN];
	size_t len = strlen(spec);
	unsigned seen = 0;

	if (len >= sizeof(buf))
		return fail(err, errlen, "spec longer than %d characters", SPEC_MAX_LEN - 1);
	if (len == 0 || strcmp(spec, "none") == 0)
		return 0;
	memcpy(buf, spec, len + 1);

	char *item = buf;

	for (;;) {
		char *comma = strchr(item, ',');

		if (comma)
			*comma = '\0';
		if (*item == '\0')
			return fail(err, errlen, "empty item in '%s' (stray comma?)", spec);
		int rc = parse_item(item, imp, &seen, err, errlen);

		if (rc < 0)
			return rc;
		if (!comma)
			return 0;
		item = comma + 1;
	}
}

int relay_impair_validate(const struct relay_impair *imp, char *err, size_t errlen)
{
	if (imp->reorder > 0.0 && imp->delay_ns == 0)
		return fail(err, errlen, "reorder: needs delay= (reordered frames overtake delayed ones)");
	if ((imp->set & RELAY_KEY_BURST) && imp->rate_bps == 0)
		return fail(err, errlen, "burst: needs rate=");
	if ((imp->set & RELAY_KEY_QUEUE) && imp->rate_bps == 0)
		return fail(err, errlen, "queue: needs rate=");
	if (imp->queue_frames > imp->limit_frames && (imp->set & RELAY_KEY_QUEUE))
		return fail(err, errlen, "queue: %u is above limit=%u", imp->queue_frames,
			    imp->limit_frames);
	if (imp->loss_model == RELAY_LOSS_GEMODEL && imp->ge_p > 0.0 && imp->ge_r == 0.0)
		return fail(err, errlen, "loss: gemodel r=0%% never leaves the bad state");
	return 0;
}

/* Appends to buf at *pos, never past len; *pos keeps counting like snprintf. */
static void append(char *buf, size_t len, size_t *pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t len, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	size_t room = *pos < len ? len - *pos : 0;

	va_start(ap, fmt);
	int n = vsnprintf(room ? buf + *pos : NULL, room, fmt, ap);

	va_end(ap);
	if (n > 0)
		*pos += (size_t)n;
}

int relay_impair_format(const struct relay_impair *imp, char *buf, size_t len)
{
	size_t pos = 0;
	const char *sep = "";

	if (len)
		buf[0] = '\0';
	if (imp->loss_model == RELAY_LOSS_RANDOM) {
		append(buf, len, &pos, "%sloss=%g%%", sep, imp->loss * 100.0);
		sep = ",";
	} else if (imp->loss_model == RELAY_LOSS_GEMODEL) {
		append(buf, len, &pos, "%sloss=gemodel:%g%%/%g%%/%g%%/%g%%", sep, imp->ge_p * 100.0,
		       imp->ge_r * 100.0, imp->ge_loss_bad * 100.0, imp->ge_loss_good * 100.0);
		sep = ",";
	}
	if (imp->delay_ns || imp->jitter_ns) {
		append(buf, len, &pos, "%sdelay=%gms", sep, (double)imp->delay_ns / 1e6);
		if (imp->jitter_ns)
			append(buf, len, &pos, "/%gms", (double)imp->jitter_ns / 1e6);
		sep = ",";
	}
	if (imp->reorder > 0.0) {
		append(buf, len, &pos, "%sreorder=%g%%", sep, imp->reorder * 100.0);
		sep = ",";
	}
	if (imp->dup > 0.0) {
		append(buf, len, &pos, "%sdup=%g%%", sep, imp->dup * 100.0);
		sep = ",";
	}
	if (imp->corrupt > 0.0) {
		append(buf, len, &pos, "%scorrupt=%g%%", sep, imp->corrupt * 100.0);
		sep = ",";
	}
	if (imp->rate_bps) {
		append(buf, len, &pos, "%srate=%llubit,burst=%u,queue=%u", sep,
		       (unsigned long long)imp->rate_bps, imp->burst_bytes, imp->queue_frames);
		sep = ",";
	}
	append(buf, len, &pos, "%slimit=%u", sep, imp->limit_frames);
	return (int)pos;
}
