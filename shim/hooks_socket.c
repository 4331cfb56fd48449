/*
 * Socket life-cycle and control hooks: socket, bind, listen, accept, accept4, connect, shutdown,
 * close, getsockname, getpeername, getsockopt, setsockopt.
 *
 * Only AF_INET SOCK_STREAM/SOCK_DGRAM sockets (protocol 0, TCP or UDP) are ustack's; every
 * other socket, and every fd the table does not know, goes to libc untouched.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <unistd.h>

#include "shim.h"

/* A forked child's inherited ustack sockets only close (shim/README.md, "fork and exec"). */
static inline int shim_usable(void)
{
	return shim_forked_child ? -ENETDOWN : 0;
}

static bool shim_socket_is_ours(int domain, int base_type, int protocol)
{
	if (domain != AF_INET)
		return false;
	if (base_type == SOCK_STREAM)
		return protocol == 0 || protocol == IPPROTO_TCP;
	if (base_type == SOCK_DGRAM)
		return protocol == 0 || protocol == IPPROTO_UDP;
	return false;
}

/* Enter a new stack socket in the fd table (its fd is us_sock_fd). On failure the socket is
 * closed and -errno returned; else the fd. */
static int shim_register(struct us_sock *us, int type, bool nonblock)
{
	int fd = us_sock_fd(us);
	struct shim_sock *ss;
	int flags;

	if (nonblock) {
		flags = REAL(fcntl)(fd, F_GETFL);
		if (flags < 0 || REAL(fcntl)(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
			int err = errno;

			REAL(close)(fd);
			us_close(us);
			return -err;
		}
	}
	ss = fdtable_sock_new(us, type, fd, nonblock);
	if (!ss || fdtable_add(fd, ss) < 0) {
		free(ss);
		REAL(close)(fd);
		us_close(us);
		return -ENOMEM;
	}
	fdtable_put(ss);  /* the table's reference keeps it */
	return fd;
}

int socket(int domain, int type, int protocol)
{
	int base_type = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
	int saved = errno;
	struct us_sock *us;
	int r;

	if (shim_guard || !shim_socket_is_ours(domain, base_type, protocol))
		return REAL(socket)(domain, type, protocol);
	r = shim_stack_ensure();
	if (r < 0)
		return (int)shim_result(r, saved);
	shim_guard++;
	r = us_socket(base_type, protocol, (type & SOCK_CLOEXEC) != 0, &us);
	if (r >= 0)
		r = shim_register(us, base_type, (type & SOCK_NONBLOCK) != 0);
	shim_guard--;
	return (int)shim_result(r, saved);
}

int bind(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	struct shim_sock *ss = shim_enter(fd);
	int saved = errno;
	long r;

	if (!ss)
		return REAL(bind)(fd, addr.__sockaddr__, len);
	r = shim_usable() ?: SHIM_STACK(us_bind(ss->us, addr.__sockaddr__, len));
	shim_leave(ss);
	return (int)shim_result(r, saved);
}

int listen(int fd, int backlog)
{
	struct shim_sock *ss = shim_enter(fd);
	int saved = errno;
	long r;

	if (!ss)
		return REAL(listen)(fd, backlog);
	r = shim_usable() ?: SHIM_STACK(us_listen(ss->us, backlog));
	shim_leave(ss);
	return (int)shim_result(r, saved);
}

/* Wait for a connection unless the socket is non-blocking. */
static int shim_accept(struct shim_sock *ss, struct sockaddr *addr, socklen_t *len, int flags)
{
	struct us_sock *child;
	int r, w;

	if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
		return -EINVAL;
	if (shim_forked_child)
		return -ENETDOWN;
	for (;;) {
		r = SHIM_STACK(us_accept(ss->us, (flags & SOCK_CLOEXEC) != 0, &child, addr, len));
		if (r != -EAGAIN || fdtable_nonblock(ss))
			break;
		w = SHIM_STACK(us_wait(ss->us, US_WANT_READ));
		if (w < 0)
			return w;
	}
	if (r < 0)
		return r;
	shim_guard++;
	r = shim_register(child, ss->type, (flags & SOCK_NONBLOCK) != 0);
	shim_guard--;
	return r;
}

int accept4(int fd, __SOCKADDR_ARG addr, socklen_t *restrict len, int flags)
{
	struct shim_sock *ss = shim_enter(fd);
	int saved = errno;
	int r;

	if (!ss)
		return REAL(accept4)(fd, addr.__sockaddr__, len, flags);
	r = shim_accept(ss, addr.__sockaddr__, len, flags);
	shim_leave(ss);
	return (int)shim_result(r, saved);
}

int accept(int fd, __SOCKADDR_ARG addr, socklen_t *restrict len)
{
	struct shim_sock *ss = shim_enter(fd);
	int saved = errno;
	int r;

	if (!ss)
		return REAL(accept)(fd, addr.__sockaddr__, len);
	r = shim_accept(ss, addr.__sockaddr__, len, 0);
	shim_leave(ss);
	return (int)shim_result(r, saved);
}

/* A blocking connect waits until the handshake is over, then SO_ERROR gives the result. An
 * interrupted wait leaves the connection going on in the background (EINTR, then EALREADY),
 * an expired SO_SNDTIMEO gives EINPROGRESS, as on the kernel. */
static int shim_connect(struct shim_sock *ss, const struct sockaddr *addr, socklen_t len)
{
	int r, w, err = 0;
	socklen_t errlen = sizeof(err);

	if (shim_forked_child)
		return -ENETDOWN;
	r = SHIM_STACK(us_connect(ss->us, addr, len));
	if (r != -EINPROGRESS || fdtable_nonblock(ss))
		return r;
	while (!(SHIM_STACK(us_poll_mask(ss->us)) & (POLLOUT | POLLERR | POLLHUP))) {
		w = SHIM_STACK(us_wait(ss->us, US_WANT_WRITE));
		if (w == -EAGAIN)
			return -EINPROGRESS;
		if (w < 0)
			return w;
	}
	/* as the kernel's connect does after its wait: the outcome is reported by connect itself
	 * (0, or the error, which is then consumed — a later connect starts a new attempt) */
	r = SHIM_STACK(us_connect(ss->us, addr, len));
	if (r != -EALREADY && r != -EINPROGRESS)
		return r;
	r = SHIM_STACK(us_getsockopt(ss->us, SOL_SOCKET, SO_ERROR, &err, &errlen));
	if (r < 0)
		return r;
	return err ? -err : 0;
}

int connect(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	struct shim_sock *ss = shim_enter(fd);
	int saved = errno;
	int r;

	if (!ss)
		return REAL(connect)(fd, addr.__sockaddr__, len);
	r = shim_connect(ss, addr.__sockaddr__, len);
	shim_leave(ss);
	return (int)shim_result(r, saved);
}

int shutdown(int fd, int how)
{
	struct shim_sock *ss = shim_enter(fd);
	int saved = errno;
	long r;

	if (!ss)
		return REAL(shutdown)(fd, how);
	r = shim_usable() ?: SHIM_STACK(us_shutdown(ss->us, how));
	shim_leave(ss);
	return (int)shim_result(r, saved);
}

/* The fd leaves the table first, then the kernel closes it; the socket goes (us_close) with
 * its last fd and the last call in progress on it. */
int close(int fd)
{
	struct shim_sock *ss;
	int r, err;

	if (shim_guard)
		return REAL(close)(fd);
	ss = fdtable_take(fd);
	r = REAL(close)(fd);
	if (ss) {
		err = errno;
		shim_leave(ss);
		errno = err;
	}
	return r;
}

int getsockname(int fd, __SOCKADDR_ARG addr, socklen_t *restrict len)
{
	struct shim_sock *ss = shim_enter(fd);
	int saved = errno;
	long r;

	if (!ss)
		return REAL(getsockname)(fd, addr.__sockaddr__, len);
	r = shim_usable() ?: SHIM_STACK(us_getsockname(ss->us, addr.__sockaddr__, len));
	shim_leave(ss);
	return (int)shim_result(r, saved);
}

int getpeername(int fd, __SOCKADDR_ARG addr, socklen_t *restrict len)
{
	struct shim_sock *ss = shim_enter(fd);
	int saved = errno;
	long r;

	if (!ss)
		return REAL(getpeername)(fd, addr.__sockaddr__, len);
	r = shim_usable() ?: SHIM_STACK(us_getpeername(ss->us, addr.__sockaddr__, len));
	shim_leave(ss);
	return (int)shim_result(r, saved);
}

int getsockopt(int fd, int level, int name, void *restrict val, socklen_t *restrict len)
{
	struct shim_sock *ss = shim_enter(fd);
	int saved = errno;
	long r;

	if (!ss)
		return REAL(getsockopt)(fd, level, name, val, len);
	r = shim_usable() ?: SHIM_STACK(us_getsockopt(ss->us, level, name, val, len));
	shim_leave(ss);
	return (int)shim_result(r, saved);
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	struct shim_sock *ss = shim_enter(fd);
	int saved = errno;
	long r;

	if (!ss)
		return REAL(setsockopt)(fd, level, name, val, len);
	r = shim_usable() ?: SHIM_STACK(us_setsockopt(ss->us, level, name, val, len));
	shim_leave(ss);
	return (int)shim_result(r, saved);
}
