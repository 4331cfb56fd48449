/*
 * The stack instance: one per process in production (the shim's), any number in unit tests.
 * Every module function takes `struct ustack *st` first. All state below is protected by
 * st->lock; the stack thread holds it while it processes frames and timers, application
 * threads hold it inside the us_* API.
 */
#ifndef USTACK_STACK_H
#define USTACK_STACK_H

#include <ev.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "counters.h"
#include "netdev.h"
#include "ustack/ustack.h"

struct arp_table;
struct ipv4_frag_table;
struct icmp_state;
struct udp_table;
struct tcp_table;
struct sock_table;
struct pcap_writer;
struct stack_timer;

struct ustack {
	struct us_config cfg;
	struct netdev netdev;
	uint32_t ip_addr;        /* host order */
	uint32_t ip_netmask;     /* host order */
	uint32_t gateway;        /* host order, 0 = none */
	int mtu;

	/* event loop (NULL for a unit-test stack driven with a virtual clock) */
	struct ev_loop *loop;
	ev_io rx_watcher;
	ev_async wakeup;
	pthread_t thread;
	bool thread_running;
	pthread_mutex_t lock;
	pthread_cond_t exit_cond;   /* signalled on TCP state changes while exiting */
	bool exiting;               /* us_exit: the process is ending */

	/* clock: CLOCK_MONOTONIC, or a virtual clock in unit tests */
	bool virtual_clock;
	uint64_t virtual_now_us;
	struct stack_timer *virtual_timers;  /* armed timers, virtual-clock mode only */

	struct stack_counters counters;
	uint16_t ip_next_id;

	struct arp_table *arp;
	struct ipv4_frag_table *frag;
	struct icmp_state *icmp;
	struct udp_table *udp;
	struct tcp_table *tcp;
	struct sock_table *socks;
	struct pcap_writer *pcap;
	uint8_t secret[16];       /* per-process key: ISN (RFC 6528), port choice (RFC 6056) */
};

/* Create a stack that is not attached to an interface or thread: its netdev is a memory
 * netdev (netdev_memory_*), its clock virtual (starts at 1 s). For unit tests. */
struct ustack *stack_create_test(uint32_t ip, uint8_t prefix_len, const uint8_t mac[6], int mtu);
void stack_destroy(struct ustack *st);
/* Advance the virtual clock, firing every timer that falls due, in deadline order. */
void stack_advance_clock(struct ustack *st, uint64_t delta_us);

/* Process one received frame (netdev or tests). Does not keep the buffer. */
void stack_input_frame(struct ustack *st, uint8_t *frame, size_t len, uint32_t pkt_flags);

/* Monotonic time in microseconds (virtual in tests). */
uint64_t stack_now_us(const struct ustack *st);
static inline uint64_t stack_now_ms(const struct ustack *st) { return stack_now_us(st) / 1000; }

/* Wake the stack thread (ev_async) after an application thread queued work for it. */
void stack_kick(struct ustack *st);

void stack_lock(struct ustack *st);
void stack_unlock(struct ustack *st);

/* The process-wide stack used by the us_* API (NULL until us_start). */
extern struct ustack *ustack_global;

#endif
