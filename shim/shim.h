/*
 * Private interface of libustack.so (the LD_PRELOAD shim): the per-thread guard, the real libc
 * functions, stack start-up and the helpers every hook shares.
 *
 * How a hook decides (hooks_*.c):
 *   1. shim_guard set (this thread is inside the shim or the stack)  -> the real libc function;
 *   2. the fd is not in the fd table (fdtable.h)                     -> the real libc function;
 *   3. otherwise the call goes to the stack through include/ustack/ustack.h, holding a reference
 *      on the socket for its duration, with the guard set while the stack runs.
 * Blocking is the shim's: the stack never blocks, it returns -EAGAIN and the shim sleeps in
 * us_wait() unless the open file is O_NONBLOCK or the call says MSG_DONTWAIT.
 */
#ifndef USTACK_SHIM_H
#define USTACK_SHIM_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "fdtable.h"
#include "ustack/ustack.h"

#define SHIM_TLS __thread __attribute__((tls_model("initial-exec")))

/* Depth of shim/stack code on this thread's call stack; hooks pass straight to libc while set. */
extern SHIM_TLS int shim_guard;

/* Set in a child made by fork() while the parent's stack was running: the child has no stack
 * thread, so its inherited ustack sockets only close, and it cannot create new ones
 * (shim/README.md, "fork and exec"). */
extern bool shim_forked_child;

/* The libc functions the hooks stand in front of, found with dlsym(RTLD_NEXT). */
#define SHIM_REAL_FUNCTIONS(X)                                                         \
	X(int, socket, (int, int, int))                                                \
	X(int, bind, (int, const struct sockaddr *, socklen_t))                        \
	X(int, listen, (int, int))                                                     \
	X(int, accept, (int, struct sockaddr *, socklen_t *))                          \
	X(int, accept4, (int, struct sockaddr *, socklen_t *, int))                    \
	X(int, connect, (int, const struct sockaddr *, socklen_t))                     \
	X(int, shutdown, (int, int))                                                   \
	X(int, close, (int))                                                           \
	X(int, getsockname, (int, struct sockaddr *, socklen_t *))                     \
	X(int, getpeername, (int, struct sockaddr *, socklen_t *))                     \
	X(int, getsockopt, (int, int, int, void *, socklen_t *))                       \
	X(int, setsockopt, (int, int, int, const void *, socklen_t))                   \
	X(ssize_t, send, (int, const void *, size_t, int))                             \
	X(ssize_t, sendto, (int, const void *, size_t, int, const struct sockaddr *,   \
			    socklen_t))                                                \
	X(ssize_t, sendmsg, (int, const struct msghdr *, int))                         \
	X(int, sendmmsg, (int, struct mmsghdr *, unsigned int, int))                   \
	X(ssize_t, recv, (int, void *, size_t, int))                                   \
	X(ssize_t, recvfrom, (int, void *, size_t, int, struct sockaddr *,             \
			      socklen_t *))                                            \
	X(ssize_t, recvmsg, (int, struct msghdr *, int))                               \
	X(int, recvmmsg, (int, struct mmsghdr *, unsigned int, int, struct timespec *)) \
	X(ssize_t, read, (int, void *, size_t))                                        \
	X(ssize_t, write, (int, const void *, size_t))                                 \
	X(ssize_t, readv, (int, const struct iovec *, int))                            \
	X(ssize_t, writev, (int, const struct iovec *, int))                           \
	X(ssize_t, sendfile, (int, int, off_t *, size_t))                              \
	X(ssize_t, sendfile64, (int, int, off64_t *, size_t))                          \
	X(ssize_t, __recv_chk, (int, void *, size_t, size_t, int))                     \
	X(ssize_t, __recvfrom_chk, (int, void *, size_t, size_t, int,                  \
				    struct sockaddr *, socklen_t *))                   \
	X(ssize_t, __read_chk, (int, void *, size_t, size_t))                          \
	X(int, fcntl, (int, int, ...))                                                 \
	X(int, fcntl64, (int, int, ...))                                               \
	X(int, ioctl, (int, unsigned long, ...))                                       \
	X(int, dup, (int))                                                             \
	X(int, dup2, (int, int))                                                       \
	X(int, dup3, (int, int, int))                                                  \
	X(int, close_range, (unsigned int, unsigned int, int))                         \
	X(int, poll, (struct pollfd *, nfds_t, int))                                   \
	X(int, ppoll, (struct pollfd *, nfds_t, const struct timespec *,               \
		       const sigset_t *))                                              \
	X(int, __poll_chk, (struct pollfd *, nfds_t, int, size_t))                     \
	X(int, __ppoll_chk, (struct pollfd *, nfds_t, const struct timespec *,         \
			     const sigset_t *, size_t))                                \
	X(long, syscall, (long, ...))

