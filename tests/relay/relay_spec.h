/* relay_spec.h — the impairment description of one direction, and its parser.
 *
 * Grammar (see tests/relay/README.md for the full story):
 *
 *   SPEC    := "" | "none" | ITEM ("," ITEM)*
 *   ITEM    := KEY "=" VALUE
 *   loss    = PCT | "gemodel:" PCT "/" PCT ["/" PCT ["/" PCT]]
 *   delay   = TIME ["/" TIME]          base delay / uniform jitter
 *   reorder = PCT                      needs delay > 0
 *   dup     = PCT
 *   corrupt = PCT
 *   rate    = RATE                     token bucket; needs nothing else
 *   burst   = SIZE                     bucket depth; needs rate
 *   queue   = N                        frames waiting for the rate; needs rate
 *   limit   = N                        frames held in this direction
 *   PCT  := DECIMAL "%"                0% .. 100%
 *   TIME := DECIMAL ("ns"|"us"|"ms"|"s")
 *   RATE := DECIMAL ("bit"|"kbit"|"mbit"|"gbit")   1000-based, >= 1kbit
 *   SIZE := INTEGER ["b"|"k"|"m"]      1024-based
 *
 * Parsing only writes the fields a spec names, so `--both` can be applied
 * first and a per-direction spec on top of it.
 */
#ifndef RELAY_SPEC_H
#define RELAY_SPEC_H

#include <stddef.h>
#include <stdint.h>

enum relay_loss_model {
	RELAY_LOSS_NONE = 0,
	RELAY_LOSS_RANDOM,  /* independent (Bernoulli) loss */
	RELAY_LOSS_GEMODEL, /* Gilbert-Elliott two-state bursty loss */
};

/* Bits of relay_impair.set: which keys a spec named. */
enum relay_spec_key {
	RELAY_KEY_LOSS = 1u << 0,
	RELAY_KEY_DELAY = 1u << 1,
	RELAY_KEY_REORDER = 1u << 2,
	RELAY_KEY_DUP = 1u << 3,
	RELAY_KEY_CORRUPT = 1u << 4,
	RELAY_KEY_RATE = 1u << 5,
	RELAY_KEY_BURST = 1u << 6,
	RELAY_KEY_QUEUE = 1u << 7,
	RELAY_KEY_LIMIT = 1u << 8,
};

#define RELAY_DEFAULT_LIMIT 1000u   /* frames held per direction */
#define RELAY_MAX_LIMIT 65536u
#define RELAY_MAX_DELAY_NS (100LL * 1000000000LL)
#define RELAY_MIN_RATE_BPS 1000ULL
#define RELAY_MAX_RATE_BPS 1000000000000ULL
#define RELAY_MAX_BURST_BYTES (64u * 1024u * 1024u)

/* Probabilities are fractions in [0, 1]; times in nanoseconds. */
struct relay_impair {
	enum relay_loss_model loss_model;
	double loss;           /* RANDOM: probability a frame is lost */
	double ge_p;           /* GEMODEL: P(good -> bad) per frame */
	double ge_r;           /* GEMODEL: P(bad -> good) per frame */
	double ge_loss_bad;    /* GEMODEL: loss probability in bad state (1-h) */
	double ge_loss_good;   /* GEMODEL: loss probability in good state (1-k) */
	int64_t delay_ns;
	int64_t jitter_ns;     /* delay is uniform in [delay-jitter, delay+jitter] */
	double reorder;        /* probability a frame skips the delay */
	double dup;            /* probability a second copy is sent */
	double corrupt;        /* probability one bit after the Ethernet header flips */
	uint64_t rate_bps;     /* 0: unlimited */
	uint32_t burst_bytes;  /* token bucket depth; 0: pure serialization */
	uint32_t queue_frames; /* frames waiting for the rate (tail-drop above) */
	uint32_t limit_frames; /* frames held in the direction (tail-drop above) */
	unsigned set;          /* RELAY_KEY_* bits a parse wrote */
};

/* No impairment, limit = RELAY_DEFAULT_LIMIT, queue = limit. */
void relay_impair_default(struct relay_impair *imp);

/* Parse SPEC on top of *imp.  Returns 0, or -EINVAL with a one-line reason
 * naming the bad field in err (e.g. "delay: '20' needs a unit (ns, us, ms, s)").
 * On error *imp may be partly written. */
int relay_spec_parse(const char *spec, struct relay_impair *imp, char *err, size_t errlen);

/* Cross-field checks after all specs are merged (reorder needs delay, burst
 * and queue need rate, queue <= limit).  0 or -EINVAL with err filled. */
int relay_impair_validate(const struct relay_impair *imp, char *err, size_t errlen);

/* Canonical one-line form (just "limit=N" when nothing is impaired); returns the
 * length snprintf would write. */
int relay_impair_format(const struct relay_impair *imp, char *buf, size_t len);

#endif
