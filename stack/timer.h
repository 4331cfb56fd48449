/*
 * Stack timers: a libev ev_timer on the stack thread's loop, or, on a unit-test stack with a
 * virtual clock, an entry fired by stack_advance_clock(). Callbacks run with the stack lock held.
 * A timer is embedded in its owner (no allocation); re-arming an armed timer moves it.
 */
#ifndef USTACK_TIMER_H
#define USTACK_TIMER_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

struct ustack;
struct stack_timer;
typedef void (*stack_timer_fn)(struct ustack *st, struct stack_timer *t);

struct stack_timer {
	ev_timer ev;                 /* must stay first */
	struct ustack *st;
	stack_timer_fn fn;
	uint64_t deadline_us;
	bool armed;
	struct stack_timer *vnext;   /* virtual-clock list link */
};

void stack_timer_init(struct ustack *st, struct stack_timer *t, stack_timer_fn fn);
/* Arm (or re-arm) to fire delay_us from now. */
void stack_timer_arm(struct stack_timer *t, uint64_t delay_us);
void stack_timer_cancel(struct stack_timer *t);
static inline bool stack_timer_armed(const struct stack_timer *t) { return t->armed; }

#endif