#define SHIM_REAL_MEMBER(ret, name, args) ret (*name) args;
struct shim_real_table {
	SHIM_REAL_FUNCTIONS(SHIM_REAL_MEMBER)
};
#undef SHIM_REAL_MEMBER

extern struct shim_real_table shim_real_fns;
extern bool shim_real_resolved;

/* Resolve every real function (idempotent, safe to call from any hook at any time). */
void shim_resolve_real(void);

/* The real libc function `name` (resolved on first use). A symbol libc lacks (close_range on an
 * old glibc) is NULL: callers check the few that may be. */
#define REAL(name) \
	(__builtin_expect(shim_real_resolved, 1) ? shim_real_fns.name \
						  : (shim_resolve_real(), shim_real_fns.name))

/* Make sure the stack runs (started lazily on the first AF_INET socket). Returns 0, or
 * -EAFNOSUPPORT in a forked child of a process whose stack was running. A stack that cannot
 * start is fatal: one line on stderr, exit(1). */
int shim_stack_ensure(void);

/* Is addr inside libustack.so's own code? (syscall() made by the stack itself passes through.) */
bool shim_addr_is_ours(const void *addr);

/* Turn an internal result (>= 0 or -errno) into libc's convention, restoring the caller's errno
 * on success (a kernel syscall never changes errno when it succeeds). */
static inline long shim_result(long r, int saved_errno)
{
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	errno = saved_errno;
	return r;
}

/* The ustack socket behind fd, with a reference held until shim_leave(); NULL when the call
 * belongs to libc (guard set, or not a ustack fd). */
static inline struct shim_sock *shim_enter(int fd)
{
	if (shim_guard)
		return NULL;
	return fdtable_get(fd);
}

static inline void shim_leave(struct shim_sock *ss)
{
	shim_guard++;
	fdtable_put(ss);
	shim_guard--;
}

/* Run a stack call with the guard set (the stack's own libc calls must not come back here). */
#define SHIM_STACK(expr)                  \
	({                                \
		shim_guard++;             \
		__typeof__(expr) _shim_r = (expr); \
		shim_guard--;             \
		_shim_r;                  \
	})

/* Blocking I/O shared by the hooks (hooks_io.c). Return >= 0 or -errno; they raise SIGPIPE where
 * the kernel would. */
ssize_t shim_sock_recv(struct shim_sock *ss, const struct iovec *iov, int iovcnt,
		       struct sockaddr *from, socklen_t *fromlen, int flags, int *msg_flags);
ssize_t shim_sock_send(struct shim_sock *ss, const struct iovec *iov, int iovcnt,
		       const struct sockaddr *to, socklen_t tolen, int flags);

/* Fortified entry points glibc's headers declare only under _FORTIFY_SOURCE. */
ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
		       struct sockaddr *from, socklen_t *fromlen);
ssize_t __read_chk(int fd, void *buf, size_t nbytes, size_t buflen);
int __poll_chk(struct pollfd *fds, nfds_t nfds, int timeout, size_t fdslen);
int __ppoll_chk(struct pollfd *fds, nfds_t nfds, const struct timespec *timeout,
		const sigset_t *sigmask, size_t fdslen);
void __chk_fail(void) __attribute__((noreturn));

#endif
