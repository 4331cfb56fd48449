/*
 * syscall(): some libraries bypass libc's wrappers — libuv (dig, node …) sends and receives UDP
 * with syscall(SYS_sendmmsg/SYS_recvmmsg). Socket and fd system calls made this way on a ustack
 * fd (or an AF_INET socket() made this way) go to the same hooks as the libc calls; everything
 * else, and every syscall() made by libustack.so itself (the stack's sys.h uses syscall() for
 * its own kernel objects), goes straight to the kernel.
 */
#include <stdarg.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

static bool shim_fd_is_ustack(long fd)
{
	struct shim_sock *ss;

	if (fd < 0 || fd > INT32_MAX)
		return false;
	ss = fdtable_get((int)fd);
	if (!ss)
		return false;
	shim_leave(ss);
	return true;
}

/* The system calls with a hook whose first argument is the fd. */
static bool shim_syscall_takes_fd(long n)
{
	switch (n) {
	case SYS_read: case SYS_write: case SYS_readv: case SYS_writev: case SYS_close:
	case SYS_sendto: case SYS_recvfrom: case SYS_sendmsg: case SYS_recvmsg:
	case SYS_sendmmsg: case SYS_recvmmsg: case SYS_shutdown: case SYS_bind: case SYS_listen:
	case SYS_connect: case SYS_accept: case SYS_accept4: case SYS_getsockname:
	case SYS_getpeername: case SYS_setsockopt: case SYS_getsockopt: case SYS_fcntl:
	case SYS_ioctl: case SYS_dup: case SYS_dup2: case SYS_dup3: case SYS_sendfile:
		return true;
	default:
		return false;
	}
}

/* The hook for an fd system call on a ustack fd (a[0]); *handled false if none applies. */
static long shim_syscall_fd(long n, const long *a, bool *handled)
{
	int fd = (int)a[0];

	*handled = true;
	switch (n) {
	case SYS_read: return read(fd, (void *)a[1], (size_t)a[2]);
	case SYS_write: return write(fd, (const void *)a[1], (size_t)a[2]);
	case SYS_readv: return readv(fd, (const struct iovec *)a[1], (int)a[2]);
	case SYS_writev: return writev(fd, (const struct iovec *)a[1], (int)a[2]);
	case SYS_close: return close(fd);
	case SYS_sendto:
		return sendto(fd, (const void *)a[1], (size_t)a[2], (int)a[3],
			      (const struct sockaddr *)a[4], (socklen_t)a[5]);
	case SYS_recvfrom:
		return recvfrom(fd, (void *)a[1], (size_t)a[2], (int)a[3], (struct sockaddr *)a[4],
				(socklen_t *)a[5]);
	case SYS_sendmsg: return sendmsg(fd, (const struct msghdr *)a[1], (int)a[2]);
	case SYS_recvmsg: return recvmsg(fd, (struct msghdr *)a[1], (int)a[2]);
	case SYS_sendmmsg:
		return sendmmsg(fd, (struct mmsghdr *)a[1], (unsigned int)a[2], (int)a[3]);
	case SYS_recvmmsg:
		return recvmmsg(fd, (struct mmsghdr *)a[1], (unsigned int)a[2], (int)a[3],
				(struct timespec *)a[4]);
	case SYS_shutdown: return shutdown(fd, (int)a[1]);
	case SYS_bind: return bind(fd, (const struct sockaddr *)a[1], (socklen_t)a[2]);
	case SYS_listen: return listen(fd, (int)a[1]);
	case SYS_connect: return connect(fd, (const struct sockaddr *)a[1], (socklen_t)a[2]);
	case SYS_accept: return accept(fd, (struct sockaddr *)a[1], (socklen_t *)a[2]);
	case SYS_accept4:
		return accept4(fd, (struct sockaddr *)a[1], (socklen_t *)a[2], (int)a[3]);
	case SYS_getsockname:
		return getsockname(fd, (struct sockaddr *)a[1], (socklen_t *)a[2]);
	case SYS_getpeername:
		return getpeername(fd, (struct sockaddr *)a[1], (socklen_t *)a[2]);
	case SYS_setsockopt:
		return setsockopt(fd, (int)a[1], (int)a[2], (const void *)a[3], (socklen_t)a[4]);
	case SYS_getsockopt:
		return getsockopt(fd, (int)a[1], (int)a[2], (void *)a[3], (socklen_t *)a[4]);
	case SYS_fcntl: return fcntl(fd, (int)a[1], a[2]);
	case SYS_ioctl: return ioctl(fd, (unsigned long)a[1], a[2]);
	case SYS_dup: return dup(fd);
	case SYS_dup2: return dup2(fd, (int)a[1]);
	case SYS_dup3: return dup3(fd, (int)a[1], (int)a[2]);
	default:
		*handled = false;
		return 0;
	}
}

long syscall(long number, ...)
{
	va_list ap;
	long a[6], r;
	bool handled = false;

	va_start(ap, number);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (!shim_guard && !shim_addr_is_ours(__builtin_return_address(0))) {
		if (number == SYS_socket)
			return socket((int)a[0], (int)a[1], (int)a[2]);
		if (fdtable_count() > 0 && shim_syscall_takes_fd(number) &&
		    shim_fd_is_ustack(a[0])) {
			if (number == SYS_sendfile)
				return sendfile64((int)a[0], (int)a[1], (off64_t *)a[2],
						  (size_t)a[3]);
			r = shim_syscall_fd(number, a, &handled);
			if (handled)
				return r;
		}
	}
	return REAL(syscall)(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
