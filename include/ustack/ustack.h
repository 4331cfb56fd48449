/*
 * ustack public API: the small interface between the LD_PRELOAD shim (or a test program)
 * and the in-process TCP/UDP/IPv4 stack.
 *
 * Conventions:
 *  - Every function returns >= 0 on success and -errno on failure; only the shim turns that
 *    into -1 + errno.
 *  - Every call is non-blocking: it returns -EAGAIN where a kernel socket would block. The shim
 *    waits with us_wait(), which sleeps in the kernel on the socket's readiness fd, so
 *    signals, SA_RESTART and SO_RCVTIMEO/SO_SNDTIMEO behave as on a kernel socket.
 *  - Addresses cross this API as struct sockaddr_in (network byte order, as in libc).
 *  - All functions are thread-safe (one stack lock inside).
 */
#ifndef USTACK_USTACK_H
#define USTACK_USTACK_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

enum us_log_level { US_LOG_ERROR = 0, US_LOG_WARN = 1, US_LOG_INFO = 2, US_LOG_DEBUG = 3 };

/* Configuration, normally read from the USTACK_* environment (see us_config_from_env). */
struct us_config {
	char ifname[IF_NAMESIZE];  /* USTACK_IF: interface of the packet socket              */
	uint32_t ip;               /* USTACK_IP: our address, host byte order                 */
	uint8_t prefix_len;        /*            and its prefix length                        */
	uint32_t gateway;          /* USTACK_GW: default gateway, host order, 0 = on-link only */
	int mtu;                   /* USTACK_MTU: 0 = the interface's MTU                     */
	uint32_t dns;              /* USTACK_DNS: nameserver, host order, 0 = resolv.conf     */
	char trace_dir[256];       /* USTACK_TRACE: per-connection trace logs, "" = off       */
	char pcap_path[256];       /* USTACK_PCAP: pcap of every frame, "" = off              */
	enum us_log_level log_level; /* USTACK_LOG                                          */
	uint32_t time_wait_ms;     /* USTACK_TIME_WAIT: TIME_WAIT duration, default 60000     */
	uint32_t syn_retries;      /* USTACK_SYN_RETRIES: default 6 like Linux                */
};

/* Fill cfg from the environment. On a bad or missing value returns -EINVAL and writes one
 * line naming the variable and the fix into err. */
int us_config_from_env(struct us_config *cfg, char *err, size_t errlen);

/* Open the packet socket, start the stack thread. On failure returns -errno and writes one line
 * naming the problem and the fix into err (no interface, no CAP_NET_RAW, …). */
int us_start(const struct us_config *cfg, char *err, size_t errlen);
/* Stop the stack thread and release everything (used at exit and by tests). */
void us_stop(void);
bool us_running(void);
/* The process is exiting: close the TCP sockets left open and wait up to timeout_ms for their
 * data and FIN to be delivered (the kernel would go on in the background), then stop the stack
 * thread. Frees nothing. */
void us_exit(unsigned timeout_ms);
/* One-line description: interface, address, MAC, MTU (for the USTACK_LOG=info banner). */
void us_describe(char *buf, size_t len);

/* ---- sockets ---- */
struct us_sock;

/* type: SOCK_STREAM or SOCK_DGRAM (without flags); protocol 0 or IPPROTO_TCP/UDP.
 * nonblock/cloexec apply to the readiness fd the application sees. */
int us_socket(int type, int protocol, bool cloexec, struct us_sock **out);
/* The kernel fd that stands for this socket: the application's fd number. Its poll/epoll
 * readiness mirrors the socket's (POLLIN, POLLOUT, POLLHUP, POLLRDHUP, POLLERR). */
int us_sock_fd(const struct us_sock *s);
int us_sock_type(const struct us_sock *s);
/* The application is closing fd number us_sock_fd(s) but keeps the socket through another fd
 * (a dup): the stack switches to new_fd. The stack must always hold an open fd of the socket. */
void us_sock_refd(struct us_sock *s, int new_fd);
/* Release the socket: the last application reference to it is gone. The caller (the shim) has
 * closed or will close the application fd itself; the stack closes only its own end.
 * A TCP connection goes on closing in the background (FIN, TIME_WAIT) as on the kernel. */
int us_close(struct us_sock *s);

int us_bind(struct us_sock *s, const struct sockaddr *addr, socklen_t len);
int us_connect(struct us_sock *s, const struct sockaddr *addr, socklen_t len);
int us_listen(struct us_sock *s, int backlog);
/* Returns a new socket for a queued connection, or -EAGAIN. */
int us_accept(struct us_sock *s, bool cloexec, struct us_sock **out,
	      struct sockaddr *addr, socklen_t *len);
int us_shutdown(struct us_sock *s, int how);

/* flags: MSG_* as in libc (MSG_PEEK, MSG_DONTWAIT, MSG_TRUNC, MSG_WAITALL, MSG_NOSIGNAL …);
 * the stack never blocks, MSG_DONTWAIT only matters to the shim. Returns bytes or -errno.
 * recvmsg sets *msg_flags (MSG_TRUNC …) and fills *from and *fromlen when non-NULL. */
ssize_t us_sendmsg(struct us_sock *s, const struct iovec *iov, int iovcnt,
		   const struct sockaddr *to, socklen_t tolen, int flags);
ssize_t us_recvmsg(struct us_sock *s, const struct iovec *iov, int iovcnt,
		   struct sockaddr *from, socklen_t *fromlen, int flags, int *msg_flags);

int us_getsockname(struct us_sock *s, struct sockaddr *addr, socklen_t *len);
int us_getpeername(struct us_sock *s, struct sockaddr *addr, socklen_t *len);
int us_setsockopt(struct us_sock *s, int level, int name, const void *val, socklen_t len);
int us_getsockopt(struct us_sock *s, int level, int name, void *val, socklen_t *len);
/* FIONREAD / SIOCINQ: bytes (TCP) or size of the next datagram (UDP). */
int us_ioctl_inq(struct us_sock *s, int *value);
/* SIOCOUTQ: bytes sent but not yet acknowledged, plus unsent (TCP); 0 for UDP. */
int us_ioctl_outq(struct us_sock *s, int *value);

/* Wait until the socket may be ready for what `want` names (US_WANT_READ: data, EOF, error or
 * a connection to accept; US_WANT_WRITE: send space, connect completion or error). Sleeps in the
 * kernel on the readiness fd. Returns 0 (look again), -EINTR (signal, handler without
 * SA_RESTART), or -EAGAIN (SO_RCVTIMEO/SO_SNDTIMEO expired). */
#define US_WANT_READ  1
#define US_WANT_WRITE 2
int us_wait(struct us_sock *s, int want);

/* Readiness the socket has now, as poll(2) revents bits (POLLIN|POLLOUT|POLLERR|…). */
int us_poll_mask(struct us_sock *s);

#ifdef __cplusplus
}
#endif
#endif
