/*
 * poll, ppoll and their fortified forms. The kernel waits on every fd (ustack fds are real
 * kernel fds whose readiness the stack mirrors, stack/sock.h), so there is one wait for both
 * kinds of fd. Afterwards, for each ustack fd the kernel reported something on, revents becomes
 * the stack's own mask: the mirror cannot show a transient POLLERR (a UDP socket's pending
 * ICMP error), the stack's mask can. select/pselect and epoll need no hook: the kernel's
 * answer on the mirror fd is already the socket's readiness.
 */
#include "shim.h"

/* Never turns a reported fd into a silent one: if the stack's mask has none of the asked-for
 * bits (a mirror update in flight), the kernel's answer stands, so the return count holds. */
static void shim_poll_refine(struct pollfd *fds, nfds_t nfds, int ready)
{
	struct shim_sock *ss;
	int mask;

	if (ready <= 0 || shim_guard || shim_forked_child || fdtable_count() == 0)
		return;
	for (nfds_t i = 0; i < nfds; i++) {
		if (!fds[i].revents || fds[i].fd < 0)
			continue;
		ss = fdtable_get(fds[i].fd);
		if (!ss)
			continue;
		mask = SHIM_STACK(us_poll_mask(ss->us)) & (fds[i].events | POLLERR | POLLHUP);
		if (mask)
			fds[i].revents = (short)mask;
		shim_leave(ss);
	}
}

int poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	int saved, r = REAL(poll)(fds, nfds, timeout);

	saved = errno;
	shim_poll_refine(fds, nfds, r);
	errno = saved;
	return r;
}

int ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *timeout,
	  const sigset_t *sigmask)
{
	int saved, r = REAL(ppoll)(fds, nfds, timeout, sigmask);

	saved = errno;
	shim_poll_refine(fds, nfds, r);
	errno = saved;
	return r;
}

int __poll_chk(struct pollfd *fds, nfds_t nfds, int timeout, size_t fdslen)
{
	if (fdslen / sizeof(*fds) < nfds)
		__chk_fail();
	return poll(fds, nfds, timeout);
}

int __ppoll_chk(struct pollfd *fds, nfds_t nfds, const struct timespec *timeout,
		const sigset_t *sigmask, size_t fdslen)
{
	if (fdslen / sizeof(*fds) < nfds)
		__chk_fail();
	return ppoll(fds, nfds, timeout, sigmask);
}
