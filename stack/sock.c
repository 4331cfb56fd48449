/* Protocol-independent sockets: the table, the readiness mirror (see sock.h), SOL_SOCKET
 * options, and the us_* API entry points that take the stack lock and dispatch. */
#include "sock.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "stack.h"
#include "sys.h"
#include "tcp.h"
#include "udp.h"

struct sock_table {
	struct sock *by_id;
	uint64_t next_id;
	int pair_listener;             /* abstract AF_UNIX listener pairing TCP mirrors */
	struct sockaddr_un pair_addr;
	socklen_t pair_addr_len;
};

/* Linux: net.core.rmem_max / wmem_max 212992; SOCK_MIN_RCVBUF 2304, SOCK_MIN_SNDBUF 4608 */
#define SOCK_BUF_MAX 212992
#define SOCK_MIN_RCVBUF 2304
#define SOCK_MIN_SNDBUF 4608
#define MIRROR_STUFF_CHUNK 4096

int sock_table_init(struct ustack *st)
{
	st->socks = calloc(1, sizeof(*st->socks));
	if (!st->socks)
		return -ENOMEM;
	st->socks->pair_listener = -1;
	st->socks->next_id = 1;
	return 0;
}

void sock_table_fini(struct ustack *st)
{
	struct sock_table *t = st->socks;
	struct sock *s, *tmp;

	if (!t)
		return;
	HASH_ITER(hh, t->by_id, s, tmp) {
		if (s->proto->release && !s->released)
			s->proto->release(st, s);
		sock_free(st, s);
	}
	if (t->pair_listener >= 0)
		sys_close(t->pair_listener);
	free(t);
	st->socks = NULL;
}

void sock_release_streams(struct ustack *st)
{
	struct sock *s, *tmp;

	HASH_ITER(hh, st->socks->by_id, s, tmp) {
		if (s->proto->type == SOCK_STREAM && !s->released && s->proto->release) {
			s->proto->release(st, s);
			s->released = true;
		}
	}
}

/* ---- the readiness mirror ---- */

static void mirror_drain(int fd)
{
	char junk[MIRROR_STUFF_CHUNK];

	while (sys_recvfrom(fd, junk, sizeof(junk), MSG_DONTWAIT, NULL, NULL) > 0)
		;
}

/* POLLIN: a token queued from mirror_fd to app_fd. new_data while a token is already there
 * queues one more (once per read cycle) so edge-triggered epoll sees a new edge. */
static void mirror_set_in(struct sock *s, bool want_in, bool new_data)
{
	if (want_in && (!s->mirror_token || (new_data && !s->new_data_edge))) {
		if (sys_sendto(s->mirror_fd, "r", 1, MSG_DONTWAIT | MSG_NOSIGNAL, NULL, 0) == 1) {
			if (s->mirror_token && new_data)
				s->new_data_edge = true;
			s->mirror_token = true;
		}
	} else if (!want_in && s->mirror_token) {
		mirror_drain(s->app_fd);
		s->mirror_token = false;
		s->new_data_edge = false;
	}
}

static void mirror_set_out(struct sock *s, bool want_out)
{
	if (want_out && s->mirror_stuffed) {
		mirror_drain(s->mirror_fd);
		s->mirror_stuffed = false;
	} else if (!want_out && !s->mirror_stuffed) {
		char junk[MIRROR_STUFF_CHUNK];
		memset(junk, 0, sizeof(junk));
		/* fill app_fd's send buffer until the kernel refuses: not writable, and a send
		 * on it blocks until the stack drains mirror_fd */
		while (sys_sendto(s->app_fd, junk, sizeof(junk), MSG_DONTWAIT | MSG_NOSIGNAL, NULL,
				  0) > 0)
			;
		s->mirror_stuffed = true;
	}
}

/* POLLHUP: both directions shut (one way). One byte is left in mirror_fd's queue so that a
 * later error can still be shown by closing it (the kernel then sets ECONNRESET on app_fd). */
static void mirror_set_hup(struct sock *s)
{
	if (s->mirror_stuffed) {
		mirror_drain(s->mirror_fd);
		s->mirror_stuffed = false;
	}
	if (!s->mirror_has_byte)
		s->mirror_has_byte =
			sys_sendto(s->app_fd, "h", 1, MSG_DONTWAIT | MSG_NOSIGNAL, NULL, 0) == 1;
	sys_shutdown(s->mirror_fd, SHUT_RDWR);
	s->mirror_hup = true;
}

