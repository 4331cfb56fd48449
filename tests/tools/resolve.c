/*
 * resolve: a test client for the getaddrinfo family (tests/integration/t_dns_*.sh).
 *
 *   resolve [-m MODE] [-f FAMILY] [-s SERVICE] [-t SOCKTYPE] [-p PROTO] [-F FLAG,...]
 *           [-b BUFLEN] [-j THREADS] NAME...
 *
 * MODE     gai (default) getaddrinfo · ghbn gethostbyname · ghbn2 gethostbyname2 ·
 *          ghbn_r gethostbyname_r · ghbn2_r gethostbyname2_r · ghba gethostbyaddr ·
 *          ghba_r gethostbyaddr_r · gni getnameinfo (NAME is an IPv4 address; -s a port)
 * FAMILY   unspec (default for gai) · inet (default otherwise) · inet6
 * SOCKTYPE stream · dgram · raw · 0 (default)
 * FLAG     gai: canonname passive numerichost numericserv addrconfig v4mapped all
 *          gni: namereqd nofqdn numerichost numericserv dgram
 * NAME     "-" stands for a NULL host (gai)
 * BUFLEN   buffer of the *_r modes (default 8192)
 * THREADS  run every lookup in that many threads at once; all must print the same
 *
 * Output, one line per result, "NAME: …":
 *   gai    NAME: ADDR port PORT STREAM|DGRAM|RAW proto N [canon NAME]
 *   ghbn*  NAME: name H_NAME aliases A,B|- addrs ADDR,ADDR
 *   gni    NAME: host HOST serv SERV
 *   error  NAME: EAI_NONAME | HOST_NOT_FOUND | … (the symbolic name of the code)
 * Exit status: 0 every lookup succeeded, 2 one failed, 3 threads disagreed, 1 usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RESOLVE_OUT_MAX 65536
#define RESOLVE_THREADS_MAX 32

struct resolve_opts {
	const char *mode;
	int family;            /* -1: the mode's default */
	const char *service;
	int socktype;
	int protocol;
	int flags;
	size_t buflen;
	int threads;
};

/* A growing text buffer (one per thread). */
struct resolve_out {
	char text[RESOLVE_OUT_MAX];
	size_t len;
	bool failed;
};

static struct resolve_opts opts = { .mode = "gai", .family = -1, .buflen = 8192, .threads = 1 };

