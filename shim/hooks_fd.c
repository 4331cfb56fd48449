/*
 * fd-level hooks: fcntl and fcntl64 (glibc >= 2.28 programs import fcntl64), ioctl, dup, dup2,
 * dup3, close_range.
 *
 * The application fd of a ustack socket is a real kernel fd, so the kernel does the fd work
 * (F_GETFL/F_SETFL/F_GETFD/F_SETFD, dup*, close_range); the shim only keeps its table in step:
 * a duplicate refers to the same socket, O_NONBLOCK is cached for the blocking decision.
 */
#include <linux/sockios.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "shim.h"

/* newfd now refers to whatever oldfd refers to: the same socket, or (oldfd not ustack) nothing
 * of ours, in which case an entry left for newfd is stale. Returns newfd or -errno. */
static int shim_dup_track(int oldfd, int newfd)
{
	struct shim_sock *ss;
	int r = newfd;

	shim_guard++;
	ss = fdtable_get(oldfd);
	if (ss) {
		if (fdtable_add(newfd, ss) < 0) {
			REAL(close)(newfd);
			r = -ENOMEM;
		}
		fdtable_put(ss);
	} else {
		fdtable_remove(newfd);
	}
	shim_guard--;
	return r;
}

static bool shim_fd_calls_pass(void)
{
	return shim_guard || fdtable_count() == 0;
}

static int shim_fcntl(int (*real)(int, int, ...), int fd, int cmd, void *arg)
{
	struct shim_sock *ss;
	int saved = errno, r;

	if (shim_fd_calls_pass())
		return real(fd, cmd, arg);
	r = real(fd, cmd, arg);
	if (r < 0)
		return r;
	switch (cmd) {
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		return (int)shim_result(shim_dup_track(fd, r), saved);
	case F_SETFL:
		ss = fdtable_get(fd);
		if (ss) {
			fdtable_set_nonblock(ss, ((int)(intptr_t)arg & O_NONBLOCK) != 0);
			shim_leave(ss);
		}
		break;
	default:
		break;
	}
	return r;
}

int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return shim_fcntl(REAL(fcntl), fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return shim_fcntl(REAL(fcntl64), fd, cmd, arg);
}

/* FIONBIO goes to the kernel and into the cache; FIONREAD/SIOCINQ, SIOCOUTQ and SIOCATMARK
 * are the stack's; other requests go to the kernel fd. */
static int shim_ioctl_sock(struct shim_sock *ss, int fd, unsigned long req, void *arg)
{
	int r, value = 0;

	/* arg may be unaligned (the kernel copies bytes): read and write it with memcpy */
	switch (req) {
	case FIONBIO:
		r = REAL(ioctl)(fd, req, arg);
		if (r == 0) {
			memcpy(&value, arg, sizeof(value));
			fdtable_set_nonblock(ss, value != 0);
		}
		return r < 0 ? -errno : r;
	case FIONREAD:
		if (shim_forked_child)
			return -ENETDOWN;
		r = SHIM_STACK(us_ioctl_inq(ss->us, &value));
		break;
	case SIOCOUTQ:
		if (shim_forked_child)
			return -ENETDOWN;
		r = SHIM_STACK(us_ioctl_outq(ss->us, &value));
		break;
	case SIOCATMARK:
		r = 0;  /* no urgent data is ever marked */
		break;
	default:
		r = REAL(ioctl)(fd, req, arg);
		return r < 0 ? -errno : r;
	}
	if (r < 0)
		return r;
	if (!arg)
		return -EFAULT;
	memcpy(arg, &value, sizeof(value));
	return 0;
}

int ioctl(int fd, unsigned long req, ...)
{
	struct shim_sock *ss;
	va_list ap;
	void *arg;
	int saved = errno, r;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	ss = shim_enter(fd);
	if (!ss)
		return REAL(ioctl)(fd, req, arg);
	r = shim_ioctl_sock(ss, fd, req, arg);
	shim_leave(ss);
	return (int)shim_result(r, saved);
}

int dup(int oldfd)
{
	int saved = errno, r = REAL(dup)(oldfd);

	if (r < 0 || shim_fd_calls_pass())
		return r;
	return (int)shim_result(shim_dup_track(oldfd, r), saved);
}

/* dup2/dup3 onto a ustack fd: the kernel closes newfd inside the call, so its entry leaves the
 * table first (moving the stack off that number if the socket has another fd), and its
 * reference goes after (us_close if it was the last). A failed call puts the entry back. */
static int shim_dup_onto(int oldfd, int newfd, int flags, bool dup3_call)
{
	struct shim_sock *replaced = NULL;
	int saved = errno, r, err;

	shim_guard++;
	if (REAL(fcntl)(oldfd, F_GETFD) >= 0)
		replaced = fdtable_take(newfd);
	shim_guard--;
	r = dup3_call ? REAL(dup3)(oldfd, newfd, flags) : REAL(dup2)(oldfd, newfd);
	if (r < 0) {
		err = errno;
		if (replaced) {
			fdtable_add(newfd, replaced);
			shim_leave(replaced);
		}
		errno = err;
		return -1;
	}
	r = shim_dup_track(oldfd, newfd);
	if (replaced)
		shim_leave(replaced);
	return (int)shim_result(r, saved);
}

int dup2(int oldfd, int newfd)
{
	if (oldfd == newfd || shim_fd_calls_pass())
		return REAL(dup2)(oldfd, newfd);
	return shim_dup_onto(oldfd, newfd, 0, false);
}

int dup3(int oldfd, int newfd, int flags)
{
	if (oldfd == newfd || shim_fd_calls_pass())
		return REAL(dup3)(oldfd, newfd, flags);
	return shim_dup_onto(oldfd, newfd, flags, true);
}

/* ustack fds in the range are closed one by one through close() (which keeps the stack off
 * numbers the kernel is about to free), then the kernel closes the rest. */
int close_range(unsigned int first, unsigned int last, int flags)
{
	int fds[64];
	size_t n;

	if (!REAL(close_range)) {
		errno = ENOSYS;
		return -1;
	}
	if (!(flags & CLOSE_RANGE_CLOEXEC) && !shim_fd_calls_pass() && first <= last) {
		while ((n = fdtable_list_range(first, last, fds, 64)) > 0) {
			for (size_t i = 0; i < n && i < 64; i++)
				close(fds[i]);
		}
	}
	return REAL(close_range)(first, last, flags);
}
