/*
 * Name resolution over ustack: getaddrinfo, getnameinfo, gethostbyname, gethostbyname2,
 * gethostbyname_r, gethostbyname2_r, gethostbyaddr, gethostbyaddr_r.
 *
 * A process running over ustack has its IPv4 address in the stack, not in the kernel, so libc's
 * resolver (kernel UDP sockets) cannot reach a nameserver. These hooks resolve names with c-ares
 * instead, whose sockets are the stack's own (us_socket …, below), in the order glibc's
 * "hosts: files dns" gives: /etc/hosts first, then DNS.
 *
 * Policy (getaddrinfo; the gethostby* functions follow the same rules):
 *   - no host name, or a numeric one (IPv4 in inet_aton form, IPv6 with or without %scope), or
 *     AI_NUMERICHOST: libc's getaddrinfo, no network. For AF_UNSPEC and AF_INET the request goes
 *     to libc as AF_INET without AI_ADDRCONFIG (the kernel sees no IPv4 address here, ustack has
 *     one), so a passive NULL host gives 0.0.0.0 only and never "::".
 *   - a name with AF_INET or AF_UNSPEC: c-ares, IPv4 results only (ustack has no IPv6 yet: like a
 *     host without IPv6 under AI_ADDRCONFIG). A name that is no valid host name (res_hnok: empty,
 *     spaces …) is looked up in /etc/hosts only: glibc sends no query for it either.
 *   - a name with AF_INET6: EAI_NONAME, which is what glibc answers on an IPv4-only host with
 *     AI_ADDRCONFIG (gethostbyname2: HOST_NOT_FOUND). An AF_INET6 socket would be the kernel's,
 *     which has no route here; programs that try AF_INET6 first then fall back to AF_INET.
 *   - other families: libc (EAI_FAMILY).
 * Hints, the service and the result layout are libc's own: the hints and service are checked
 * first by libc's getaddrinfo on "0.0.0.0" (EAI_BADFLAGS, EAI_SERVICE, EAI_SOCKTYPE before any
 * lookup, as glibc), then each address found is expanded by libc's getaddrinfo with
 * AI_NUMERICHOST (one result per socket type, ports from /etc/services) and the lists are
 * chained. Every node is therefore allocated by glibc exactly as glibc's freeaddrinfo expects;
 * the only memory of ours is ai_canonname (malloc), which glibc's freeaddrinfo frees with free().
 * freeaddrinfo needs no hook.
 *
 * Errors (c-ares status → EAI_*, h_errno), chosen to be glibc's for the same DNS outcome:
 *   ENOTFOUND (NXDOMAIN, not in hosts), EBADNAME     → EAI_NONAME,  HOST_NOT_FOUND
 *   ENODATA (the name has no A record)               → EAI_NODATA,  NO_DATA
 *   ETIMEOUT, ECONNREFUSED, ESERVFAIL, EREFUSED, ENOTIMP, EOF, ECANCELLED, EDESTRUCTION
 *                                                    → EAI_AGAIN,   TRY_AGAIN
 *   ENOMEM                                           → EAI_MEMORY,  NETDB_INTERNAL (ENOMEM)
 *   EFILE                                            → EAI_SYSTEM,  NETDB_INTERNAL
 *   EFORMERR, EBADRESP and the rest                  → EAI_FAIL,    NO_RECOVERY
 *
 * Nameserver: USTACK_DNS, else /etc/resolv.conf's (search domains, ndots and options come from
 * resolv.conf either way). Each query is tried DNS_TRIES times, DNS_TIMEOUT_MS the first time
 * and twice that the second (c-ares doubles per round): at most 6 s per query with one server,
 * and no call lasts longer than DNS_CALL_LIMIT_MS. A truncated UDP answer is asked again over
 * TCP by c-ares. Only when the process runs over ustack (USTACK_IP set) and is not a child
 * forked from a running stack (that child gets libc's resolver).
 *
 * Threads: one c-ares channel per call, so calls from several threads (curl's resolver thread)
 * share nothing but c-ares's global init. The c-ares sockets are stack sockets created through
 * ares_set_socket_functions; their fds (us_sock_fd, real kernel fds whose poll readiness mirrors
 * the stack socket) are kept in the call's own small table, not in the shim's fd table, and are
 * waited on with the real poll(). The thread's guard is set for the whole call, so nothing c-ares
 * or libc does inside re-enters the hooks. The stack starts at the first DNS socket, so a name
 * found in /etc/hosts needs no stack and sends nothing.
 */
#include <ares.h>
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netdb.h>
#include <pthread.h>
#include <resolv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

#define DNS_TIMEOUT_MS 2000       /* first try of a query; c-ares doubles it for the second */
#define DNS_TRIES 2
#define DNS_CALL_LIMIT_MS 15000   /* whole call, search domains included */
#define DNS_MAX_SOCKS 8           /* per call: one UDP and one TCP socket per server, reopened */
#define DNS_TLS_HOST_MIN 1024     /* first buffer of gethostbyname's per-thread result */