static void out_printf(struct resolve_out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void out_printf(struct resolve_out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->len >= sizeof(o->text) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->text + o->len, sizeof(o->text) - o->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n < sizeof(o->text) - o->len ? (size_t)n : sizeof(o->text) - 1 - o->len;
}

static const char *eai_name(int rc)
{
	switch (rc) {
	case EAI_BADFLAGS: return "EAI_BADFLAGS";
	case EAI_NONAME: return "EAI_NONAME";
	case EAI_AGAIN: return "EAI_AGAIN";
	case EAI_FAIL: return "EAI_FAIL";
	case EAI_FAMILY: return "EAI_FAMILY";
	case EAI_SOCKTYPE: return "EAI_SOCKTYPE";
	case EAI_SERVICE: return "EAI_SERVICE";
	case EAI_MEMORY: return "EAI_MEMORY";
	case EAI_SYSTEM: return "EAI_SYSTEM";
	case EAI_OVERFLOW: return "EAI_OVERFLOW";
	case EAI_NODATA: return "EAI_NODATA";
	case EAI_ADDRFAMILY: return "EAI_ADDRFAMILY";
	default: return "EAI_UNKNOWN";
	}
}

static const char *herr_name(int herr)
{
	switch (herr) {
	case HOST_NOT_FOUND: return "HOST_NOT_FOUND";
	case TRY_AGAIN: return "TRY_AGAIN";
	case NO_RECOVERY: return "NO_RECOVERY";
	case NO_DATA: return "NO_DATA";
	case NETDB_INTERNAL: return "NETDB_INTERNAL";
	default: return "H_UNKNOWN";
	}
}

static const char *socktype_name(int t)
{
	switch (t) {
	case SOCK_STREAM: return "STREAM";
	case SOCK_DGRAM: return "DGRAM";
	case SOCK_RAW: return "RAW";
	default: return "OTHER";
	}
}

static void print_addr(struct resolve_out *o, int family, const void *addr)
{
	char text[INET6_ADDRSTRLEN];

	if (!inet_ntop(family, addr, text, sizeof(text)))
		snprintf(text, sizeof(text), "?");
	out_printf(o, "%s", text);
}

static void do_gai(struct resolve_out *o, const char *name)
{
	struct addrinfo hints = { .ai_flags = opts.flags, .ai_socktype = opts.socktype,
				  .ai_protocol = opts.protocol }, *res, *ai;
	const char *node = strcmp(name, "-") == 0 ? NULL : name;
	int rc;

	hints.ai_family = opts.family < 0 ? AF_UNSPEC : opts.family;
	rc = getaddrinfo(node, opts.service, &hints, &res);
	if (rc != 0) {
		out_printf(o, "%s: %s\n", name, eai_name(rc));
		o->failed = true;
		return;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		out_printf(o, "%s: ", name);
		if (ai->ai_family == AF_INET) {
			const struct sockaddr_in *sin = (const void *)ai->ai_addr;

			print_addr(o, AF_INET, &sin->sin_addr);
			out_printf(o, " port %u", ntohs(sin->sin_port));
		} else if (ai->ai_family == AF_INET6) {
			const struct sockaddr_in6 *sin6 = (const void *)ai->ai_addr;

			print_addr(o, AF_INET6, &sin6->sin6_addr);
			out_printf(o, " port %u", ntohs(sin6->sin6_port));
		} else {
			out_printf(o, "family %d", ai->ai_family);
		}
		out_printf(o, " %s proto %d", socktype_name(ai->ai_socktype), ai->ai_protocol);
		if (ai->ai_canonname)
			out_printf(o, " canon %s", ai->ai_canonname);
		out_printf(o, "\n");
	}
	freeaddrinfo(res);
}

static void print_hostent(struct resolve_out *o, const char *name, const struct hostent *he)
{
	out_printf(o, "%s: name %s aliases ", name, he->h_name);
	if (!he->h_aliases || !he->h_aliases[0])
		out_printf(o, "-");
	for (int i = 0; he->h_aliases && he->h_aliases[i]; i++)
		out_printf(o, "%s%s", i ? "," : "", he->h_aliases[i]);
	out_printf(o, " addrs ");
	for (int i = 0; he->h_addr_list[i]; i++) {
		out_printf(o, "%s", i ? "," : "");
		print_addr(o, he->h_addrtype, he->h_addr_list[i]);
	}
	out_printf(o, "\n");
}

static int host_family(void)
{
	return opts.family < 0 ? AF_INET : opts.family;
}

/* NAME as an address of the mode's family (gethostbyaddr, getnameinfo). */
static int parse_addr(const char *name, void *addr, socklen_t *len)
{
	int family = host_family();

	*len = family == AF_INET6 ? sizeof(struct in6_addr) : sizeof(struct in_addr);
	return inet_pton(family, name, addr) == 1 ? 0 : -1;
}

static void do_hostent(struct resolve_out *o, const char *name)
{
	struct hostent *he = NULL, ret;
	unsigned char addr[sizeof(struct in6_addr)];
	char *buf = NULL;
	socklen_t len = 0;
	int herr = 0, rc = 0;
	bool reentrant = strstr(opts.mode, "_r") != NULL;

	if (strncmp(opts.mode, "ghba", 4) == 0 && parse_addr(name, addr, &len) < 0) {
		out_printf(o, "%s: not an address\n", name);
		o->failed = true;
		return;
	}
	if (reentrant) {
		buf = malloc(opts.buflen);
		if (!buf) {
			out_printf(o, "%s: out of memory\n", name);
			o->failed = true;
			return;
		}
	}
	if (strcmp(opts.mode, "ghbn") == 0) {
		he = gethostbyname(name);
		herr = h_errno;
	} else if (strcmp(opts.mode, "ghbn2") == 0) {
		he = gethostbyname2(name, host_family());
		herr = h_errno;
	} else if (strcmp(opts.mode, "ghba") == 0) {
		he = gethostbyaddr(addr, len, host_family());
		herr = h_errno;
	} else if (strcmp(opts.mode, "ghbn_r") == 0) {
		rc = gethostbyname_r(name, &ret, buf, opts.buflen, &he, &herr);
	} else if (strcmp(opts.mode, "ghbn2_r") == 0) {
		rc = gethostbyname2_r(name, host_family(), &ret, buf, opts.buflen, &he, &herr);
	} else {
		rc = gethostbyaddr_r(addr, len, host_family(), &ret, buf, opts.buflen, &he, &herr);
	}
	if (he) {
		print_hostent(o, name, he);
	} else {
		out_printf(o, "%s: %s", name, herr_name(herr));
		if (reentrant)
			out_printf(o, " rc %s", rc == 0 ? "0" : rc == ERANGE ? "ERANGE" :
				   rc == EAGAIN ? "EAGAIN" : strerror(rc));
		out_printf(o, "\n");
		o->failed = true;
	}
	free(buf);
}

static void do_gni(struct resolve_out *o, const char *name)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	char host[NI_MAXHOST], serv[NI_MAXSERV];
	int rc;

	if (inet_pton(AF_INET, name, &sin.sin_addr) != 1) {
		out_printf(o, "%s: not an IPv4 address\n", name);
		o->failed = true;
		return;
	}
	sin.sin_port = htons((uint16_t)(opts.service ? atoi(opts.service) : 0));
	rc = getnameinfo((struct sockaddr *)&sin, sizeof(sin), host, sizeof(host), serv,
			 sizeof(serv), opts.flags);
	if (rc != 0) {
		out_printf(o, "%s: %s\n", name, eai_name(rc));
		o->failed = true;
		return;
	}
	out_printf(o, "%s: host %s serv %s\n", name, host, serv);
}