static void mirror_set_err(struct sock *s)
{
	if (!s->mirror_hup)
		mirror_set_hup(s);
	if (!s->mirror_stuffed && !s->mirror_has_byte)
		LOG_DEBUG("socket %llu: POLLERR without a queued byte", (unsigned long long)s->id);
	sys_close(s->mirror_fd);
	s->mirror_fd = -1;
	s->mirror_err = true;
}

/* Datagram sockets (UDP) use an AF_UNIX SOCK_DGRAM pair, whose POLLERR can come and go as a
 * UDP socket's does: a byte sent from app_fd into mirror_fd, then mirror_fd disconnecting
 * (connect AF_UNSPEC) with that byte unread, makes the kernel set ECONNRESET on app_fd and wake
 * its waiters; mirror_fd then reconnects to app_fd's autobound name. Reading SO_ERROR on app_fd
 * clears it again. Shutdown is shown by shutting app_fd itself (a datagram pair does not pass
 * it on to the peer). */
/* Reading SO_ERROR clears a kernel socket's pending error: how the mirror drops POLLERR. */
static void mirror_clear_kernel_error(struct sock *s)
{
	int e;
	socklen_t l = sizeof(e);

	sys_getsockopt(s->app_fd, SOL_SOCKET, SO_ERROR, &e, &l);
}

static void mirror_dgram_err(struct sock *s, bool want_err)
{
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };

	if (want_err && !s->mirror_err) {
		if (sys_sendto(s->app_fd, "e", 1, MSG_DONTWAIT | MSG_NOSIGNAL, NULL, 0) == 1 &&
		    sys_connect(s->mirror_fd, &unspec, sizeof(unspec)) == 0)
			s->mirror_err = true;
		if (sys_connect(s->mirror_fd, (struct sockaddr *)&s->mirror_app_addr,
				s->mirror_app_addr_len) < 0)
			LOG_WARN("socket %llu: readiness mirror lost its peer: %s",
				 (unsigned long long)s->id, strerror(errno));
	} else if (!want_err && s->mirror_err) {
		mirror_clear_kernel_error(s);
		s->mirror_err = false;
	}
}

static void mirror_dgram_readiness(struct sock *s, int mask, bool new_data)
{
	int how = -1;

	mirror_set_in(s, mask & POLLIN, new_data);
	mirror_dgram_err(s, mask & POLLERR);
	if ((mask & POLLHUP) && !s->mirror_hup) {
		how = SHUT_RDWR;
		s->mirror_hup = s->mirror_rdhup = true;
	} else if ((mask & POLLRDHUP) && !s->mirror_rdhup) {
		how = SHUT_RD;
		s->mirror_rdhup = true;
	}
	if (how >= 0)
		sys_shutdown(s->app_fd, how);
}

void sock_readiness(struct ustack *st, struct sock *s, bool new_data)
{
	int mask;

	if (s->mirror_fd < 0)
		return;   /* unpaired (fresh TCP socket), or the terminal error was applied */
	mask = s->proto->poll_mask(st, s);
	if (s->proto->type == SOCK_DGRAM) {
		mirror_dgram_readiness(s, mask, new_data);
		return;
	}
	if (s->mirror_hup) {
		if (mask & POLLERR)
			mirror_set_err(s);
		return;
	}
	mirror_set_in(s, mask & (POLLIN | POLLRDHUP), new_data);
	if ((mask & POLLRDHUP) && !s->mirror_rdhup) {
		sys_shutdown(s->mirror_fd, SHUT_WR);
		s->mirror_rdhup = true;
	}
	if (mask & (POLLHUP | POLLERR)) {
		mirror_set_hup(s);
		if (mask & POLLERR)
			mirror_set_err(s);
		return;
	}
	mirror_set_out(s, mask & POLLOUT);
}

void sock_consumed(struct ustack *st, struct sock *s)
{
	s->new_data_edge = false;
	sock_readiness(st, s, false);
}