/* The libc functions behind the hooks (dlsym(RTLD_NEXT), see dns_init_once). */
static struct {
	int (*getaddrinfo)(const char *, const char *, const struct addrinfo *,
			   struct addrinfo **);
	int (*getnameinfo)(const struct sockaddr *, socklen_t, char *, socklen_t, char *,
			   socklen_t, int);
	struct hostent *(*gethostbyname)(const char *);
	struct hostent *(*gethostbyname2)(const char *, int);
	int (*gethostbyname_r)(const char *, struct hostent *, char *, size_t, struct hostent **,
			       int *);
	int (*gethostbyname2_r)(const char *, int, struct hostent *, char *, size_t,
				struct hostent **, int *);
	struct hostent *(*gethostbyaddr)(const void *, socklen_t, int);
	int (*gethostbyaddr_r)(const void *, socklen_t, int, struct hostent *, char *, size_t,
			       struct hostent **, int *);
} dns_real;

static pthread_once_t dns_once = PTHREAD_ONCE_INIT;
static bool dns_over_ustack;          /* USTACK_IP is set: this process runs over ustack */
static bool dns_server_set;           /* USTACK_DNS given */
static struct in_addr dns_server;     /* … and its address */
static pthread_key_t dns_tls_key;     /* struct dns_tls_host of gethostbyname & co */
static bool dns_tls_key_ok;

/* The per-thread result of the non-reentrant gethostby* functions. */
struct dns_tls_host {
	struct hostent he;
	size_t cap;
	char *buf;
};

static void dns_tls_free(void *p)
{
	struct dns_tls_host *t = p;

	if (t) {
		free(t->buf);
		free(t);
	}
}

#define DNS_LOOKUP(field, name) (*(void **)&dns_real.field = dlsym(RTLD_NEXT, name))

static void dns_init_once(void)
{
	const char *ip, *server;

	shim_guard++;
	DNS_LOOKUP(getaddrinfo, "getaddrinfo");
	DNS_LOOKUP(getnameinfo, "getnameinfo");
	DNS_LOOKUP(gethostbyname, "gethostbyname");
	DNS_LOOKUP(gethostbyname2, "gethostbyname2");
	DNS_LOOKUP(gethostbyname_r, "gethostbyname_r");
	DNS_LOOKUP(gethostbyname2_r, "gethostbyname2_r");
	DNS_LOOKUP(gethostbyaddr, "gethostbyaddr");
	DNS_LOOKUP(gethostbyaddr_r, "gethostbyaddr_r");
	ip = getenv("USTACK_IP");
	dns_over_ustack = ip && *ip && ares_library_init(ARES_LIB_INIT_ALL) == ARES_SUCCESS;
	/* the shim's constructor has already rejected a malformed USTACK_DNS */
	server = getenv("USTACK_DNS");
	dns_server_set = server && inet_pton(AF_INET, server, &dns_server) == 1;
	dns_tls_key_ok = pthread_key_create(&dns_tls_key, dns_tls_free) == 0;
	shim_guard--;
}

/* True when this call is ours to resolve (else it goes to libc untouched). */
static bool dns_ours(void)
{
	pthread_once(&dns_once, dns_init_once);
	return !shim_guard && dns_over_ustack && !shim_forked_child;
}

/* ---- c-ares status → libc errors ---- */

static int dns_eai_from_ares(int status)
{
	switch (status) {
	case ARES_SUCCESS:
		return 0;
	case ARES_ENOTFOUND:
	case ARES_EBADNAME:
		return EAI_NONAME;
	case ARES_ENODATA:
		return EAI_NODATA;
	case ARES_ETIMEOUT:
	case ARES_ECONNREFUSED:
	case ARES_ESERVFAIL:
	case ARES_EREFUSED:
	case ARES_ENOTIMP:
	case ARES_EOF:
	case ARES_ECANCELLED:
	case ARES_EDESTRUCTION:
		return EAI_AGAIN;
	case ARES_ENOMEM:
		return EAI_MEMORY;
	case ARES_EFILE:
		return EAI_SYSTEM;
	case ARES_EBADFAMILY:
		return EAI_FAMILY;
	case ARES_ESERVICE:
		return EAI_SERVICE;
	default:
		return EAI_FAIL;
	}
}

static int dns_herrno_from_ares(int status)
{
	switch (dns_eai_from_ares(status)) {
	case EAI_NONAME:
		return HOST_NOT_FOUND;
	case EAI_NODATA:
		return NO_DATA;
	case EAI_AGAIN:
		return TRY_AGAIN;
	case EAI_MEMORY:
	case EAI_SYSTEM:
		return NETDB_INTERNAL;
	default:
		return NO_RECOVERY;
	}
}

/* ---- c-ares's sockets are stack sockets ---- */

struct dns_sock {
	int fd;                /* us_sock_fd(us), -1 for a free slot */
	struct us_sock *us;
};

/* One resolution: its channel, its sockets and its result. Lives on the caller's stack. */
struct dns_call {
	ares_channel channel;
	struct dns_sock socks[DNS_MAX_SOCKS];
	bool done;
	int status;                   /* ARES_* once done */
	struct ares_addrinfo *ai;     /* forward lookup result (ours to free) */
	struct hostent *host;         /* reverse lookup result, one malloc (ours to free) */
};

