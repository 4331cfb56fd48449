/*
 * Sockets: the protocol-independent part of a ustack socket and its readiness mirror.
 *
 * Readiness mirror. Every socket is backed by a kernel AF_UNIX stream socket, `app_fd`, whose
 * number is the application's fd. The stack holds the other end (`mirror_fd`) and makes the
 * kernel's poll state of app_fd equal to the ustack socket's:
 *   POLLIN     a one-byte token queued from mirror_fd to app_fd
 *   no POLLOUT app_fd's send buffer stuffed (bytes sent into mirror_fd, not read)
 *   POLLRDHUP  shutdown(mirror_fd, SHUT_WR)            (peer's FIN)
 *   POLLHUP    shutdown(mirror_fd, SHUT_RDWR)          (both directions closed)
 *   POLLERR    mirror_fd closed with unread bytes (the kernel sets ECONNRESET on app_fd)
 * (UDP sockets use a SOCK_DGRAM pair instead, so that POLLERR can clear again: see sock.c.)
 * so poll/select/epoll (level, edge, oneshot, nested, several sets, mixed with other fds)
 * are the kernel's own, and blocking calls sleep in the kernel on app_fd (recv MSG_PEEK for
 * "readable", a 1-byte send for "writable"), which gives EINTR/SA_RESTART and
 * SO_RCVTIMEO/SO_SNDTIMEO exactly as on a kernel socket. A TCP socket stays unpaired (a fresh
 * AF_UNIX stream socket polls POLLOUT|POLLHUP, exactly like a fresh TCP socket) until connect()
 * or listen() pairs it through a per-process abstract listener.
 * HUP and ERR are one-way: they are for the end of a connection, as in TCP.
 *
 * Invariant: while a struct sock exists, app_fd is an open fd of the application referring to
 * that AF_UNIX socket (the shim calls us_close before closing the last fd, and us_sock_refd when
 * it closes the fd number the stack uses while a dup remains), so the stack thread may operate on
 * app_fd (clear tokens, stuff the send buffer) without racing an fd-number reuse.
 */
#ifndef USTACK_SOCK_H
#define USTACK_SOCK_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <uthash.h>

struct ustack;
struct sock;

/* Protocol operations. Called with the stack lock held; never block; return >= 0 or -errno. */
struct sock_proto {
	int type;       /* SOCK_DGRAM or SOCK_STREAM */
	int protocol;   /* IPPROTO_UDP or IPPROTO_TCP */
	int (*create)(struct ustack *st, struct sock *s);             /* set s->pcb */
	void (*release)(struct ustack *st, struct sock *s);           /* app closed it */
	int (*bind)(struct ustack *st, struct sock *s, const struct sockaddr_in *addr);
	/* addr->sin_family == AF_UNSPEC: dissolve the association (UDP) */
	int (*connect)(struct ustack *st, struct sock *s, const struct sockaddr_in *addr);
	int (*listen)(struct ustack *st, struct sock *s, int backlog);
	int (*accept)(struct ustack *st, struct sock *s, struct sock **out);
	ssize_t (*sendmsg)(struct ustack *st, struct sock *s, const struct iovec *iov, int iovcnt,
			   const struct sockaddr_in *to, int flags);
	ssize_t (*recvmsg)(struct ustack *st, struct sock *s, const struct iovec *iov, int iovcnt,
			   struct sockaddr_in *from, int flags, int *msg_flags);
	int (*shutdown)(struct ustack *st, struct sock *s, int how);
	/* POLLIN | POLLOUT | POLLERR | POLLHUP | POLLRDHUP as the kernel would report now */
	int (*poll_mask)(struct ustack *st, struct sock *s);
	/* protocol-level options (IPPROTO_TCP …, and SOL_SOCKET ones the protocol must see);
	 * -ENOPROTOOPT when the protocol does not handle it */
	int (*setsockopt)(struct ustack *st, struct sock *s, int level, int name, const void *val,
			  socklen_t len);
	int (*getsockopt)(struct ustack *st, struct sock *s, int level, int name, void *val,
			  socklen_t *len);
	int (*inq)(struct ustack *st, struct sock *s, int *value);
	int (*outq)(struct ustack *st, struct sock *s, int *value);   /* SIOCOUTQ */
	int (*getname)(struct ustack *st, struct sock *s, struct sockaddr_in *addr, bool peer);
};

