/* Unit tests: impairment spec parsing, validation and formatting. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "../relay/relay_spec.h"

static struct relay_impair parse_ok(const char *spec)
{
	struct relay_impair imp;
	char err[256] = "";

	relay_impair_default(&imp);
	int rc = relay_spec_parse(spec, &imp, err, sizeof(err));

	cr_assert_eq(rc, 0, "spec '%s' refused: %s", spec, err);
	rc = relay_impair_validate(&imp, err, sizeof(err));
	cr_assert_eq(rc, 0, "spec '%s' invalid: %s", spec, err);
	return imp;
}

#define assert_near(a, b) cr_assert(fabs((a) - (b)) < 1e-12, "%.15g != %.15g", (double)(a), (double)(b))

Test(relay_spec, full_spec_sets_every_field)
{
	struct relay_impair imp =
		parse_ok("loss=1%,delay=20ms/5ms,reorder=10%,dup=1%,corrupt=0.1%,rate=100mbit,"
			 "burst=15k,queue=50,limit=500");

	cr_assert_eq(imp.loss_model, RELAY_LOSS_RANDOM);
	assert_near(imp.loss, 0.01);
	cr_assert_eq(imp.delay_ns, 20000000);
	cr_assert_eq(imp.jitter_ns, 5000000);
	assert_near(imp.reorder, 0.10);
	assert_near(imp.dup, 0.01);
	assert_near(imp.corrupt, 0.001);
	cr_assert_eq(imp.rate_bps, 100000000ULL);
	cr_assert_eq(imp.burst_bytes, 15 * 1024);
	cr_assert_eq(imp.queue_frames, 50);
	cr_assert_eq(imp.limit_frames, 500);
	cr_assert_eq(imp.set, RELAY_KEY_LOSS | RELAY_KEY_DELAY | RELAY_KEY_REORDER | RELAY_KEY_DUP |
				      RELAY_KEY_CORRUPT | RELAY_KEY_RATE | RELAY_KEY_BURST |
				      RELAY_KEY_QUEUE | RELAY_KEY_LIMIT);
}

Test(relay_spec, empty_and_none_impair_nothing)
{
	struct relay_impair a = parse_ok(""), b = parse_ok("none");

	cr_assert_eq(a.set, 0);
	cr_assert_eq(b.set, 0);
	cr_assert_eq(a.loss_model, RELAY_LOSS_NONE);
	cr_assert_eq(a.limit_frames, RELAY_DEFAULT_LIMIT);
}

Test(relay_spec, time_units)
{
	cr_assert_eq(parse_ok("delay=250ns").delay_ns, 250);
	cr_assert_eq(parse_ok("delay=1.5us").delay_ns, 1500);
	cr_assert_eq(parse_ok("delay=0.5ms").delay_ns, 500000);
	cr_assert_eq(parse_ok("delay=2s").delay_ns, 2000000000LL);
	cr_assert_eq(parse_ok("delay=20ms").jitter_ns, 0);
}

Test(relay_spec, rate_units_are_1000_based)
{
	cr_assert_eq(parse_ok("rate=1500bit").rate_bps, 1500ULL);
	cr_assert_eq(parse_ok("rate=64kbit").rate_bps, 64000ULL);
	cr_assert_eq(parse_ok("rate=2.5mbit").rate_bps, 2500000ULL);
	cr_assert_eq(parse_ok("rate=10gbit").rate_bps, 10000000000ULL);
}

Test(relay_spec, burst_sizes_are_1024_based)
{
	cr_assert_eq(parse_ok("rate=1mbit,burst=1514").burst_bytes, 1514);
	cr_assert_eq(parse_ok("rate=1mbit,burst=3000b").burst_bytes, 3000);
	cr_assert_eq(parse_ok("rate=1mbit,burst=32k").burst_bytes, 32768);
	cr_assert_eq(parse_ok("rate=1mbit,burst=2m").burst_bytes, 2 * 1048576);
}

Test(relay_spec, gemodel_two_values_default_h_and_k)
{
	struct relay_impair imp = parse_ok("loss=gemodel:1%/30%");

	cr_assert_eq(imp.loss_model, RELAY_LOSS_GEMODEL);
	assert_near(imp.ge_p, 0.01);
	assert_near(imp.ge_r, 0.30);
	assert_near(imp.ge_loss_bad, 1.0);
	assert_near(imp.ge_loss_good, 0.0);
}

Test(relay_spec, gemodel_four_values)
{
	struct relay_impair imp = parse_ok("loss=gemodel:2%/25%/80%/0.5%");

	assert_near(imp.ge_p, 0.02);
	assert_near(imp.ge_r, 0.25);
	assert_near(imp.ge_loss_bad, 0.80);
	assert_near(imp.ge_loss_good, 0.005);
}

Test(relay_spec, later_spec_overrides_only_named_keys)
{
	struct relay_impair imp;
	char err[256];

	relay_impair_default(&imp);
	cr_assert_eq(relay_spec_parse("loss=5%,delay=10ms", &imp, err, sizeof(err)), 0);
	cr_assert_eq(relay_spec_parse("delay=30ms/1ms,dup=2%", &imp, err, sizeof(err)), 0);
	assert_near(imp.loss, 0.05);
	cr_assert_eq(imp.delay_ns, 30000000);
	cr_assert_eq(imp.jitter_ns, 1000000);
	assert_near(imp.dup, 0.02);
}

struct bad_spec {
	const char *spec;
	const char *must_mention;
};

Test(relay_spec, bad_specs_name_the_field)
{
	static const struct bad_spec cases[] = {
		{ "delay=20", "delay" },
		{ "delay=20ms/", "delay jitter" },
		{ "delay=20msec", "delay" },
		{ "delay=-5ms", "delay" },
		{ "delay=1e3ms", "delay" },
		{ "delay=101s", "delay" },
		{ "loss=1", "loss" },
		{ "loss=101%", "loss" },
		{ "loss=-1%", "loss" },
		{ "loss=.5%", "loss" },
		{ "loss=5.%", "loss" },
		{ "loss=nan%", "loss" },
		{ "loss=1%%", "loss" },
		{ "loss=", "loss" },
		{ "loss=gemodel:1%", "gemodel" },
		{ "loss=gemodel:1%/2%/3%/4%/5%", "gemodel" },
		{ "loss=gemodel:1%/x", "loss gemodel r" },
		{ "dup=2", "dup" },
		{ "corrupt=0.1", "corrupt" },
		{ "reorder=ten%", "reorder" },
		{ "rate=100mbps", "rate" },
		{ "rate=100", "rate" },
		{ "rate=10bit", "rate" },
		{ "rate=2000gbit", "rate" },
		{ "burst=10q", "burst" },
		{ "burst=100m", "burst" },
		{ "queue=0", "queue" },
		{ "limit=70000", "limit" },
		{ "limit=1.5", "limit" },
		{ "jitter=5ms", "jitter" },
		{ "loss", "loss" },
		{ "loss=1%,,dup=1%", "empty item" },
		{ "loss=1%,", "empty item" },
		{ "loss=1%,loss=2%", "given twice" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct relay_impair imp;
		char err[256] = "";

		relay_impair_default(&imp);
		int rc = relay_spec_parse(cases[i].spec, &imp, err, sizeof(err));

		cr_expect_eq(rc, -EINVAL, "'%s' accepted", cases[i].spec);
		cr_expect(strstr(err, cases[i].must_mention) != NULL,
			  "'%s': error '%s' does not mention '%s'", cases[i].spec, err,
			  cases[i].must_mention);
		cr_expect(strchr(err, '\n') == NULL, "error is not one line: '%s'", err);
	}
}

static const char *validate_error(const char *spec)
{
	static char err[256];
	struct relay_impair imp;

	relay_impair_default(&imp);
	err[0] = '\0';
	cr_assert_eq(relay_spec_parse(spec, &imp, err, sizeof(err)), 0, "%s: %s", spec, err);
	if (relay_impair_validate(&imp, err, sizeof(err)) == 0)
		return NULL;
	return err;
}

Test(relay_spec, validate_cross_field_rules)
{
	const char *err;

	err = validate_error("reorder=10%");
	cr_assert(err && strstr(err, "reorder"), "reorder without delay accepted");
	err = validate_error("burst=10k");
	cr_assert(err && strstr(err, "burst"), "burst without rate accepted");
	err = validate_error("queue=10");
	cr_assert(err && strstr(err, "queue"), "queue without rate accepted");
	err = validate_error("rate=1mbit,queue=20,limit=10");
	cr_assert(err && strstr(err, "queue"), "queue above limit accepted");
	cr_assert_null(validate_error("reorder=10%,delay=1ms"));
	cr_assert_null(validate_error("rate=1mbit,queue=10,limit=10"));
}

Test(relay_spec, format_round_trips)
{
	static const char *specs[] = {
		"loss=1.5%,delay=20ms/5ms,reorder=10%,dup=1%,corrupt=0.1%,rate=100mbit,burst=15k,"
		"queue=50,limit=500",
		"loss=gemodel:1%/30%/90%/0.5%,delay=250us",
		"",
	};

	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		struct relay_impair first = parse_ok(specs[i]), second;
		char text[512], err[256];

		relay_impair_format(&first, text, sizeof(text));
		relay_impair_default(&second);
		cr_assert_eq(relay_spec_parse(text, &second, err, sizeof(err)), 0,
			     "formatted '%s' refused: %s", text, err);
		cr_assert_eq(second.loss_model, first.loss_model, "%s", text);
		assert_near(second.loss, first.loss);
		assert_near(second.ge_p, first.ge_p);
		assert_near(second.ge_loss_good, first.ge_loss_good);
		cr_assert_eq(second.delay_ns, first.delay_ns, "%s", text);
		cr_assert_eq(second.jitter_ns, first.jitter_ns, "%s", text);
		assert_near(second.reorder, first.reorder);
		assert_near(second.dup, first.dup);
		assert_near(second.corrupt, first.corrupt);
		cr_assert_eq(second.rate_bps, first.rate_bps, "%s", text);
		cr_assert_eq(second.burst_bytes, first.burst_bytes, "%s", text);
		cr_assert_eq(second.queue_frames, first.queue_frames, "%s", text);
		cr_assert_eq(second.limit_frames, first.limit_frames, "%s", text);
	}
}