static struct dns_sock *dns_sock_find(struct dns_call *call, int fd)
{
	for (int i = 0; i < DNS_MAX_SOCKS; i++)
		if (call->socks[i].fd == fd)
			return &call->socks[i];
	return NULL;
}

/* c-ares reads errno after a failed socket function. */
static long dns_sock_result(long r)
{
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

static ares_socket_t dns_asocket(int family, int type, int protocol, void *arg)
{
	struct dns_sock *slot = dns_sock_find(arg, -1);
	struct us_sock *us = NULL;
	int r;

	if (family != AF_INET)
		r = -EAFNOSUPPORT;
	else if (!slot)
		r = -EMFILE;
	else
		r = shim_stack_ensure();
	if (r == 0)
		r = us_socket(type, protocol, true, &us);
	if (r < 0) {
		errno = -r;
		return ARES_SOCKET_BAD;
	}
	slot->us = us;
	slot->fd = us_sock_fd(us);
	return slot->fd;
}

/* The stack never closes the application's fd (ustack.h): release the socket, then the fd. */
static int dns_aclose(ares_socket_t fd, void *arg)
{
	struct dns_sock *slot = fd >= 0 ? dns_sock_find(arg, fd) : NULL;

	if (!slot)
		return (int)dns_sock_result(-EBADF);
	us_close(slot->us);
	REAL(close)(fd);
	slot->fd = -1;
	slot->us = NULL;
	return 0;
}

static int dns_aconnect(ares_socket_t fd, const struct sockaddr *addr, ares_socklen_t len,
			void *arg)
{
	struct dns_sock *slot = fd >= 0 ? dns_sock_find(arg, fd) : NULL;

	if (!slot)
		return (int)dns_sock_result(-EBADF);
	return (int)dns_sock_result(us_connect(slot->us, addr, len));
}

static ares_ssize_t dns_arecvfrom(ares_socket_t fd, void *buf, size_t len, int flags,
				  struct sockaddr *from, ares_socklen_t *fromlen, void *arg)
{
	struct dns_sock *slot = fd >= 0 ? dns_sock_find(arg, fd) : NULL;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	int msg_flags = 0;

	if (!slot)
		return dns_sock_result(-EBADF);
	return dns_sock_result(us_recvmsg(slot->us, &iov, 1, from, fromlen, flags, &msg_flags));
}

static ares_ssize_t dns_asendv(ares_socket_t fd, const struct iovec *iov, int iovcnt, void *arg)
{
	struct dns_sock *slot = fd >= 0 ? dns_sock_find(arg, fd) : NULL;

	if (!slot)
		return dns_sock_result(-EBADF);
	return dns_sock_result(us_sendmsg(slot->us, iov, iovcnt, NULL, 0, MSG_NOSIGNAL));
}

static const struct ares_socket_functions dns_socket_functions = {
	.asocket = dns_asocket,
	.aclose = dns_aclose,
	.aconnect = dns_aconnect,
	.arecvfrom = dns_arecvfrom,
	.asendv = dns_asendv,
};

/* ---- one call: channel, event loop, teardown ---- */

/* lookups: "fb" (/etc/hosts, then DNS) or "f" (/etc/hosts only). */
static int dns_call_begin(struct dns_call *call, const char *lookups)
{
	struct ares_options opts;
	int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS;
	int status;

	memset(call, 0, sizeof(*call));
	for (int i = 0; i < DNS_MAX_SOCKS; i++)
		call->socks[i].fd = -1;
	memset(&opts, 0, sizeof(opts));
	opts.timeout = DNS_TIMEOUT_MS;
	opts.tries = DNS_TRIES;
	opts.lookups = (char *)lookups;
	if (dns_server_set) {
		opts.servers = &dns_server;
		opts.nservers = 1;
		mask |= ARES_OPT_SERVERS;
	}
	status = ares_init_options(&call->channel, &opts, mask);
	if (status != ARES_SUCCESS)
		return status;
	ares_set_socket_functions(call->channel, &dns_socket_functions, call);
	return ARES_SUCCESS;
}

static void dns_call_end(struct dns_call *call)
{
	ares_destroy(call->channel);   /* closes its sockets through dns_aclose */
	for (int i = 0; i < DNS_MAX_SOCKS; i++)
		if (call->socks[i].fd >= 0)
			dns_aclose(call->socks[i].fd, call);
}

static int64_t dns_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The sockets c-ares waits on, as pollfds. Returns their number. */
static int dns_poll_set(ares_channel channel, struct pollfd *pfds)
{
	ares_socket_t socks[ARES_GETSOCK_MAXNUM];
	int bits = ares_getsock(channel, socks, ARES_GETSOCK_MAXNUM);
	int n = 0;

	for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
		short events = 0;

		if (ARES_GETSOCK_READABLE(bits, i))
			events |= POLLIN;
		if (ARES_GETSOCK_WRITABLE(bits, i))
			events |= POLLOUT;
		if (!events)
			break;
		pfds[n].fd = socks[i];
		pfds[n].events = events;
		pfds[n].revents = 0;
		n++;
	}
	return n;
}