struct resolve_job {
	pthread_t thread;
	char **names;
	int count;
	struct resolve_out out;
};

static void *resolve_all(void *arg)
{
	struct resolve_job *job = arg;

	for (int i = 0; i < job->count; i++) {
		if (strcmp(opts.mode, "gai") == 0)
			do_gai(&job->out, job->names[i]);
		else if (strcmp(opts.mode, "gni") == 0)
			do_gni(&job->out, job->names[i]);
		else
			do_hostent(&job->out, job->names[i]);
	}
	return NULL;
}

static int parse_flag(const char *word)
{
	static const struct { const char *name; int gai, gni; } table[] = {
		{ "canonname", AI_CANONNAME, 0 },     { "passive", AI_PASSIVE, 0 },
		{ "numerichost", AI_NUMERICHOST, NI_NUMERICHOST },
		{ "numericserv", AI_NUMERICSERV, NI_NUMERICSERV },
		{ "addrconfig", AI_ADDRCONFIG, 0 },   { "v4mapped", AI_V4MAPPED, 0 },
		{ "all", AI_ALL, 0 },                 { "namereqd", 0, NI_NAMEREQD },
		{ "nofqdn", 0, NI_NOFQDN },           { "dgram", 0, NI_DGRAM },
	};
	bool gni = strcmp(opts.mode, "gni") == 0;

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (strcmp(word, table[i].name) == 0) {
			int v = gni ? table[i].gni : table[i].gai;

			if (v)
				return v;
		}
	}
	fprintf(stderr, "resolve: unknown flag '%s' for mode %s\n", word, opts.mode);
	exit(1);
}

