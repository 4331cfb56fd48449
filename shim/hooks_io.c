/*
 * Data hooks: send, sendto, sendmsg, sendmmsg, recv, recvfrom, recvmsg, recvmmsg, read, write,
 * readv, writev, sendfile, sendfile64 and the fortified __recv_chk, __recvfrom_chk, __read_chk.
 *
 * Buffers go to the stack as the caller's iovecs (the stack copies in bounded pieces); the shim
 * never allocates a buffer sized by the caller. sendfile copies through a fixed 16 KiB buffer.
 */
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/sendfile.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

/* How many of the caller's iovecs one stack call sees once a loop has advanced into them. */
#define SHIM_IOV_WINDOW 64
#define SHIM_SENDFILE_CHUNK 16384

/* Sum of the iovec lengths, or -EINVAL if it does not fit ssize_t (as the kernel). */
static ssize_t shim_iov_total(const struct iovec *iov, int iovcnt)
{
	size_t total = 0;

	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > (size_t)SSIZE_MAX - total)
			return -EINVAL;
		total += iov[i].iov_len;
	}
	return (ssize_t)total;
}

/* Describe iov past its first `skip` bytes in win (at most SHIM_IOV_WINDOW entries). */
static int shim_iov_window(const struct iovec *iov, int iovcnt, size_t skip, struct iovec *win)
{
	int i = 0, n = 0;

	while (i < iovcnt && skip >= iov[i].iov_len) {
		skip -= iov[i].iov_len;
		i++;
	}
	for (; i < iovcnt && n < SHIM_IOV_WINDOW; i++, n++) {
		win[n].iov_base = (char *)iov[i].iov_base + skip;
		win[n].iov_len = iov[i].iov_len - skip;
		skip = 0;
	}
	return n;
}

static bool shim_dontwait(const struct shim_sock *ss, int flags)
{
	return (flags & MSG_DONTWAIT) || fdtable_nonblock(ss);
}

/* MSG_WAITALL on a blocking stream socket: loop until the buffers are full, EOF, an error or a
 * signal; a partial count wins over the error, which the next call reports. */
static ssize_t shim_recv_waitall(struct shim_sock *ss, const struct iovec *iov, int iovcnt,
				 struct sockaddr *from, socklen_t *fromlen, int flags,
				 int *msg_flags)
{
	struct iovec win[SHIM_IOV_WINDOW];
	ssize_t total = shim_iov_total(iov, iovcnt), r;
	size_t done = 0;
	int n, w;

	if (total < 0)
		return total;
	do {
		n = shim_iov_window(iov, iovcnt, done, win);
		r = SHIM_STACK(us_recvmsg(ss->us, win, n, from, fromlen, flags, msg_flags));
		if (r > 0) {
			done += (size_t)r;
			continue;
		}
		if (r == 0)
			break;
		if (r != -EAGAIN)
			return done ? (ssize_t)done : r;
		w = SHIM_STACK(us_wait(ss->us, US_WANT_READ));
		if (w < 0)
			return done ? (ssize_t)done : w;
	} while (done < (size_t)total);
	return (ssize_t)done;
}

ssize_t shim_sock_recv(struct shim_sock *ss, const struct iovec *iov, int iovcnt,
		       struct sockaddr *from, socklen_t *fromlen, int flags, int *msg_flags)
{
	bool dontwait = shim_dontwait(ss, flags);
	ssize_t r;
	int w;

	if (shim_forked_child)
		return -ENETDOWN;
	if (iovcnt < 0 || iovcnt > IOV_MAX)
		return -EINVAL;
	*msg_flags = 0;
	if ((flags & MSG_WAITALL) && ss->type == SOCK_STREAM && !(flags & MSG_PEEK) && !dontwait)
		return shim_recv_waitall(ss, iov, iovcnt, from, fromlen, flags & ~MSG_WAITALL,
					 msg_flags);
	for (;;) {
		r = SHIM_STACK(us_recvmsg(ss->us, iov, iovcnt, from, fromlen, flags & ~MSG_WAITALL,
					  msg_flags));
		if (r != -EAGAIN || dontwait)
			return r;
		w = SHIM_STACK(us_wait(ss->us, US_WANT_READ));
		if (w < 0)
			return w;
	}
}