/* Milliseconds until c-ares's next timeout, at most left; rounded up so a wait never ends just
 * before the deadline c-ares checks (which would spin). */
static int dns_wait_ms(ares_channel channel, int64_t left)
{
	struct timeval max = { .tv_sec = left / 1000, .tv_usec = (left % 1000) * 1000 };
	struct timeval tv, *next = ares_timeout(channel, &max, &tv);

	return (int)(next->tv_sec * 1000 + (next->tv_usec + 999) / 1000);
}

/* Drive c-ares until the request finished (its callback ran) or the call's time is up. The
 * thread sleeps in the kernel on the stack sockets' fds; nothing polls. */
static void dns_call_run(struct dns_call *call)
{
	struct pollfd pfds[ARES_GETSOCK_MAXNUM];
	int64_t deadline = dns_now_ms() + DNS_CALL_LIMIT_MS, left;
	int n, r;

	while (!call->done) {
		left = deadline - dns_now_ms();
		if (left <= 0)
			break;
		n = dns_poll_set(call->channel, pfds);
		r = REAL(poll)(pfds, (nfds_t)n, dns_wait_ms(call->channel, left));
		if (r < 0 && errno != EINTR)
			break;
		if (r == 0) {
			ares_process_fd(call->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
			continue;
		}
		for (int i = 0; i < n && r > 0; i++) {
			short ev = pfds[i].revents;

			if (!ev)
				continue;
			ares_process_fd(call->channel,
					ev & (POLLIN | POLLERR | POLLHUP) ? pfds[i].fd : ARES_SOCKET_BAD,
					ev & (POLLOUT | POLLERR | POLLHUP) ? pfds[i].fd : ARES_SOCKET_BAD);
		}
	}
	if (!call->done)
		ares_cancel(call->channel);   /* runs the callback with ARES_ECANCELLED */
	if (!call->done) {
		call->done = true;
		call->status = ARES_ECANCELLED;
	}
}

/* ---- forward lookups ---- */

static void dns_forward_done(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
	struct dns_call *call = arg;

	(void)timeouts;
	call->status = status;
	call->ai = status == ARES_SUCCESS ? ai : NULL;
	if (status != ARES_SUCCESS && ai)
		ares_freeaddrinfo(ai);
	call->done = true;
}

/* IPv4 addresses of name from /etc/hosts, else DNS. Returns an ARES_* status; on success *out is
 * the c-ares result (ares_freeaddrinfo). want_names: also the canonical name and aliases. */
static int dns_forward(const char *name, bool want_names, struct ares_addrinfo **out)
{
	struct ares_addrinfo_hints hints = {
		.ai_flags = ARES_AI_NOSORT | (want_names ? ARES_AI_CANONNAME : 0),
		.ai_family = AF_INET,
	};
	struct dns_call call;
	/* RFC 1123 §2.1 host name syntax (res_hnok): glibc sends no query for a name that breaks
	 * it (spaces …); /etc/hosts may still have it */
	bool files_only = !name[0] || !res_hnok(name);
	int status = dns_call_begin(&call, files_only ? "f" : "fb");

	*out = NULL;
	if (status != ARES_SUCCESS)
		return status;
	ares_getaddrinfo(call.channel, name, NULL, &hints, dns_forward_done, &call);
	dns_call_run(&call);
	dns_call_end(&call);
	*out = call.ai;
	if (call.status == ARES_SUCCESS && !call.ai)
		return ARES_ENODATA;
	/* c-ares reports a miss of its last lookup method with its initial status (ECONNREFUSED) */
	if (files_only && call.status != ARES_SUCCESS && call.status != ARES_ENOMEM)
		return ARES_ENOTFOUND;
	return call.status;
}

/* The canonical name: the end of the CNAME chain (or the hosts line's first name), else the
 * name that was asked for (with the search domain that answered). */
static const char *dns_canon_name(const struct ares_addrinfo *ai, const char *asked)
{
	const struct ares_addrinfo_cname *c, *last = NULL;

	for (c = ai->cnames; c; c = c->next)
		if (c->name)
			last = c;
	if (last)
		return last->name;
	return ai->name ? ai->name : asked;
}

/* ---- getaddrinfo ---- */

enum dns_route {
	DNS_ROUTE_LIBC,       /* libc, unchanged */
	DNS_ROUTE_LIBC_V4,    /* libc, as AF_INET without AI_ADDRCONFIG */
	DNS_ROUTE_NO_V6,      /* a name asked for as AF_INET6: EAI_NONAME */
	DNS_ROUTE_RESOLVE,    /* ours */
};

/* 4 for a numeric IPv4 address in any inet_aton form (as glibc accepts it: nothing after it),
 * 6 for a numeric IPv6 one (scope suffix allowed), else 0. */
static int dns_numeric(const char *node)
{
	char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 1];
	struct in6_addr a6;
	struct in_addr a4;
	size_t len = strcspn(node, "%");

	if (inet_aton(node, &a4) && !strpbrk(node, " \t\n"))
		return 4;
	if (len >= INET6_ADDRSTRLEN)
		return 0;
	memcpy(buf, node, len);
	buf[len] = '\0';
	return inet_pton(AF_INET6, buf, &a6) == 1 ? 6 : 0;
}

