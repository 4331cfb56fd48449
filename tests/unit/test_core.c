/* Core pieces: packet buffers, virtual-clock timers, USTACK_* configuration parsing. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "netdev.h"
#include "pkt.h"
#include "stack.h"
#include "timer.h"

/* ---- pkt ---- */

Test(pkt, push_put_pull_respect_bounds)
{
	struct pkt *p = pkt_alloc(100);

	cr_assert_not_null(p);
	cr_expect_eq(p->len, 0);
	cr_expect_not_null(pkt_put(p, 100));
	cr_expect_not_null(pkt_push(p, PKT_HEADROOM), "all the headroom is usable");
	cr_expect_null(pkt_push(p, 1), "no room before the headroom");
	cr_expect_eq(p->len, 100 + PKT_HEADROOM);
	cr_expect_null(pkt_pull(p, p->len + 1));
	cr_expect_not_null(pkt_pull(p, p->len));
	cr_expect_eq(p->len, 0);
	pkt_free(p);
	pkt_pool_drain();
}

Test(pkt, size_classes_and_reuse)
{
	struct pkt *small = pkt_alloc(1500), *large = pkt_alloc(65000);

	cr_assert_not_null(small);
	cr_assert_not_null(large);
	cr_expect_eq(small->size_class, 0);
	cr_expect_eq(large->size_class, 1);
	cr_expect_null(pkt_alloc(PKT_LARGE_SIZE), "beyond the largest class");
	pkt_free(small);
	cr_expect_eq(pkt_alloc(10), small, "freed buffers are reused: no malloc per packet");
	pkt_free(small);
	pkt_free(large);
	pkt_pool_drain();
}

Test(pkt, borrowed_buffers_are_not_freed)
{
	uint8_t frame[64];
	struct pkt p;

	pkt_borrow(&p, frame, sizeof(frame), PKT_F_CSUM_VALID);
	cr_expect_eq(p.data, frame);
	cr_expect_eq(p.flags, PKT_F_CSUM_VALID);
	pkt_free(&p);   /* must be a no-op */
	cr_expect_eq(p.len, sizeof(frame));
}

/* ---- timers on the virtual clock ---- */

static struct ustack *st;
static int fired[8], nfired;

static void record_fire(struct ustack *s, struct stack_timer *t)
{
	(void)s;
	fired[nfired++] = (int)(t->deadline_us / 1000);
}

static void timer_setup(void)
{
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 2 };
	st = stack_create_test(0xc0000202, 24, mac, 1500);
	cr_assert_not_null(st);
	nfired = 0;
}

static void timer_teardown(void)
{
	stack_destroy(st);
	pkt_pool_drain();
}

TestSuite(timer, .init = timer_setup, .fini = timer_teardown);

Test(timer, fire_in_deadline_order)
{
	struct stack_timer a, b, c;
	uint64_t start = stack_now_us(st);

	stack_timer_init(st, &a, record_fire);
	stack_timer_init(st, &b, record_fire);
	stack_timer_init(st, &c, record_fire);
	stack_timer_arm(&a, 300000);
	stack_timer_arm(&b, 100000);
	stack_timer_arm(&c, 200000);
	stack_advance_clock(st, 150000);
	cr_expect_eq(nfired, 1);
	cr_expect_eq(fired[0], (int)((start + 100000) / 1000));
	stack_advance_clock(st, 1000000);
	cr_expect_eq(nfired, 3);
	cr_expect_lt(fired[1], fired[2]);
	cr_expect_eq(stack_now_us(st), start + 1150000);
}

Test(timer, cancel_and_rearm)
{
	struct stack_timer a;

	stack_timer_init(st, &a, record_fire);
	stack_timer_arm(&a, 100000);
	stack_timer_cancel(&a);
	cr_expect(!stack_timer_armed(&a));
	stack_advance_clock(st, 200000);
	cr_expect_eq(nfired, 0);
	stack_timer_arm(&a, 100000);
	stack_timer_arm(&a, 500000);   /* re-arming moves it */
	stack_advance_clock(st, 200000);
	cr_expect_eq(nfired, 0);
	stack_advance_clock(st, 400000);
	cr_expect_eq(nfired, 1);
}

/* ---- configuration ---- */