static int parse_flags(char *list)
{
	int flags = 0;

	for (char *save = NULL, *w = strtok_r(list, ",", &save); w; w = strtok_r(NULL, ",", &save))
		flags |= parse_flag(w);
	return flags;
}

static int parse_family(const char *s)
{
	if (strcmp(s, "inet") == 0)
		return AF_INET;
	if (strcmp(s, "inet6") == 0)
		return AF_INET6;
	if (strcmp(s, "unspec") == 0)
		return AF_UNSPEC;
	fprintf(stderr, "resolve: family must be inet, inet6 or unspec\n");
	exit(1);
}

static int parse_socktype(const char *s)
{
	if (strcmp(s, "stream") == 0)
		return SOCK_STREAM;
	if (strcmp(s, "dgram") == 0)
		return SOCK_DGRAM;
	if (strcmp(s, "raw") == 0)
		return SOCK_RAW;
	if (strcmp(s, "0") == 0)
		return 0;
	fprintf(stderr, "resolve: socket type must be stream, dgram, raw or 0\n");
	exit(1);
}

static bool mode_known(const char *mode)
{
	static const char *const modes[] = { "gai", "ghbn", "ghbn2", "ghbn_r", "ghbn2_r",
					     "ghba", "ghba_r", "gni" };

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(mode, modes[i]) == 0)
			return true;
	return false;
}

static void usage(void)
{
	fprintf(stderr, "usage: resolve [-m gai|ghbn|ghbn2|ghbn_r|ghbn2_r|ghba|ghba_r|gni] "
		"[-f unspec|inet|inet6] [-s SERVICE] [-t stream|dgram|raw|0] [-p PROTO] "
		"[-F FLAG,...] [-b BUFLEN] [-j THREADS] NAME...\n");
	exit(1);
}

int main(int argc, char **argv)
{
	static struct resolve_job jobs[RESOLVE_THREADS_MAX];
	char *flag_list = NULL;
	int c, status = 0;

	while ((c = getopt(argc, argv, "m:f:s:t:p:F:b:j:")) != -1) {
		switch (c) {
		case 'm': opts.mode = optarg; break;
		case 'f': opts.family = parse_family(optarg); break;
		case 's': opts.service = optarg; break;
		case 't': opts.socktype = parse_socktype(optarg); break;
		case 'p': opts.protocol = atoi(optarg); break;
		case 'F': flag_list = optarg; break;
		case 'b': opts.buflen = (size_t)strtoul(optarg, NULL, 0); break;
		case 'j': opts.threads = atoi(optarg); break;
		default: usage();
		}
	}
	if (optind >= argc || opts.threads < 1 || opts.threads > RESOLVE_THREADS_MAX)
		usage();
	if (!mode_known(opts.mode))
		usage();
	if (flag_list)
		opts.flags = parse_flags(flag_list);
	for (int i = 0; i < opts.threads; i++) {
		jobs[i].names = argv + optind;
		jobs[i].count = argc - optind;
		if (opts.threads == 1) {
			resolve_all(&jobs[i]);
		} else if (pthread_create(&jobs[i].thread, NULL, resolve_all, &jobs[i]) != 0) {
			fprintf(stderr, "resolve: pthread_create failed\n");
			return 1;
		}
	}
	for (int i = 0; opts.threads > 1 && i < opts.threads; i++)
		pthread_join(jobs[i].thread, NULL);
	fwrite(jobs[0].out.text, 1, jobs[0].out.len, stdout);
	if (jobs[0].out.failed)
		status = 2;
	for (int i = 1; i < opts.threads; i++) {
		if (jobs[i].out.len != jobs[0].out.len ||
		    memcmp(jobs[i].out.text, jobs[0].out.text, jobs[0].out.len) != 0) {
			printf("THREAD MISMATCH: thread %d printed:\n", i);
			fwrite(jobs[i].out.text, 1, jobs[i].out.len, stdout);
			status = 3;
		}
	}
	return status;
}