static enum dns_route dns_gai_route(const char *node, const struct addrinfo *hints)
{
	int family = hints->ai_family, numeric;

	if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6)
		return DNS_ROUTE_LIBC;
	numeric = node ? dns_numeric(node) : 0;
	if (!node || numeric || (hints->ai_flags & AI_NUMERICHOST))
		return family == AF_INET6 || numeric == 6 ? DNS_ROUTE_LIBC : DNS_ROUTE_LIBC_V4;
	return family == AF_INET6 ? DNS_ROUTE_NO_V6 : DNS_ROUTE_RESOLVE;
}

/* libc's results for each address of ai, chained in c-ares's order (the DNS answer's, or the
 * hosts file's): each expanded from its numeric form with the caller's service and hints. */
static int dns_gai_expand(const struct ares_addrinfo *ai, const char *service,
			  const struct addrinfo *hints, struct addrinfo **res)
{
	struct addrinfo each = *hints, *head = NULL, **tail = &head, *part;
	const struct ares_addrinfo_node *n;
	char text[INET_ADDRSTRLEN];
	int rc = 0;

	each.ai_family = AF_INET;
	each.ai_flags = (hints->ai_flags & ~(AI_ADDRCONFIG | AI_CANONNAME | AI_CANONIDN)) |
			AI_NUMERICHOST;
	for (n = ai->nodes; n && rc == 0; n = n->ai_next) {
		if (n->ai_family != AF_INET || !n->ai_addr)
			continue;
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)n->ai_addr)->sin_addr,
			  text, sizeof(text));
		rc = dns_real.getaddrinfo(text, service, &each, &part);
		if (rc == 0) {
			*tail = part;
			while (*tail)
				tail = &(*tail)->ai_next;
		}
	}
	if (rc == 0 && !head)
		rc = EAI_NODATA;
	if (rc != 0 && head)
		freeaddrinfo(head);
	*res = rc == 0 ? head : NULL;
	return rc;
}

static int dns_gai_resolve(const char *node, const char *service, const struct addrinfo *hints,
			   struct addrinfo **res)
{
	struct addrinfo probe_hints = *hints, *probe;
	struct ares_addrinfo *ai;
	int rc, status;

	/* the hints and the service are libc's to judge, before any lookup (as glibc does) */
	probe_hints.ai_family = AF_INET;
	probe_hints.ai_flags = (hints->ai_flags & ~AI_ADDRCONFIG) | AI_NUMERICHOST;
	rc = dns_real.getaddrinfo("0.0.0.0", service, &probe_hints, &probe);
	if (rc != 0)
		return rc;
	freeaddrinfo(probe);

	status = dns_forward(node, (hints->ai_flags & AI_CANONNAME) != 0, &ai);
	if (status != ARES_SUCCESS)
		return dns_eai_from_ares(status);
	rc = dns_gai_expand(ai, service, hints, res);
	if (rc == 0 && (hints->ai_flags & AI_CANONNAME)) {
		/* glibc's freeaddrinfo frees ai_canonname with free() */
		(*res)->ai_canonname = strdup(dns_canon_name(ai, node));
		if (!(*res)->ai_canonname) {
			freeaddrinfo(*res);
			*res = NULL;
			rc = EAI_MEMORY;
		}
	}
	ares_freeaddrinfo(ai);
	return rc;
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		struct addrinfo **res)
{
	struct addrinfo local = { .ai_flags = AI_V4MAPPED | AI_ADDRCONFIG, .ai_family = AF_UNSPEC };
	int saved = errno, rc;

	if (!dns_ours())
		return dns_real.getaddrinfo(node, service, hints, res);
	if (hints) {
		local.ai_flags = hints->ai_flags;
		local.ai_family = hints->ai_family;
		local.ai_socktype = hints->ai_socktype;
		local.ai_protocol = hints->ai_protocol;
	}
	/* RFC 3493 §6.1: AI_ADDRCONFIG asks for IPv4 results only if an IPv4 address is configured
	 * — ustack's is, though the kernel shows none, so the flag never removes IPv4 here */
	switch (dns_gai_route(node, &local)) {
	case DNS_ROUTE_LIBC:
		return dns_real.getaddrinfo(node, service, hints, res);
	case DNS_ROUTE_LIBC_V4:
		local.ai_family = AF_INET;
		local.ai_flags &= ~AI_ADDRCONFIG;
		return dns_real.getaddrinfo(node, service, &local, res);
	case DNS_ROUTE_NO_V6:
		return EAI_NONAME;
	case DNS_ROUTE_RESOLVE:
		break;
	}
	shim_guard++;
	rc = dns_gai_resolve(node, service, &local, res);
	shim_guard--;
	if (rc != EAI_SYSTEM)
		errno = saved;
	return rc;
}

/* ---- struct hostent ---- */