static void clear_env(void)
{
	static const char *const vars[] = { "USTACK_IF", "USTACK_IP", "USTACK_GW", "USTACK_MTU",
		"USTACK_DNS", "USTACK_TRACE", "USTACK_PCAP", "USTACK_LOG", "USTACK_TIME_WAIT",
		"USTACK_SYN_RETRIES" };
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
}

TestSuite(config, .init = clear_env);

Test(config, full_configuration)
{
	struct us_config cfg;
	char err[256] = "";

	setenv("USTACK_IF", "veth9", 1);
	setenv("USTACK_IP", "192.0.2.2/25", 1);
	setenv("USTACK_GW", "192.0.2.1", 1);
	setenv("USTACK_MTU", "1400", 1);
	setenv("USTACK_LOG", "debug", 1);
	setenv("USTACK_TIME_WAIT", "2000", 1);
	cr_assert_eq(us_config_from_env(&cfg, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(cfg.ifname, "veth9");
	cr_expect_eq(cfg.ip, 0xc0000202);
	cr_expect_eq(cfg.prefix_len, 25);
	cr_expect_eq(cfg.gateway, 0xc0000201);
	cr_expect_eq(cfg.mtu, 1400);
	cr_expect_eq(cfg.log_level, US_LOG_DEBUG);
	cr_expect_eq(cfg.time_wait_ms, 2000);
	cr_expect_eq(cfg.syn_retries, 6, "Linux's default");
}

static void expect_rejected(const char *var, const char *value, const char *needle)
{
	struct us_config cfg;
	char err[256] = "";

	clear_env();
	setenv("USTACK_IF", "veth9", 1);
	setenv("USTACK_IP", "192.0.2.2/24", 1);
	setenv(var, value, 1);
	cr_expect_eq(us_config_from_env(&cfg, err, sizeof(err)), -EINVAL, "%s=%s accepted", var, value);
	cr_expect_not_null(strstr(err, needle), "%s=%s: message '%s' lacks '%s'", var, value, err, needle);
	cr_expect_null(strchr(err, '\n'), "one line");
}

Test(config, bad_values_name_the_variable)
{
	expect_rejected("USTACK_IP", "192.0.2.300/24", "USTACK_IP");
	expect_rejected("USTACK_IP", "192.0.2.2/33", "USTACK_IP");
	expect_rejected("USTACK_IP", "", "USTACK_IP is not set");
	expect_rejected("USTACK_GW", "gateway", "USTACK_GW");
	expect_rejected("USTACK_MTU", "100", "USTACK_MTU");
	expect_rejected("USTACK_MTU", "-5", "USTACK_MTU");
	expect_rejected("USTACK_LOG", "loud", "USTACK_LOG");
	expect_rejected("USTACK_TIME_WAIT", "soon", "USTACK_TIME_WAIT");
	expect_rejected("USTACK_IF", "an-interface-name-too-long", "USTACK_IF");
}

Test(config, missing_ip_explains_the_fix)
{
	struct us_config cfg;
	char err[256] = "";

	setenv("USTACK_IF", "veth9", 1);
	cr_expect_eq(us_config_from_env(&cfg, err, sizeof(err)), -EINVAL);
	cr_expect_not_null(strstr(err, "--ip"), "%s", err);
}

/* ---- netdev ---- */

Test(netdev, memory_netdev_keeps_frames_in_order)
{
	struct ustack *s;
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 2 };
	uint8_t f1[60] = { 1 }, f2[70] = { 2 }, out[100];

	s = stack_create_test(0xc0000202, 24, mac, 1500);
	cr_assert_not_null(s);
	netdev_memory_clear(&s->netdev);
	cr_expect_eq(netdev_transmit(s, f1, sizeof(f1)), 0);
	cr_expect_eq(netdev_transmit(s, f2, sizeof(f2)), 0);
	cr_expect_eq(netdev_transmit(s, out, 1515 + 14), -EMSGSIZE, "larger than MTU + header");
	cr_expect_eq(netdev_memory_pop(&s->netdev, out, sizeof(out)), sizeof(f1));
	cr_expect_eq(out[0], 1);
	cr_expect_eq(netdev_memory_pop(&s->netdev, out, sizeof(out)), sizeof(f2));
	cr_expect_eq(netdev_memory_pop(&s->netdev, out, sizeof(out)), 0);
	cr_expect_eq(s->counters.netdev_tx_frames, 2);
	cr_expect_eq(s->counters.netdev_tx_errors, 1);
	stack_destroy(s);
	pkt_pool_drain();
}