static int mirror_listener(struct sock_table *t)
{
	static const char prefix[] = "ustack-mirror";
	uint64_t nonce;

	if (t->pair_listener >= 0)
		return 0;
	t->pair_listener = sys_socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (t->pair_listener < 0)
		return -errno;
	if (getentropy(&nonce, sizeof(nonce)) < 0)
		nonce = (uint64_t)getpid() * 2654435761u;
	memset(&t->pair_addr, 0, sizeof(t->pair_addr));
	t->pair_addr.sun_family = AF_UNIX;
	/* abstract name: sun_path[0] == 0 */
	int n = snprintf(t->pair_addr.sun_path + 1, sizeof(t->pair_addr.sun_path) - 1,
			 "%s-%d-%016llx", prefix, getpid(), (unsigned long long)nonce);
	t->pair_addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	if (sys_bind(t->pair_listener, (struct sockaddr *)&t->pair_addr, t->pair_addr_len) < 0 ||
	    sys_listen(t->pair_listener, 128) < 0) {
		int e = errno;
		sys_close(t->pair_listener);
		t->pair_listener = -1;
		return -e;
	}
	return 0;
}

/* The datagram mirror's app end gets an (abstract, autobound) name so that mirror_fd can
 * reconnect to it after the disconnect that shows POLLERR. */
static int mirror_dgram_name(struct sock *s)
{
	sa_family_t family = AF_UNIX;

	s->mirror_app_addr_len = sizeof(s->mirror_app_addr);
	if (sys_bind(s->app_fd, (struct sockaddr *)&family, sizeof(family)) < 0 ||
	    sys_getsockname(s->app_fd, (struct sockaddr *)&s->mirror_app_addr,
			&s->mirror_app_addr_len) < 0)
		return -errno;
	return 0;
}

static void mirror_small_sndbuf(int fd)
{
	int one = 1;   /* the kernel rounds up to its minimum (4608): little to stuff */

	sys_setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &one, sizeof(one));
}

/* The new file takes the old one's place under the same fd number (dup3), with its status flags
 * and timeouts; the kernel drops the old file's epoll registrations, as for a closed fd. */
int sock_mirror_renew(struct ustack *st, struct sock *s)
{
	int fresh, status, fdflags, rc;

	(void)st;
	if (!s->mirror_hup && !s->mirror_err)
		return 0;
	fresh = sys_socket(AF_UNIX, SOCK_STREAM, 0);
	if (fresh < 0)
		return -errno;
	mirror_small_sndbuf(fresh);
	status = sys_fcntl(s->app_fd, F_GETFL, 0);
	fdflags = sys_fcntl(s->app_fd, F_GETFD, 0);
	if (status >= 0)
		sys_fcntl(fresh, F_SETFL, status & (O_NONBLOCK | O_ASYNC));
	if (s->rcvtimeo.tv_sec || s->rcvtimeo.tv_usec)
		sys_setsockopt(fresh, SOL_SOCKET, SO_RCVTIMEO, &s->rcvtimeo, sizeof(s->rcvtimeo));
	if (s->sndtimeo.tv_sec || s->sndtimeo.tv_usec)
		sys_setsockopt(fresh, SOL_SOCKET, SO_SNDTIMEO, &s->sndtimeo, sizeof(s->sndtimeo));
	rc = sys_dup3(fresh, s->app_fd, fdflags > 0 && (fdflags & FD_CLOEXEC) ? O_CLOEXEC : 0);
	sys_close(fresh);
	if (rc < 0)
		return -errno;
	if (s->mirror_fd >= 0) {
		mirror_drain(s->mirror_fd);
		sys_close(s->mirror_fd);
	}
	s->mirror_fd = -1;
	s->mirror_token = s->mirror_stuffed = s->mirror_rdhup = false;
	s->mirror_hup = s->mirror_has_byte = s->mirror_err = s->new_data_edge = false;
	return 0;
}

/* Connect the unpaired app fd to the process's pairing listener and accept the other end.
 * Under the stack lock, so the accepted connection is ours. */