/* A stream send on a blocking socket returns when everything is queued (or on a signal or
 * SO_SNDTIMEO, with the partial count); a datagram is one call. */
static ssize_t shim_send_loop(struct shim_sock *ss, const struct iovec *iov, int iovcnt,
			      const struct sockaddr *to, socklen_t tolen, int flags)
{
	struct iovec win[SHIM_IOV_WINDOW];
	bool dontwait = shim_dontwait(ss, flags), stream = ss->type == SOCK_STREAM;
	ssize_t total = shim_iov_total(iov, iovcnt), r;
	size_t done = 0;
	int w;

	if (total < 0)
		return total;
	for (;;) {
		if (done == 0)
			r = SHIM_STACK(us_sendmsg(ss->us, iov, iovcnt, to, tolen, flags));
		else
			r = SHIM_STACK(us_sendmsg(ss->us, win, shim_iov_window(iov, iovcnt, done, win),
						  to, tolen, flags));
		if (r >= 0) {
			done += (size_t)r;
			if (!stream || dontwait || done >= (size_t)total || r == 0)
				return (ssize_t)done;
			continue;
		}
		if (r != -EAGAIN || dontwait)
			return done ? (ssize_t)done : r;
		w = SHIM_STACK(us_wait(ss->us, US_WANT_WRITE));
		if (w < 0)
			return done ? (ssize_t)done : w;
	}
}

ssize_t shim_sock_send(struct shim_sock *ss, const struct iovec *iov, int iovcnt,
		       const struct sockaddr *to, socklen_t tolen, int flags)
{
	ssize_t r;

	if (shim_forked_child)
		return -ENETDOWN;
	if (iovcnt < 0 || iovcnt > IOV_MAX)
		return -EINVAL;
	r = shim_send_loop(ss, iov, iovcnt, to, tolen, flags);
	/* A stream send on a connection that cannot send any more raises SIGPIPE in the
	 * calling thread, as the kernel does, unless the caller asked not to. */
	if (r == -EPIPE && ss->type == SOCK_STREAM && !(flags & MSG_NOSIGNAL))
		pthread_kill(pthread_self(), SIGPIPE);
	return r;
}

/* ---- receiving ---- */

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	struct shim_sock *ss = shim_enter(fd);
	int saved = errno, msg_flags = 0;
	ssize_t r;

	if (!ss)
		return REAL(recvmsg)(fd, msg, flags);
	r = shim_sock_recv(ss, msg->msg_iov, (int)msg->msg_iovlen, msg->msg_name,
			   msg->msg_name ? &msg->msg_namelen : NULL, flags, &msg_flags);
	if (r >= 0) {
		if (!msg->msg_name)
			msg->msg_namelen = 0;
		msg->msg_controllen = 0;  /* no ancillary data from ustack yet */
		msg->msg_flags = msg_flags;
	}
	shim_leave(ss);
	return shim_result(r, saved);
}

ssize_t recvfrom(int fd, void *restrict buf, size_t len, int flags, __SOCKADDR_ARG from,
		 socklen_t *restrict fromlen)
{
	struct shim_sock *ss = shim_enter(fd);
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct sockaddr *addr = from.__sockaddr__;
	int saved = errno, msg_flags;
	ssize_t r;

	if (!ss)
		return REAL(recvfrom)(fd, buf, len, flags, addr, fromlen);
	r = shim_sock_recv(ss, &iov, 1, addr && fromlen ? addr : NULL, addr ? fromlen : NULL,
			   flags, &msg_flags);
	shim_leave(ss);
	return shim_result(r, saved);
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	struct shim_sock *ss = shim_enter(fd);
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	int saved = errno, msg_flags;
	ssize_t r;

	if (!ss)
		return REAL(recv)(fd, buf, len, flags);
	r = shim_sock_recv(ss, &iov, 1, NULL, NULL, flags, &msg_flags);
	shim_leave(ss);
	return shim_result(r, saved);
}

