#include "timer.h"

#include <pthread.h>

#include "stack.h"

static void stack_timer_ev_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct stack_timer *t = (struct stack_timer *)w;

	(void)loop;
	(void)revents;
	t->armed = false;
	t->fn(t->st, t);
}

void stack_timer_init(struct ustack *st, struct stack_timer *t, stack_timer_fn fn)
{
	ev_timer_init(&t->ev, stack_timer_ev_cb, 0., 0.);
	t->st = st;
	t->fn = fn;
	t->deadline_us = 0;
	t->armed = false;
	t->vnext = NULL;
}

static void virtual_unlink(struct stack_timer *t)
{
	struct stack_timer **link = &t->st->virtual_timers;

	while (*link && *link != t)
		link = &(*link)->vnext;
	if (*link)
		*link = t->vnext;
	t->vnext = NULL;
}

/* Called with the stack lock held, from the stack thread or an application thread. libev is
 * driven under the same lock (the loop releases it only while it sleeps), so touching the
 * watcher here is safe; an application thread then wakes the loop so it recomputes its sleep. */
void stack_timer_arm(struct stack_timer *t, uint64_t delay_us)
{
	struct ustack *st = t->st;

	t->deadline_us = stack_now_us(st) + delay_us;
	if (st->virtual_clock) {
		if (!t->armed) {
			t->vnext = st->virtual_timers;
			st->virtual_timers = t;
		}
		t->armed = true;
		return;
	}
	bool off_thread = !st->thread_running || !pthread_equal(pthread_self(), st->thread);
	if (off_thread)
		ev_now_update(st->loop);
	ev_timer_stop(st->loop, &t->ev);
	ev_timer_set(&t->ev, (double)delay_us / 1e6, 0.);
	ev_timer_start(st->loop, &t->ev);
	t->armed = true;
	if (off_thread)
		stack_kick(st);
}

void stack_timer_cancel(struct stack_timer *t)
{
	if (!t->armed)
		return;
	t->armed = false;
	if (t->st->virtual_clock)
		virtual_unlink(t);
	else
		ev_timer_stop(t->st->loop, &t->ev);
}

/* Unit tests: fire due timers in deadline order; a callback may re-arm timers. */
void stack_advance_clock(struct ustack *st, uint64_t delta_us)
{
	uint64_t target = st->virtual_now_us + delta_us;

	for (;;) {
		struct stack_timer *due = NULL;
		for (struct stack_timer *t = st->virtual_timers; t; t = t->vnext)
			if (t->deadline_us <= target && (!due || t->deadline_us < due->deadline_us))
				due = t;
		if (!due)
			break;
		if (due->deadline_us > st->virtual_now_us)
			st->virtual_now_us = due->deadline_us;
		virtual_unlink(due);
		due->armed = false;
		due->fn(st, due);
	}
	st->virtual_now_us = target;
}