int sock_mirror_pair(struct ustack *st, struct sock *s)
{
	struct sock_table *t = st->socks;
	int rc, fd;

	if (s->mirror_fd >= 0)
		return 0;
	if ((rc = mirror_listener(t)) < 0)
		return rc;
	if (sys_connect(s->app_fd, (struct sockaddr *)&t->pair_addr, t->pair_addr_len) < 0)
		return -errno;
	fd = sys_accept4(t->pair_listener, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return -errno;
	s->mirror_fd = fd;
	return 0;
}

int sock_new(struct ustack *st, const struct sock_proto *proto, bool paired, bool cloexec,
	     struct sock **out)
{
	struct sock *s = calloc(1, sizeof(*s));
	int cflag = cloexec ? SOCK_CLOEXEC : 0;
	int rc;

	if (!s)
		return -ENOMEM;
	s->proto = proto;
	s->app_fd = s->mirror_fd = -1;
	if (paired) {
		int sv[2];
		int kind = proto->type == SOCK_DGRAM ? SOCK_DGRAM : SOCK_STREAM;
		if (sys_socketpair(AF_UNIX, kind | cflag, 0, sv) < 0) {
			rc = -errno;
			free(s);
			return rc;
		}
		s->app_fd = sv[0];
		s->mirror_fd = sv[1];
		fcntl(s->mirror_fd, F_SETFD, FD_CLOEXEC);
		fcntl(s->mirror_fd, F_SETFL, O_NONBLOCK);
		if (kind == SOCK_DGRAM && (rc = mirror_dgram_name(s)) < 0) {
			sys_close(s->app_fd);
			sys_close(s->mirror_fd);
			free(s);
			return rc;
		}
	} else {
		s->app_fd = sys_socket(AF_UNIX, SOCK_STREAM | cflag, 0);
		if (s->app_fd < 0) {
			rc = -errno;
			free(s);
			return rc;
		}
	}
	mirror_small_sndbuf(s->app_fd);
	if (proto->type == SOCK_STREAM) {
		s->rcvbuf = SOCK_DEFAULT_RCVBUF;
		s->sndbuf = SOCK_DEFAULT_SNDBUF;
	} else {
		s->rcvbuf = SOCK_DEFAULT_UDP_RCVBUF;
		s->sndbuf = SOCK_DEFAULT_UDP_SNDBUF;
	}
	s->id = st->socks->next_id++;
	rc = proto->create(st, s);
	if (rc < 0) {
		sys_close(s->app_fd);
		if (s->mirror_fd >= 0)
			sys_close(s->mirror_fd);
		free(s);
		return rc;
	}
	HASH_ADD(hh, st->socks->by_id, id, sizeof(s->id), s);
	*out = s;
	return 0;
}

void sock_free(struct ustack *st, struct sock *s)
{
	HASH_DELETE(hh, st->socks->by_id, s);
	if (s->mirror_fd >= 0) {
		/* leave app_fd (if another dup still holds it) without a spurious POLLERR */
		mirror_drain(s->mirror_fd);
		sys_close(s->mirror_fd);
	}
	free(s);
}

/* ---- waiting (application thread, no stack lock) ---- */

int sock_wait(struct sock *s, int want)
{
	struct ustack *st = ustack_global;
	char c;
	ssize_t n;

	if (want & US_WANT_READ) {
		n = sys_recvfrom(s->app_fd, &c, 1, MSG_PEEK, NULL, NULL);
	} else {
		n = sys_sendto(s->app_fd, "w", 1, MSG_NOSIGNAL, NULL, 0);
		if (n == 1 && st) {
			/* the byte went into mirror_fd's queue: take it (and any stuffing) back */
			stack_lock(st);
			if (s->mirror_fd >= 0 && !s->mirror_hup) {
				mirror_drain(s->mirror_fd);
				s->mirror_stuffed = false;
			}
			stack_unlock(st);
		}
	}
	if (n >= 0)
		return 0;
	if (errno == EINTR)
		return -EINTR;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return -EAGAIN;   /* SO_RCVTIMEO / SO_SNDTIMEO expired (mirrored onto app_fd) */
	if (errno == ENOTCONN && s->mirror_fd < 0 && !s->mirror_err)
		return -ENOTCONN; /* never paired: nothing will ever arrive */
	return 0;                 /* error/EOF on the mirror: the state changed, look again */
}

/* ---- SOL_SOCKET options common to every protocol ---- */

int sock_opt_get_int(const void *val, socklen_t len, int *out)
{
	if (!val || len < (socklen_t)sizeof(int))
		return -EINVAL;
	memcpy(out, val, sizeof(int));
	return 0;
}

int sock_opt_put(void *val, socklen_t *len, const void *src, size_t size)
{
	size_t n;

	if (!val || !len || (int)*len < 0)
		return -EINVAL;
	n = (size_t)*len < size ? (size_t)*len : size;
	memcpy(val, src, n);
	*len = (socklen_t)n;
	return 0;
}

int sock_opt_put_int(void *val, socklen_t *len, int v)
{
	return sock_opt_put(val, len, &v, sizeof(v));
}

/* Linux sock_setsockopt: SO_RCVBUF/SO_SNDBUF store twice the value (bookkeeping overhead),
 * capped by rmem_max/wmem_max, floored at the minimums. */
static int sock_buf_size(int v, int min)
{
	long doubled;

	if (v < 0)
		v = 0;
	if (v > SOCK_BUF_MAX)
		v = SOCK_BUF_MAX;
	doubled = 2L * v;
	return doubled < min ? min : (int)doubled;
}

static int sock_set_timeout(struct sock *s, int name, const void *val, socklen_t len)
{
	struct timeval tv;

	if (!val || len < (socklen_t)sizeof(tv))
		return -EINVAL;
	memcpy(&tv, val, sizeof(tv));
	if (tv.tv_usec < 0 || tv.tv_usec >= 1000000)
		return -EDOM;
	if (tv.tv_sec < 0)
		tv.tv_sec = tv.tv_usec = 0;   /* Linux: a negative timeout means none */
	/* mirrored onto app_fd: the kernel wait in us_wait then times out as a socket would */
	if (sys_setsockopt(s->app_fd, SOL_SOCKET, name, &tv, sizeof(tv)) < 0)
		return -errno;
	if (name == SO_RCVTIMEO)
		s->rcvtimeo = tv;
	else
		s->sndtimeo = tv;
	return 0;
}

int sock_setsockopt_generic(struct ustack *st, struct sock *s, int name, const void *val,
			    socklen_t len)
{
	struct linger lg;
	int v = 0, rc;

	(void)st;
	if (name == SO_RCVTIMEO || name == SO_SNDTIMEO)
		return sock_set_timeout(s, name, val, len);
	if (name == SO_LINGER) {
		if (!val || len < (socklen_t)sizeof(lg))
			return -EINVAL;
		memcpy(&lg, val, sizeof(lg));
		s->linger_on = lg.l_onoff != 0;
		s->linger_secs = lg.l_linger;
		return 0;
	}
	if ((rc = sock_opt_get_int(val, len, &v)) < 0)
		return rc;
	switch (name) {
	case SO_REUSEADDR: s->reuseaddr = v != 0; return 0;
	case SO_REUSEPORT: s->reuseport = v != 0; return 0;
	case SO_BROADCAST: s->broadcast = v != 0; return 0;
	case SO_KEEPALIVE: s->keepalive = v != 0; return 0;
	case SO_DONTROUTE: s->dontroute = v != 0; return 0;
	case SO_OOBINLINE: s->oobinline = v != 0; return 0;
	case SO_RCVBUF: case SO_RCVBUFFORCE: s->rcvbuf = sock_buf_size(v, SOCK_MIN_RCVBUF); return 0;
	case SO_SNDBUF: case SO_SNDBUFFORCE: s->sndbuf = sock_buf_size(v, SOCK_MIN_SNDBUF); return 0;
	case SO_RCVLOWAT: s->rcvlowat = v < 1 ? 1 : v; return 0;
	case SO_PRIORITY: s->priority = v; return 0;
	case SO_MARK: s->mark = v; return 0;
	case SO_TIMESTAMP: case SO_TIMESTAMPNS: case SO_PASSCRED: case SO_ZEROCOPY:
	case SO_BUSY_POLL: case SO_INCOMING_CPU:
		return 0;   /* accepted like the kernel; no visible effect in ustack */
	case SO_TYPE: case SO_PROTOCOL: case SO_DOMAIN: case SO_ERROR: case SO_ACCEPTCONN:
	case SO_PEERCRED:
		return -ENOPROTOOPT;   /* read-only */
	default:
		return -ENOPROTOOPT;
	}
}

int sock_getsockopt_generic(struct ustack *st, struct sock *s, int name, void *val, socklen_t *len)
{
	struct linger lg;
	int err;

	switch (name) {
	case SO_TYPE: return sock_opt_put_int(val, len, s->proto->type);
	case SO_PROTOCOL: return sock_opt_put_int(val, len, s->proto->protocol);
	case SO_DOMAIN: return sock_opt_put_int(val, len, AF_INET);
	case SO_ERROR:
		err = s->so_error;
		s->so_error = 0;
		sock_readiness(st, s, false);
		return sock_opt_put_int(val, len, err);
	case SO_REUSEADDR: return sock_opt_put_int(val, len, s->reuseaddr);
	case SO_REUSEPORT: return sock_opt_put_int(val, len, s->reuseport);
	case SO_BROADCAST: return sock_opt_put_int(val, len, s->broadcast);
	case SO_KEEPALIVE: return sock_opt_put_int(val, len, s->keepalive);
	case SO_DONTROUTE: return sock_opt_put_int(val, len, s->dontroute);
	case SO_OOBINLINE: return sock_opt_put_int(val, len, s->oobinline);
	case SO_RCVBUF: return sock_opt_put_int(val, len, s->rcvbuf);
	case SO_SNDBUF: return sock_opt_put_int(val, len, s->sndbuf);
	case SO_RCVLOWAT: return sock_opt_put_int(val, len, s->rcvlowat ? s->rcvlowat : 1);
	case SO_SNDLOWAT: return sock_opt_put_int(val, len, 1);
	case SO_PRIORITY: return sock_opt_put_int(val, len, s->priority);
	case SO_MARK: return sock_opt_put_int(val, len, s->mark);
	case SO_RCVTIMEO: return sock_opt_put(val, len, &s->rcvtimeo, sizeof(s->rcvtimeo));
	case SO_SNDTIMEO: return sock_opt_put(val, len, &s->sndtimeo, sizeof(s->sndtimeo));
	case SO_LINGER:
		lg.l_onoff = s->linger_on;
		lg.l_linger = s->linger_secs;
		return sock_opt_put(val, len, &lg, sizeof(lg));
	default:
		return -ENOPROTOOPT;
	}
}

/* ---- the us_* API: lock, dispatch, unlock ---- */

#define API_ENTER(st) struct ustack *st = ustack_global; if (!st) return -ENETDOWN; stack_lock(st)
#define API_LEAVE(st) stack_unlock(st)

static const struct sock_proto *sock_proto_for(int type, int protocol)
{
	if (type == SOCK_DGRAM && (protocol == 0 || protocol == IPPROTO_UDP))
		return &udp_sock_proto;
	if (type == SOCK_STREAM && (protocol == 0 || protocol == IPPROTO_TCP))
		return &tcp_sock_proto;
	return NULL;
}

/* After a call that may have consumed a pending error: once the stack has no error left, clear
 * the kernel error on app_fd too (getsockopt SO_ERROR), as reading it clears a kernel socket's. */
static void sock_sync_error(struct ustack *st, struct sock *s)
{
	if (s->proto->type == SOCK_STREAM && s->mirror_err && s->so_error == 0 &&
	    !(s->proto->poll_mask(st, s) & POLLERR))
		mirror_clear_kernel_error(s);
}

int us_socket(int type, int protocol, bool cloexec, struct us_sock **out)
{
	const struct sock_proto *proto = sock_proto_for(type, protocol);
	struct sock *s;
	int rc;

	if (!proto)
		return type == SOCK_STREAM || type == SOCK_DGRAM ? -EPROTONOSUPPORT : -ESOCKTNOSUPPORT;
	API_ENTER(st);
	rc = sock_new(st, proto, type == SOCK_DGRAM, cloexec, &s);
	if (rc == 0) {
		sock_readiness(st, s, false);
		*out = (struct us_sock *)s;
	}
	API_LEAVE(st);
	return rc;
}

int us_sock_fd(const struct us_sock *us) { return ((const struct sock *)us)->app_fd; }
int us_sock_type(const struct us_sock *us) { return ((const struct sock *)us)->proto->type; }

void us_sock_refd(struct us_sock *us, int new_fd)
{
	struct ustack *st = ustack_global;

	if (!st)
		return;
	stack_lock(st);
	((struct sock *)us)->app_fd = new_fd;
	stack_unlock(st);
}

int us_close(struct us_sock *us)
{
	struct sock *s = (struct sock *)us;

	API_ENTER(st);
	if (s->proto->release && !s->released)
		s->proto->release(st, s);
	sock_free(st, s);
	API_LEAVE(st);
	return 0;
}

/* struct sockaddr → sockaddr_in with the kernel's checks (inet_bind / inet_dgram_connect). */
static int sock_addr_in(const struct sockaddr *addr, socklen_t len, struct sockaddr_in *out,
			bool allow_unspec)
{
	if (!addr)
		return -EFAULT;
	if (len < (socklen_t)sizeof(sa_family_t))
		return -EINVAL;
	if (addr->sa_family == AF_UNSPEC && allow_unspec && len < (socklen_t)sizeof(*out)) {
		memset(out, 0, sizeof(*out));
		return 0;
	}
	if (len < (socklen_t)sizeof(*out))
		return -EINVAL;
	memcpy(out, addr, sizeof(*out));
	if (out->sin_family != AF_INET && !(allow_unspec && out->sin_family == AF_UNSPEC))
		return -EAFNOSUPPORT;
	return 0;
}

int us_bind(struct us_sock *us, const struct sockaddr *addr, socklen_t len)
{
	struct sock *s = (struct sock *)us;
	struct sockaddr_in sin;
	int rc = sock_addr_in(addr, len, &sin, true);

	/* Linux: AF_UNSPEC is accepted for bind only with INADDR_ANY */
	if (rc == 0 && sin.sin_family == AF_UNSPEC) {
		if (sin.sin_addr.s_addr != htonl(INADDR_ANY))
			return -EAFNOSUPPORT;
		sin.sin_family = AF_INET;
	}
	if (rc < 0)
		return rc;
	API_ENTER(st);
	rc = s->proto->bind(st, s, &sin);
	API_LEAVE(st);
	return rc;
}

int us_connect(struct us_sock *us, const struct sockaddr *addr, socklen_t len)
{
	struct sock *s = (struct sock *)us;
	struct sockaddr_in sin;
	int rc = sock_addr_in(addr, len, &sin, true);

	if (rc < 0)
		return rc;
	API_ENTER(st);
	rc = s->proto->connect(st, s, &sin);
	sock_readiness(st, s, false);
	API_LEAVE(st);
	return rc;
}

int us_listen(struct us_sock *us, int backlog)
{
	struct sock *s = (struct sock *)us;
	int rc;

	API_ENTER(st);
	rc = s->proto->listen ? s->proto->listen(st, s, backlog) : -EOPNOTSUPP;
	sock_readiness(st, s, false);
	API_LEAVE(st);
	return rc;
}

static void sock_put_name(const struct sockaddr_in *sin, struct sockaddr *addr, socklen_t *len)
{
	if (!addr || !len)
		return;
	memcpy(addr, sin, (size_t)*len < sizeof(*sin) ? (size_t)*len : sizeof(*sin));
	*len = sizeof(*sin);
}

int us_accept(struct us_sock *us, bool cloexec, struct us_sock **out, struct sockaddr *addr,
	      socklen_t *len)
{
	struct sock *s = (struct sock *)us, *child = NULL;
	struct sockaddr_in peer;
	int rc;

	if (!s->proto->accept)
		return -EOPNOTSUPP;
	if (addr && (!len || (int)*len < 0))
		return -EINVAL;
	API_ENTER(st);
	s->accept_cloexec = cloexec;
	rc = s->proto->accept(st, s, &child);
	if (rc == 0) {
		memset(&peer, 0, sizeof(peer));
		child->proto->getname(st, child, &peer, true);
		sock_put_name(&peer, addr, len);
		sock_readiness(st, child, false);
		*out = (struct us_sock *)child;
	}
	sock_consumed(st, s);
	API_LEAVE(st);
	return rc;
}

int us_shutdown(struct us_sock *us, int how)
{
	struct sock *s = (struct sock *)us;
	int rc;

	if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
		return -EINVAL;
	API_ENTER(st);
	rc = s->proto->shutdown(st, s, how);
	sock_readiness(st, s, false);
	API_LEAVE(st);
	return rc;
}

ssize_t us_sendmsg(struct us_sock *us, const struct iovec *iov, int iovcnt,
		   const struct sockaddr *to, socklen_t tolen, int flags)
{
	struct sock *s = (struct sock *)us;
	struct sockaddr_in sin, *dst = NULL;
	ssize_t rc;

	if (iovcnt < 0 || iovcnt > 1024)
		return -EINVAL;
	if (to && tolen) {
		if (tolen < (socklen_t)sizeof(sin))
			return -EINVAL;
		memcpy(&sin, to, sizeof(sin));
		if (sin.sin_family != AF_INET && sin.sin_family != AF_UNSPEC)
			return -EAFNOSUPPORT;
		dst = &sin;
	}
	API_ENTER(st);
	rc = s->proto->sendmsg(st, s, iov, iovcnt, dst, flags);
	sock_readiness(st, s, false);
	sock_sync_error(st, s);
	API_LEAVE(st);
	return rc;
}

ssize_t us_recvmsg(struct us_sock *us, const struct iovec *iov, int iovcnt, struct sockaddr *from,
		   socklen_t *fromlen, int flags, int *msg_flags)
{
	struct sock *s = (struct sock *)us;
	struct sockaddr_in sin;
	int mflags = 0;
	ssize_t rc;

	if (iovcnt < 0 || iovcnt > 1024)
		return -EINVAL;
	memset(&sin, 0, sizeof(sin));
	API_ENTER(st);
	rc = s->proto->recvmsg(st, s, iov, iovcnt, &sin, flags, &mflags);
	if (rc >= 0 && from && fromlen && sin.sin_family == AF_INET)
		sock_put_name(&sin, from, fromlen);
	else if (rc >= 0 && fromlen)
		*fromlen = 0;
	if (msg_flags)
		*msg_flags = mflags;
	if (!(flags & MSG_PEEK))
		sock_consumed(st, s);
	sock_sync_error(st, s);
	API_LEAVE(st);
	return rc;
}

static int sock_name(struct us_sock *us, struct sockaddr *addr, socklen_t *len, bool peer)
{
	struct sock *s = (struct sock *)us;
	struct sockaddr_in sin;
	int rc;

	if (!addr || !len || (int)*len < 0)
		return -EINVAL;
	memset(&sin, 0, sizeof(sin));
	API_ENTER(st);
	rc = s->proto->getname(st, s, &sin, peer);
	API_LEAVE(st);
	if (rc == 0) {
		sin.sin_family = AF_INET;
		sock_put_name(&sin, addr, len);
	}
	return rc;
}

int us_getsockname(struct us_sock *us, struct sockaddr *addr, socklen_t *len)
{
	return sock_name(us, addr, len, false);
}

int us_getpeername(struct us_sock *us, struct sockaddr *addr, socklen_t *len)
{
	return sock_name(us, addr, len, true);
}

/* SOL_SOCKET options the protocol must also see (buffer sizes, keepalive, linger). */
static bool sock_opt_shared(int name)
{
	return name == SO_RCVBUF || name == SO_SNDBUF || name == SO_RCVBUFFORCE ||
	       name == SO_SNDBUFFORCE || name == SO_KEEPALIVE || name == SO_LINGER;
}

int us_setsockopt(struct us_sock *us, int level, int name, const void *val, socklen_t len)
{
	struct sock *s = (struct sock *)us;
	int rc;

	if ((int)len < 0)
		return -EINVAL;
	API_ENTER(st);
	if (level == SOL_SOCKET) {
		rc = sock_setsockopt_generic(st, s, name, val, len);
		if (rc == 0 && sock_opt_shared(name) && s->proto->setsockopt) {
			int prc = s->proto->setsockopt(st, s, level, name, val, len);
			if (prc != -ENOPROTOOPT)
				rc = prc;
		}
	} else {
		rc = s->proto->setsockopt ? s->proto->setsockopt(st, s, level, name, val, len)
					  : -ENOPROTOOPT;
	}
	sock_readiness(st, s, false);
	API_LEAVE(st);
	return rc;
}

int us_getsockopt(struct us_sock *us, int level, int name, void *val, socklen_t *len)
{
	struct sock *s = (struct sock *)us;
	int rc;

	if (!len || (int)*len < 0)
		return -EINVAL;
	API_ENTER(st);
	rc = -ENOPROTOOPT;
	if (s->proto->getsockopt && (level != SOL_SOCKET || name == SO_ACCEPTCONN))
		rc = s->proto->getsockopt(st, s, level, name, val, len);
	if (level == SOL_SOCKET && rc == -ENOPROTOOPT)
		rc = sock_getsockopt_generic(st, s, name, val, len);
	if (level == SOL_SOCKET && name == SO_ERROR)
		sock_sync_error(st, s);
	API_LEAVE(st);
	return rc;
}

int us_ioctl_inq(struct us_sock *us, int *value)
{
	struct sock *s = (struct sock *)us;
	int rc;

	API_ENTER(st);
	rc = s->proto->inq ? s->proto->inq(st, s, value) : -ENOTTY;
	API_LEAVE(st);
	return rc;
}

int us_ioctl_outq(struct us_sock *us, int *value)
{
	struct sock *s = (struct sock *)us;
	int rc;

	API_ENTER(st);
	if (s->proto->outq) {
		rc = s->proto->outq(st, s, value);
	} else {
		*value = 0;   /* datagrams leave at once: nothing stays queued */
		rc = 0;
	}
	API_LEAVE(st);
	return rc;
}

int us_poll_mask(struct us_sock *us)
{
	struct sock *s = (struct sock *)us;
	int mask;

	API_ENTER(st);
	mask = s->proto->poll_mask(st, s);
	API_LEAVE(st);
	return mask;
}

int us_wait(struct us_sock *us, int want)
{
	return sock_wait((struct sock *)us, want);
}