ssize_t read(int fd, void *buf, size_t len)
{
	struct shim_sock *ss = shim_enter(fd);
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	int saved = errno, msg_flags;
	ssize_t r;

	if (!ss)
		return REAL(read)(fd, buf, len);
	r = shim_sock_recv(ss, &iov, 1, NULL, NULL, 0, &msg_flags);
	shim_leave(ss);
	return shim_result(r, saved);
}

ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
	struct shim_sock *ss = shim_enter(fd);
	int saved = errno, msg_flags;
	ssize_t r;

	if (!ss)
		return REAL(readv)(fd, iov, iovcnt);
	r = shim_sock_recv(ss, iov, iovcnt, NULL, NULL, 0, &msg_flags);
	shim_leave(ss);
	return shim_result(r, saved);
}

ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags)
{
	if (len > buflen)
		__chk_fail();
	return recv(fd, buf, len, flags);
}

ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
		       struct sockaddr *from, socklen_t *fromlen)
{
	if (len > buflen)
		__chk_fail();
	return recvfrom(fd, buf, len, flags, from, fromlen);
}

ssize_t __read_chk(int fd, void *buf, size_t nbytes, size_t buflen)
{
	if (nbytes > buflen)
		__chk_fail();
	return read(fd, buf, nbytes);
}

static int64_t shim_monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* As the kernel: blocks for each message unless MSG_WAITFORONE made the rest non-blocking;
 * the timeout is checked after each message; an error after some messages ends the batch
 * (the count wins). */
int recvmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags, struct timespec *timeout)
{
	struct shim_sock *ss = shim_enter(fd);
	int saved = errno, msg_flags;
	int64_t deadline = 0;
	unsigned int i;
	ssize_t r = 0;

	if (!ss)
		return REAL(recvmmsg)(fd, vec, vlen, flags, timeout);
	if (timeout)
		deadline = shim_monotonic_ns() + timeout->tv_sec * 1000000000 + timeout->tv_nsec;
	if (vlen > UIO_MAXIOV)
		vlen = UIO_MAXIOV;
	for (i = 0; i < vlen; i++) {
		struct msghdr *m = &vec[i].msg_hdr;

		r = shim_sock_recv(ss, m->msg_iov, (int)m->msg_iovlen, m->msg_name,
				   m->msg_name ? &m->msg_namelen : NULL, flags & ~MSG_WAITFORONE,
				   &msg_flags);
		if (r < 0)
			break;
		vec[i].msg_len = (unsigned int)r;
		m->msg_controllen = 0;
		m->msg_flags = msg_flags;
		if (flags & MSG_WAITFORONE)
			flags |= MSG_DONTWAIT;
		if (timeout && shim_monotonic_ns() >= deadline) {
			i++;
			break;
		}
	}
	shim_leave(ss);
	if (i > 0)
		return (int)shim_result((long)i, saved);
	return (int)shim_result(r, saved);
}

/* ---- sending ---- */

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct shim_sock *ss = shim_enter(fd);
	int saved = errno;
	ssize_t r;

	if (!ss)
		return REAL(sendmsg)(fd, msg, flags);
	r = shim_sock_send(ss, msg->msg_iov, (int)msg->msg_iovlen, msg->msg_name,
			   msg->msg_name ? msg->msg_namelen : 0, flags);
	shim_leave(ss);
	return shim_result(r, saved);
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, __CONST_SOCKADDR_ARG to,
	       socklen_t tolen)
{
	struct shim_sock *ss = shim_enter(fd);
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	const struct sockaddr *addr = to.__sockaddr__;
	int saved = errno;
	ssize_t r;

	if (!ss)
		return REAL(sendto)(fd, buf, len, flags, addr, tolen);
	r = shim_sock_send(ss, &iov, 1, addr, addr ? tolen : 0, flags);
	shim_leave(ss);
	return shim_result(r, saved);
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	struct shim_sock *ss = shim_enter(fd);
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	int saved = errno;
	ssize_t r;

	if (!ss)
		return REAL(send)(fd, buf, len, flags);
	r = shim_sock_send(ss, &iov, 1, NULL, 0, flags);
	shim_leave(ss);
	return shim_result(r, saved);
}