struct sock {
	const struct sock_proto *proto;
	void *pcb;                 /* struct udp_pcb *, struct tcp_conn * */
	uint64_t id;
	UT_hash_handle hh;         /* in st->socks, by id */

	/* readiness mirror (see above) */
	int app_fd;
	int mirror_fd;             /* -1 while unpaired or after the terminal close */
	bool mirror_token;         /* a token byte is queued to app_fd */
	bool mirror_stuffed;       /* app_fd's send buffer is full */
	bool mirror_rdhup;         /* mirror_fd shut for writing */
	bool mirror_hup;           /* mirror_fd shut both ways (POLLHUP): one way */
	bool mirror_has_byte;      /* a byte sits in mirror_fd's queue, ready to make POLLERR */
	bool mirror_err;           /* mirror_fd closed with that byte: POLLERR shown */
	bool new_data_edge;        /* data arrived since the app last read: re-signal for EPOLLET */
	struct sockaddr_un mirror_app_addr;   /* datagram mirror: app_fd's autobound name */
	socklen_t mirror_app_addr_len;

	/* generic options (SOL_SOCKET) */
	int so_error;              /* pending error (positive errno); SO_ERROR reads and clears */
	int rcvbuf, sndbuf;        /* as getsockopt reports them (doubled, like Linux) */
	bool reuseaddr, reuseport, broadcast, keepalive, dontroute, oobinline;
	bool linger_on;
	int linger_secs;
	int priority, mark;
	struct timeval rcvtimeo, sndtimeo;
	int rcvlowat;
	bool accept_cloexec;       /* for the sockets accept() is creating now */
	bool released;             /* proto->release done (us_close, or the process exiting) */
};

#define SOCK_DEFAULT_RCVBUF 131072   /* Linux: net.core.rmem_default 212992; tcp_rmem[1] 131072 */
#define SOCK_DEFAULT_SNDBUF 16384    /* tcp_wmem[1] */
#define SOCK_DEFAULT_UDP_RCVBUF 212992
#define SOCK_DEFAULT_UDP_SNDBUF 212992

/* Allocate a socket of proto with an unpaired (TCP) or paired (UDP) readiness fd.
 * Used by us_socket and by TCP's accept (paired=true). */
int sock_new(struct ustack *st, const struct sock_proto *proto, bool paired, bool cloexec,
	     struct sock **out);
/* Free the struct (after proto->release); closes mirror_fd, never app_fd (the shim owns it). */
void sock_free(struct ustack *st, struct sock *s);
/* A stream socket whose mirror is final (POLLHUP/POLLERR of a failed or finished connection)
 * connects again (Linux allows it): its fd number gets a fresh, unpaired file. */
int sock_mirror_renew(struct ustack *st, struct sock *s);
/* Pair an unpaired socket's readiness fd (TCP connect/listen). */
int sock_mirror_pair(struct ustack *st, struct sock *s);
/* Recompute readiness from proto->poll_mask and make app_fd's kernel poll state match it.
 * new_data: data or a connection arrived (re-signal readers even if POLLIN was already set,
 * so edge-triggered epoll sees a new edge, as with kernel sockets). Cheap when nothing changed. */
void sock_readiness(struct ustack *st, struct sock *s, bool new_data);
/* After the application consumed data: clears the EPOLLET re-signal state, then readiness. */
void sock_consumed(struct ustack *st, struct sock *s);

/* Waiting (called WITHOUT the stack lock): see us_wait in ustack/ustack.h. */
int sock_wait(struct sock *s, int want);

/* Option values as the kernel reads and writes them: an int option needs a full int (else
 * -EINVAL); a value is copied out truncated to the caller's length, which is updated. */
int sock_opt_get_int(const void *val, socklen_t len, int *out);
int sock_opt_put(void *val, socklen_t *len, const void *src, size_t size);
int sock_opt_put_int(void *val, socklen_t *len, int v);

/* SOL_SOCKET options common to all protocols. */
int sock_setsockopt_generic(struct ustack *st, struct sock *s, int name, const void *val, socklen_t len);
int sock_getsockopt_generic(struct ustack *st, struct sock *s, int name, void *val, socklen_t *len);

/* Process exit: release the TCP sockets the application left open, as the kernel closes a
 * process's fds when it exits (their connections then finish in the background). */
void sock_release_streams(struct ustack *st);

int sock_table_init(struct ustack *st);
void sock_table_fini(struct ustack *st);

#endif