static size_t dns_vec_len(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

/* Bytes dns_hostent_copy needs for src, alignment included. */
static size_t dns_hostent_size(const struct hostent *src)
{
	size_t nal = dns_vec_len(src->h_aliases), nad = dns_vec_len(src->h_addr_list);
	size_t size = sizeof(char *) - 1 + (nal + 1 + nad + 1) * sizeof(char *);

	size += nad * (size_t)src->h_length + strlen(src->h_name) + 1;
	for (size_t i = 0; i < nal; i++)
		size += strlen(src->h_aliases[i]) + 1;
	return size;
}

static char *dns_put_string(char **cursor, const char *s)
{
	size_t len = strlen(s) + 1;
	char *at = *cursor;

	memcpy(at, s, len);
	*cursor += len;
	return at;
}

/* Deep copy of src into dst whose strings and arrays live in buf. 0, or ERANGE if buf is too
 * small (the caller of gethostbyname_r then retries with a larger one). */
static int dns_hostent_copy(const struct hostent *src, struct hostent *dst, char *buf,
			    size_t buflen)
{
	size_t nal = dns_vec_len(src->h_aliases), nad = dns_vec_len(src->h_addr_list);
	size_t pad = (sizeof(char *) - (uintptr_t)buf % sizeof(char *)) % sizeof(char *);
	char **aliases, **addrs, *cursor;

	if (!buf || dns_hostent_size(src) - (sizeof(char *) - 1) + pad > buflen)
		return ERANGE;
	aliases = (char **)(void *)(buf + pad);
	addrs = aliases + nal + 1;
	cursor = (char *)(addrs + nad + 1);
	for (size_t i = 0; i < nad; i++) {
		memcpy(cursor, src->h_addr_list[i], (size_t)src->h_length);
		addrs[i] = cursor;
		cursor += src->h_length;
	}
	addrs[nad] = NULL;
	dst->h_name = dns_put_string(&cursor, src->h_name);
	for (size_t i = 0; i < nal; i++)
		aliases[i] = dns_put_string(&cursor, src->h_aliases[i]);
	aliases[nal] = NULL;
	dst->h_aliases = aliases;
	dst->h_addr_list = addrs;
	dst->h_addrtype = src->h_addrtype;
	dst->h_length = src->h_length;
	return 0;
}

/* A hostent in one malloc (free() it), copied from src. NULL when out of memory. */
static struct hostent *dns_hostent_dup(const struct hostent *src)
{
	size_t size = sizeof(struct hostent) + dns_hostent_size(src);
	struct hostent *he = malloc(size);

	if (he && dns_hostent_copy(src, he, (char *)(he + 1), size - sizeof(*he)) != 0) {
		free(he);
		he = NULL;
	}
	return he;
}

static bool dns_vec_has(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(v[i], s) == 0)
			return true;
	return false;
}

/* The hostent of a forward lookup: canonical name, the other names met (CNAME owners, a hosts
 * line's aliases), the IPv4 addresses. One malloc, or NULL when out of memory. */
static struct hostent *dns_hostent_from_ai(const struct ares_addrinfo *ai, const char *asked)
{
	const struct ares_addrinfo_cname *c;
	const struct ares_addrinfo_node *n;
	size_t nal = 0, nad = 0;
	struct hostent view = { .h_addrtype = AF_INET, .h_length = 4 }, *he = NULL;
	char **aliases, **addrs;

	for (c = ai->cnames; c; c = c->next)
		nal++;
	for (n = ai->nodes; n; n = n->ai_next)
		nad++;
	aliases = calloc(nal + 1, sizeof(char *));
	addrs = calloc(nad + 1, sizeof(char *));
	if (aliases && addrs) {
		view.h_name = (char *)dns_canon_name(ai, asked);
		nal = 0;
		for (c = ai->cnames; c; c = c->next)
			if (c->alias && strcasecmp(c->alias, view.h_name) != 0 &&
			    !dns_vec_has(aliases, nal, c->alias))
				aliases[nal++] = c->alias;
		nad = 0;
		for (n = ai->nodes; n; n = n->ai_next)
			if (n->ai_family == AF_INET && n->ai_addr)
				addrs[nad++] = (char *)&((struct sockaddr_in *)(void *)n->ai_addr)->sin_addr;
		view.h_aliases = aliases;
		view.h_addr_list = addrs;
		he = dns_hostent_dup(&view);
	}
	free(aliases);
	free(addrs);
	return he;
}

/* Forward lookup into a malloc'd hostent (*out) or an ARES_* error. */
static int dns_host_by_name(const char *name, struct hostent **out)
{
	struct ares_addrinfo *ai;
	int status = dns_forward(name, true, &ai);

	*out = NULL;
	if (status != ARES_SUCCESS)
		return status;
	*out = dns_hostent_from_ai(ai, name);
	ares_freeaddrinfo(ai);
	return *out ? ARES_SUCCESS : ARES_ENOMEM;
}

/* A reverse answer's hostent without the aliases that repeat h_name (glibc lists none of those).
 * One malloc, or NULL when out of memory. */
static struct hostent *dns_hostent_from_reverse(const struct hostent *he)
{
	size_t n = dns_vec_len(he->h_aliases), kept = 0;
	char **aliases = calloc(n + 1, sizeof(char *));
	struct hostent view = *he, *copy;