ssize_t write(int fd, const void *buf, size_t len)
{
	struct shim_sock *ss = shim_enter(fd);
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	int saved = errno;
	ssize_t r;

	if (!ss)
		return REAL(write)(fd, buf, len);
	r = shim_sock_send(ss, &iov, 1, NULL, 0, 0);
	shim_leave(ss);
	return shim_result(r, saved);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	struct shim_sock *ss = shim_enter(fd);
	int saved = errno;
	ssize_t r;

	if (!ss)
		return REAL(writev)(fd, iov, iovcnt);
	r = shim_sock_send(ss, iov, iovcnt, NULL, 0, 0);
	shim_leave(ss);
	return shim_result(r, saved);
}

int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags)
{
	struct shim_sock *ss = shim_enter(fd);
	int saved = errno;
	unsigned int i;
	ssize_t r = 0;

	if (!ss)
		return REAL(sendmmsg)(fd, vec, vlen, flags);
	if (vlen > UIO_MAXIOV)
		vlen = UIO_MAXIOV;
	for (i = 0; i < vlen; i++) {
		const struct msghdr *m = &vec[i].msg_hdr;

		r = shim_sock_send(ss, m->msg_iov, (int)m->msg_iovlen, m->msg_name,
				   m->msg_name ? m->msg_namelen : 0, flags);
		if (r < 0)
			break;
		vec[i].msg_len = (unsigned int)r;
	}
	shim_leave(ss);
	if (i > 0)
		return (int)shim_result((long)i, saved);
	return (int)shim_result(r, saved);
}

/* sendfile from a file to a ustack socket: read (or pread at *offset) in fixed chunks and send
 * them; what the socket did not take is given back to the file position (no offset) or left
 * out of *offset, so the next call resumes exactly where this one stopped. */
static ssize_t shim_sendfile(struct shim_sock *ss, int in_fd, off64_t *offset, size_t count)
{
	char buf[SHIM_SENDFILE_CHUNK];
	size_t total = 0;
	ssize_t n, sent;

	if (shim_forked_child)
		return -ENETDOWN;
	if (offset && *offset < 0)
		return -EINVAL;
	while (total < count) {
		size_t chunk = count - total < sizeof(buf) ? count - total : sizeof(buf);
		struct iovec iov = { .iov_base = buf };

		n = offset ? pread64(in_fd, buf, chunk, *offset + (off64_t)total)
			   : REAL(read)(in_fd, buf, chunk);
		if (n < 0) {
			n = -errno;
			return total ? (ssize_t)total : n;
		}
		if (n == 0)
			break;
		iov.iov_len = (size_t)n;
		sent = shim_sock_send(ss, &iov, 1, NULL, 0, 0);
		if (sent < n && !offset)
			lseek64(in_fd, -(n - (sent > 0 ? sent : 0)), SEEK_CUR);
		if (sent < 0)
			return total ? (ssize_t)total : sent;
		total += (size_t)sent;
		if (sent < n)
			break;
	}
	if (offset)
		*offset += (off64_t)total;
	return (ssize_t)total;
}

static ssize_t shim_sendfile_hook(int out_fd, int in_fd, off64_t *offset, size_t count,
				  bool *handled)
{
	struct shim_sock *ss = shim_enter(out_fd), *in;
	int saved = errno;
	ssize_t r;

	*handled = ss != NULL;
	if (!ss)
		return 0;
	in = shim_enter(in_fd);
	if (in) {
		shim_leave(in);
		r = -EINVAL;  /* the kernel cannot sendfile from a socket either */
	} else {
		shim_guard++;
		r = shim_sendfile(ss, in_fd, offset, count);
		shim_guard--;
	}
	shim_leave(ss);
	return shim_result(r, saved);
}

ssize_t sendfile64(int out_fd, int in_fd, off64_t *offset, size_t count)
{
	bool handled;
	ssize_t r = shim_sendfile_hook(out_fd, in_fd, offset, count, &handled);

	return handled ? r : REAL(sendfile64)(out_fd, in_fd, offset, count);
}

ssize_t sendfile(int out_fd, int in_fd, off_t *offset, size_t count)
{
	bool handled;
	off64_t off = offset ? *offset : 0;
	ssize_t r = shim_sendfile_hook(out_fd, in_fd, offset ? &off : NULL, count, &handled);

	if (!handled)
		return REAL(sendfile)(out_fd, in_fd, offset, count);
	if (offset && r >= 0)
		*offset = (off_t)off;
	return r;
}
