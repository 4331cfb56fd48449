/* The stack instance: start-up, the stack thread and its libev loop, the lock, the clock. */
#include "stack.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "arp.h"
#include "eth.h"
#include "icmp.h"
#include "ipv4.h"
#include "log.h"
#include "pcap.h"
#include "sock.h"
#include "tcp.h"
#include "timer.h"
#include "udp.h"

struct ustack *ustack_global;

/* pcap buffers are flushed on this period and at exit */
#define STACK_PCAP_FLUSH_US 1000000
static struct stack_timer stack_pcap_timer;

uint64_t stack_now_us(const struct ustack *st)
{
	struct timespec ts;

	if (st->virtual_clock)
		return st->virtual_now_us;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void stack_lock(struct ustack *st) { pthread_mutex_lock(&st->lock); }
void stack_unlock(struct ustack *st) { pthread_mutex_unlock(&st->lock); }

void stack_kick(struct ustack *st)
{
	if (st->loop && st->thread_running)
		ev_async_send(st->loop, &st->wakeup);
}

void stack_input_frame(struct ustack *st, uint8_t *frame, size_t len, uint32_t pkt_flags)
{
	struct pkt p;

	pkt_borrow(&p, frame, len, pkt_flags);
	eth_input(st, &p);
}

/* Module tables, in dependency order; torn down in reverse. */
static int stack_modules_init(struct ustack *st)
{
	int rc;

	if ((rc = sock_table_init(st)) < 0 || (rc = arp_init(st)) < 0 ||
	    (rc = ipv4_frag_init(st)) < 0 || (rc = icmp_init(st)) < 0 ||
	    (rc = udp_init(st)) < 0 || (rc = tcp_init(st)) < 0)
		return rc;
	return 0;
}

static void stack_modules_fini(struct ustack *st)
{
	tcp_fini(st);
	udp_fini(st);
	icmp_fini(st);
	ipv4_frag_fini(st);
	arp_fini(st);
	sock_table_fini(st);
}

static void stack_set_address(struct ustack *st, uint32_t ip, uint8_t prefix_len)
{
	st->ip_addr = ip;
	st->ip_netmask = prefix_len >= 32 ? 0xffffffffu : ~(0xffffffffu >> prefix_len);
}

static struct ustack *stack_alloc(void)
{
	struct ustack *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	pthread_condattr_t cattr;

	pthread_mutex_init(&st->lock, NULL);
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&st->exit_cond, &cattr);
	pthread_condattr_destroy(&cattr);
	if (getrandom(st->secret, sizeof(st->secret), 0) != (ssize_t)sizeof(st->secret)) {
		/* getrandom cannot fail for 16 bytes once the pool is ready; fall back anyway */
		uint64_t seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)st;
		memcpy(st->secret, &seed, sizeof(seed));
	}
	st->ip_next_id = (uint16_t)(st->secret[0] | (st->secret[1] << 8));
	return st;
}

struct ustack *stack_create_test(uint32_t ip, uint8_t prefix_len, const uint8_t mac[6], int mtu)
{
	struct ustack *st = stack_alloc();

	if (!st)
		return NULL;
	st->virtual_clock = true;
	st->virtual_now_us = 1000000;
	st->cfg.ip = ip;
	st->cfg.prefix_len = prefix_len;
	st->cfg.mtu = mtu;
	st->cfg.time_wait_ms = 60000;
	st->cfg.syn_retries = 6;
	st->cfg.log_level = US_LOG_WARN;
	snprintf(st->cfg.ifname, sizeof(st->cfg.ifname), "mem0");
	netdev_open_memory(&st->netdev, mac, mtu);
	st->mtu = mtu;
	stack_set_address(st, ip, prefix_len);
	if (stack_modules_init(st) < 0) {
		stack_destroy(st);
		return NULL;
	}
	return st;
}

void stack_destroy(struct ustack *st)
{
	if (!st)
		return;
	stack_modules_fini(st);
	if (st->pcap) {
		pcap_writer_close(st->pcap);
		st->pcap = NULL;
	}
	netdev_close(&st->netdev);
	if (st->loop)
		ev_loop_destroy(st->loop);
	pthread_mutex_destroy(&st->lock);
	pthread_cond_destroy(&st->exit_cond);
	free(st);
}

/* ---- the stack thread ---- */

static void stack_loop_release(struct ev_loop *loop)
{
	struct ustack *st = ev_userdata(loop);
	pthread_mutex_unlock(&st->lock);
}

static void stack_loop_acquire(struct ev_loop *loop)
{
	struct ustack *st = ev_userdata(loop);
	pthread_mutex_lock(&st->lock);
}

static void stack_rx_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)w;
	(void)revents;
	netdev_receive_all(ev_userdata(loop));
}

static bool stack_stopping;

static void stack_wakeup_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)w;
	(void)revents;
	if (stack_stopping)
		ev_break(loop, EVBREAK_ALL);
}

static void stack_pcap_flush_cb(struct ustack *st, struct stack_timer *t)
{
	pcap_writer_flush(st->pcap);
	stack_timer_arm(t, STACK_PCAP_FLUSH_US);
}