	if (!aliases)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(he->h_aliases[i], he->h_name) != 0 &&
		    !dns_vec_has(aliases, kept, he->h_aliases[i]))
			aliases[kept++] = he->h_aliases[i];
	view.h_aliases = aliases;
	copy = dns_hostent_dup(&view);
	free(aliases);
	return copy;
}

static void dns_reverse_done(void *arg, int status, int timeouts, struct hostent *he)
{
	struct dns_call *call = arg;

	(void)timeouts;
	call->status = status;
	if (status == ARES_SUCCESS) {
		call->host = he && he->h_name ? dns_hostent_from_reverse(he) : NULL;
		if (!call->host)
			call->status = he && he->h_name ? ARES_ENOMEM : ARES_ENOTFOUND;
	}
	call->done = true;
}

/* Reverse lookup of an IPv4 address (/etc/hosts, then PTR) into a malloc'd hostent (*out) or an
 * ARES_* error. */
static int dns_host_by_addr(const struct in_addr *addr, struct hostent **out)
{
	struct dns_call call;
	int status = dns_call_begin(&call, "fb");

	*out = NULL;
	if (status != ARES_SUCCESS)
		return status;
	ares_gethostbyaddr(call.channel, addr, sizeof(*addr), AF_INET, dns_reverse_done, &call);
	dns_call_run(&call);
	dns_call_end(&call);
	*out = call.host;
	return call.status;
}

/* The reentrant form's result, as glibc's gethostbyname_r gives it: 0 (found, or an answer
 * that there is none), ERANGE (buffer too small), EAGAIN (try again), ENOMEM. */
static int dns_hostent_result(int status, struct hostent *found, struct hostent *ret, char *buf,
			      size_t buflen, struct hostent **result, int *h_errnop)
{
	int rc = 0, herr = 0;

	*result = NULL;
	if (status == ARES_SUCCESS) {
		rc = dns_hostent_copy(found, ret, buf, buflen);
		if (rc == 0)
			*result = ret;
		else
			herr = NETDB_INTERNAL;
	} else {
		herr = dns_herrno_from_ares(status);
		if (herr == TRY_AGAIN)
			rc = EAGAIN;
		else if (herr == NETDB_INTERNAL)
			rc = status == ARES_ENOMEM ? ENOMEM : EIO;
	}
	free(found);
	if (h_errnop)
		*h_errnop = herr;
	errno = rc;
	return rc;
}

static int dns_gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t buflen,
			       struct hostent **result, int *h_errnop)
{
	struct hostent *found;
	int status;

	shim_guard++;
	status = dns_host_by_name(name, &found);
	shim_guard--;
	return dns_hostent_result(status, found, ret, buf, buflen, result, h_errnop);
}

static int dns_gethostbyaddr_r(const struct in_addr *addr, struct hostent *ret, char *buf,
			       size_t buflen, struct hostent **result, int *h_errnop)
{
	struct hostent *found;
	int status;

	shim_guard++;
	status = dns_host_by_addr(addr, &found);
	shim_guard--;
	return dns_hostent_result(status, found, ret, buf, buflen, result, h_errnop);
}

/* A name lookup that is ours: AF_INET, not numeric. AF_INET6 names are answered "not found". */
static bool dns_name_ours(const char *name, int af)
{
	return name && (af == AF_INET || af == AF_INET6) && !dns_numeric(name) && dns_ours();
}

/* The per-thread buffer of the non-reentrant functions, at least `want` bytes. */
static struct dns_tls_host *dns_tls_host(size_t want)
{
	struct dns_tls_host *t = dns_tls_key_ok ? pthread_getspecific(dns_tls_key) : NULL;
	char *buf;

	if (!t && dns_tls_key_ok) {
		t = calloc(1, sizeof(*t));
		if (t && pthread_setspecific(dns_tls_key, t) != 0) {
			free(t);
			t = NULL;
		}
	}
	if (!t)
		return NULL;
	if (t->cap < want) {
		buf = realloc(t->buf, want);
		if (!buf)
			return NULL;
		t->buf = buf;
		t->cap = want;
	}
	return t;
}

/* gethostbyname & co: run the reentrant form on the thread's buffer, growing it on ERANGE. */
static struct hostent *dns_nonreentrant(int (*lookup)(const void *key, struct hostent *,
						      char *, size_t, struct hostent **, int *),
					const void *key)
{
	struct dns_tls_host *t;
	struct hostent *result = NULL;
	size_t want = DNS_TLS_HOST_MIN;
	int herr = NETDB_INTERNAL, rc = ERANGE;

	while (rc == ERANGE && want <= (1u << 20)) {
		shim_guard++;
		t = dns_tls_host(want);
		shim_guard--;
		if (!t) {
			errno = ENOMEM;
			herr = NETDB_INTERNAL;
			break;
		}
		rc = lookup(key, &t->he, t->buf, t->cap, &result, &herr);
		want = t->cap * 4;
	}
	h_errno = herr;
	return result;
}

static int dns_by_name_key(const void *key, struct hostent *ret, char *buf, size_t buflen,
			   struct hostent **result, int *h_errnop)
{
	return dns_gethostbyname_r(key, ret, buf, buflen, result, h_errnop);
}

static int dns_by_addr_key(const void *key, struct hostent *ret, char *buf, size_t buflen,
			   struct hostent **result, int *h_errnop)
{
	return dns_gethostbyaddr_r(key, ret, buf, buflen, result, h_errnop);
}

int gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf, size_t buflen,
		     struct hostent **result, int *h_errnop)
{
	if (!dns_name_ours(name, af))
		return dns_real.gethostbyname2_r(name, af, ret, buf, buflen, result, h_errnop);
	if (af == AF_INET6)
		return dns_hostent_result(ARES_ENOTFOUND, NULL, ret, buf, buflen, result, h_errnop);
	return dns_gethostbyname_r(name, ret, buf, buflen, result, h_errnop);
}

int gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t buflen,
		    struct hostent **result, int *h_errnop)
{
	if (!dns_name_ours(name, AF_INET))
		return dns_real.gethostbyname_r(name, ret, buf, buflen, result, h_errnop);
	return dns_gethostbyname_r(name, ret, buf, buflen, result, h_errnop);
}

struct hostent *gethostbyname2(const char *name, int af)
{
	if (!dns_name_ours(name, af))
		return dns_real.gethostbyname2(name, af);
	if (af == AF_INET6) {
		h_errno = HOST_NOT_FOUND;
		return NULL;
	}
	return dns_nonreentrant(dns_by_name_key, name);
}

struct hostent *gethostbyname(const char *name)
{
	if (!dns_name_ours(name, AF_INET))
		return dns_real.gethostbyname(name);
	return dns_nonreentrant(dns_by_name_key, name);
}

/* Reverse lookups of IPv4 addresses are ours; IPv6 ones go to libc (/etc/hosts still works). */
static bool dns_addr_ours(const void *addr, socklen_t len, int type)
{
	return addr && type == AF_INET && len == sizeof(struct in_addr) && dns_ours();
}

int gethostbyaddr_r(const void *addr, socklen_t len, int type, struct hostent *ret, char *buf,
		    size_t buflen, struct hostent **result, int *h_errnop)
{
	if (!dns_addr_ours(addr, len, type))
		return dns_real.gethostbyaddr_r(addr, len, type, ret, buf, buflen, result, h_errnop);
	return dns_gethostbyaddr_r(addr, ret, buf, buflen, result, h_errnop);
}

struct hostent *gethostbyaddr(const void *addr, socklen_t len, int type)
{
	struct in_addr a;

	if (!dns_addr_ours(addr, len, type))
		return dns_real.gethostbyaddr(addr, len, type);
	memcpy(&a, addr, sizeof(a));
	return dns_nonreentrant(dns_by_addr_key, &a);
}

/* ---- getnameinfo ---- */

/* NI_NOFQDN: drop our own domain (the part of gethostname() after the first dot) from name. */
static void dns_strip_local_domain(char *name)
{
	char self[256], *domain;
	size_t nlen = strlen(name), dlen;

	if (gethostname(self, sizeof(self)) != 0)
		return;
	self[sizeof(self) - 1] = '\0';
	domain = strchr(self, '.');
	if (!domain || !domain[1])
		return;
	dlen = strlen(domain);   /* with its leading dot */
	if (nlen > dlen && strcasecmp(name + nlen - dlen, domain) == 0)
		name[nlen - dlen] = '\0';
}

/* The host part of getnameinfo for an IPv4 address; host holds the numeric form already. */
static int dns_nameinfo_host(const struct in_addr *addr, char *host, socklen_t hostlen,
			     int flags)
{
	struct hostent *found;
	int status = dns_host_by_addr(addr, &found);
	int rc = 0;

	if (status == ARES_SUCCESS) {
		if (flags & NI_NOFQDN)
			dns_strip_local_domain(found->h_name);
		if (strlen(found->h_name) >= hostlen)
			rc = EAI_OVERFLOW;
		else
			strcpy(host, found->h_name);
	} else if (dns_eai_from_ares(status) == EAI_AGAIN || status == ARES_ENOMEM) {
		rc = dns_eai_from_ares(status);
	} else if (flags & NI_NAMEREQD) {
		rc = EAI_NONAME;
	}
	free(found);
	return rc;
}

int getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host, socklen_t hostlen,
		char *serv, socklen_t servlen, int flags)
{
	struct sockaddr_in sin;
	int saved = errno, rc;

	if (!dns_ours() || !sa || sa->sa_family != AF_INET || salen < sizeof(sin) || !host ||
	    hostlen == 0 || (flags & NI_NUMERICHOST))
		return dns_real.getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
	/* libc checks the arguments and does the service and the numeric host; then the name */
	rc = dns_real.getnameinfo(sa, salen, host, hostlen, serv, servlen,
				  (flags & ~NI_NAMEREQD) | NI_NUMERICHOST);
	if (rc != 0)
		return rc;
	memcpy(&sin, sa, sizeof(sin));
	shim_guard++;
	rc = dns_nameinfo_host(&sin.sin_addr, host, hostlen, flags);
	shim_guard--;
	errno = saved;
	return rc;
}