static void *stack_thread_main(void *arg)
{
	struct ustack *st = arg;
	sigset_t all;

	/* Signals belong to the application's threads: a handler interrupting their blocking
	 * calls must give EINTR there, so this thread never takes one. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&st->lock);
	ev_run(st->loop, 0);
	pthread_mutex_unlock(&st->lock);
	return NULL;
}

static int stack_open_outputs(struct ustack *st, char *err, size_t errlen)
{
	if (st->cfg.trace_dir[0] && mkdir(st->cfg.trace_dir, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create the trace directory %s (USTACK_TRACE / --trace): "
			 "%s", st->cfg.trace_dir, strerror(errno));
		return -errno;
	}
	if (st->cfg.pcap_path[0]) {
		st->pcap = pcap_writer_open(st->cfg.pcap_path, err, errlen);
		if (!st->pcap)
			return -EIO;
	}
	return 0;
}

static int stack_start_loop(struct ustack *st, char *err, size_t errlen)
{
	int rc;

	st->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
	if (!st->loop) {
		snprintf(err, errlen, "cannot create the event loop (libev)");
		return -ENOMEM;
	}
	ev_set_userdata(st->loop, st);
	ev_set_loop_release_cb(st->loop, stack_loop_release, stack_loop_acquire);
	ev_io_init(&st->rx_watcher, stack_rx_cb, st->netdev.fd, EV_READ);
	ev_io_start(st->loop, &st->rx_watcher);
	ev_async_init(&st->wakeup, stack_wakeup_cb);
	ev_async_start(st->loop, &st->wakeup);
	if (st->pcap) {
		stack_timer_init(st, &stack_pcap_timer, stack_pcap_flush_cb);
		stack_timer_arm(&stack_pcap_timer, STACK_PCAP_FLUSH_US);
	}
	stack_stopping = false;
	rc = pthread_create(&st->thread, NULL, stack_thread_main, st);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start the stack thread: %s", strerror(rc));
		return -rc;
	}
	st->thread_running = true;
	return 0;
}

int us_start(const struct us_config *cfg, char *err, size_t errlen)
{
	struct ustack *st;
	int rc;

	if (ustack_global)
		return 0;
	us_log_threshold = cfg->log_level;
	st = stack_alloc();
	if (!st) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	st->cfg = *cfg;
	if (!st->cfg.time_wait_ms)
		st->cfg.time_wait_ms = 60000;
	rc = netdev_open_packet(&st->netdev, cfg->ifname, err, errlen);
	if (rc < 0) {
		free(st);
		return rc;
	}
	st->mtu = cfg->mtu > 0 && cfg->mtu < st->netdev.mtu ? cfg->mtu : st->netdev.mtu;
	st->gateway = cfg->gateway;
	stack_set_address(st, cfg->ip, cfg->prefix_len);
	if ((rc = stack_modules_init(st)) < 0) {
		snprintf(err, errlen, "cannot initialise the stack: %s", strerror(-rc));
		goto fail;
	}
	if ((rc = stack_open_outputs(st, err, errlen)) < 0 ||
	    (rc = stack_start_loop(st, err, errlen)) < 0)
		goto fail;
	stack_lock(st);
	arp_announce(st);
	stack_unlock(st);
	ustack_global = st;
	return 0;
fail:
	stack_destroy(st);
	return rc;
}

bool us_running(void)
{
	return ustack_global != NULL;
}

void us_stop(void)
{
	struct ustack *st = ustack_global;

	if (!st)
		return;
	if (st->thread_running) {
		stack_lock(st);
		stack_stopping = true;
		ev_async_send(st->loop, &st->wakeup);
		stack_unlock(st);
		pthread_join(st->thread, NULL);
		st->thread_running = false;
	}
	ustack_global = NULL;
	if (st->pcap)
		pcap_writer_flush(st->pcap);
	stack_destroy(st);
}

/* The process is exiting (the shim's destructor): as the kernel would, close the TCP sockets the
 * program left open and let their data and FIN reach the peer — waiting up to timeout_ms, since
 * the stack ends with the process — then stop the stack thread. Nothing is freed: other threads
 * of the exiting program may still hold sockets. */
void us_exit(unsigned timeout_ms)
{
	struct ustack *st = ustack_global;
	struct timespec deadline;

	if (!st || !st->thread_running)
		return;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	stack_lock(st);
	st->exiting = true;
	sock_release_streams(st);
	while (tcp_unfinished(st) > 0)
		if (pthread_cond_timedwait(&st->exit_cond, &st->lock, &deadline) == ETIMEDOUT)
			break;
	if (tcp_unfinished(st) > 0)
		LOG_WARN("exiting with %u TCP connection(s) still delivering data",
			 tcp_unfinished(st));
	if (st->pcap)
		pcap_writer_flush(st->pcap);
	stack_stopping = true;
	ev_async_send(st->loop, &st->wakeup);
	stack_unlock(st);
	pthread_join(st->thread, NULL);
	st->thread_running = false;
}

void us_describe(char *buf, size_t len)
{
	struct ustack *st = ustack_global;
	const uint8_t *m;

	if (!st) {
		snprintf(buf, len, "not started");
		return;
	}
	m = st->netdev.mac;
	snprintf(buf, len, "interface %s, address %u.%u.%u.%u/%u, MAC %02x:%02x:%02x:%02x:%02x:%02x, "
		 "MTU %d", st->netdev.ifname, st->ip_addr >> 24, (st->ip_addr >> 16) & 0xff,
		 (st->ip_addr >> 8) & 0xff, st->ip_addr & 0xff, st->cfg.prefix_len, m[0], m[1], m[2],
		 m[3], m[4], m[5], st->mtu);
}
