/* relay_main.c — ustack-relay: bridges two interfaces with AF_PACKET sockets
 * and impairs each direction (loss, delay, reorder, dup, corrupt, rate).
 *
 *   ustack-relay --a IF_A --b IF_B [--a2b SPEC] [--b2a SPEC] [--both SPEC]
 *                [--seed N] [--stats FILE]
 *
 * Every Ethernet frame received on one interface is offered to that
 * direction's relay_dir and sent out of the other interface when released.
 * One libev loop: an ev_io per packet socket, an ev_timer per direction armed
 * for its earliest release time, ev_signals for SIGUSR1 (dump counters) and
 * SIGTERM/SIGINT (dump, write --stats, exit 0).  Nothing polls.
 */
#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>

#include "relay_core.h"
#include "relay_spec.h"
#include "relay_stats.h"

#define PROG "ustack-relay"
#define EXIT_USAGE 2
/* Receive buffer: a kernel peer with TSO/GSO on hands AF_PACKET single frames
 * of up to ~64 KiB; anything larger than the outgoing MTU is counted as
 * dropped_oversize, but it must be read whole to be counted right. */
#define RX_BUF_SIZE (65536 + 256)
#define RX_BATCH 64
#define SOCK_BUF_BYTES (4 * 1024 * 1024)

struct relay_port {
	const char *ifname;
	int ifindex;
	int mtu;
	int fd;
	ev_io io;
	struct relay_app *app;
	struct relay_dir *dir_in;     /* direction of frames received here */
	ev_timer *timer_in;           /* that direction's release timer */
	struct relay_port *out;       /* where they are sent */
	int last_errno;               /* last receive error reported */
};

struct relay_app {
	struct ev_loop *loop;
	struct relay_port a, b;
	struct relay_dir a2b, b2a;
	ev_timer timer_a2b, timer_b2a;
	ev_signal sig_usr1, sig_term, sig_int;
	struct relay_impair imp_a2b, imp_b2a;
	const char *stats_path;
	uint64_t seed;
	uint8_t *rx_buf;
};

static int64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: " PROG " --a IF_A --b IF_B [--a2b SPEC] [--b2a SPEC] [--both SPEC]\n"
		"                    [--seed N] [--stats FILE]\n"
		"  SPEC: comma-separated key=value, e.g. loss=1%%,delay=20ms/5ms,reorder=10%%,\n"
		"        dup=1%%,corrupt=0.1%%,rate=100mbit,burst=15k,queue=100,limit=1000,\n"
		"        loss=gemodel:P%%/R%%[/1-H%%[/1-K%%]]   (see tests/relay/README.md)\n"
		"  --both applies to both directions; --a2b/--b2a override the keys they name.\n"
		"  SIGUSR1 prints counters to stderr and rewrites --stats; SIGTERM/SIGINT exit.\n");
}

/* ---- counters ---------------------------------------------------------- */

static void print_stats(FILE *out, const struct relay_app *app)
{
	char spec[512];

	fprintf(out, "seed=%" PRIu64 "\n", app->seed);
	relay_impair_format(&app->imp_a2b, spec, sizeof(spec));
	fprintf(out, "a2b.spec=%s\n", spec);
	relay_impair_format(&app->imp_b2a, spec, sizeof(spec));
	fprintf(out, "b2a.spec=%s\n", spec);
	relay_stats_print_dir(out, "a2b", &app->a2b);
	relay_stats_print_dir(out, "b2a", &app->b2a);
}

/* Written to FILE.tmp and renamed, so a reader never sees half a file. */
static int write_stats_file(const struct relay_app *app)
{
	char tmp[4096];
	FILE *f;

	if (!app->stats_path)
		return 0;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", app->stats_path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	print_stats(f, app);
	if (fclose(f) != 0 || rename(tmp, app->stats_path) != 0) {
		int err = errno;

		unlink(tmp);
		return -err;
	}
	return 0;
}

static void report_stats(struct relay_app *app)
{
	int rc;

	print_stats(stderr, app);
	fflush(stderr);
	rc = write_stats_file(app);
	if (rc < 0)
		fprintf(stderr, PROG ": cannot write %s: %s\n", app->stats_path, strerror(-rc));
}

/* ---- forwarding -------------------------------------------------------- */

/* Sends every frame of dir due now out of port, then re-arms the timer for
 * the next release time (or leaves it stopped when nothing is held). */
static void flush_dir(struct relay_app *app, struct relay_dir *dir, ev_timer *timer,
		      struct relay_port *out)
{
	struct relay_frame frame;
	int64_t now = monotonic_ns();
	int64_t next;

	while (relay_dir_pop_due(dir, now, &frame)) {
		ssize_t n = send(out->fd, frame.data, frame.len, MSG_DONTWAIT);

		relay_dir_done(dir, &frame, n == (ssize_t)frame.len);
	}
	ev_timer_stop(app->loop, timer);
	if (!relay_dir_next_release(dir, &next))
		return;
	/* libev measures the timeout from its cached loop time: refresh it so
	 * the timer does not fire before our clock reaches the release time. */
	ev_now_update(app->loop);
	now = monotonic_ns();
	double after = next > now ? (double)(next - now) / 1e9 : 0.0;

	ev_timer_set(timer, after, 0.0);
	ev_timer_start(app->loop, timer);
}

static void on_readable(struct ev_loop *loop, ev_io *io, int revents)
{
	struct relay_port *port = io->data;
	struct relay_app *app = port->app;
	(void)loop;
	(void)revents;

	for (int i = 0; i < RX_BATCH; i++) {
		struct sockaddr_ll from;
		socklen_t from_len = sizeof(from);
		ssize_t n = recvfrom(port->fd, app->rx_buf, RX_BUF_SIZE, MSG_TRUNC | MSG_DONTWAIT,
				     (struct sockaddr *)&from, &from_len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != port->last_errno) {
				/* Socket errors are reported once by the kernel; say so once. */
				port->last_errno = errno;
				fprintf(stderr, PROG ": receive on %s: %s\n", port->ifname,
					strerror(errno));
			}
			break;
		}
		/* Our own transmissions on this interface, should the kernel lack
		 * PACKET_IGNORE_OUTGOING. */
		if (from.sll_pkttype == PACKET_OUTGOING)
			continue;
		relay_dir_input(port->dir_in, monotonic_ns(), app->rx_buf, (size_t)n, NULL);
	}
	flush_dir(app, port->dir_in, port->timer_in, port->out);
}

static void on_release_a2b(struct ev_loop *loop, ev_timer *timer, int revents)
{
	struct relay_app *app = timer->data;
	(void)loop;
	(void)revents;
	flush_dir(app, &app->a2b, &app->timer_a2b, &app->b);
}

static void on_release_b2a(struct ev_loop *loop, ev_timer *timer, int revents)
{
	struct relay_app *app = timer->data;
	(void)loop;
	(void)revents;
	flush_dir(app, &app->b2a, &app->timer_b2a, &app->a);
}

static void on_usr1(struct ev_loop *loop, ev_signal *sig, int revents)
{
	(void)loop;
	(void)revents;
	report_stats(sig->data);
}

static void on_terminate(struct ev_loop *loop, ev_signal *sig, int revents)
{
	(void)sig;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

/* ---- sockets ----------------------------------------------------------- */

static int set_int_opt(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof(value)) == 0 ? 0 : -errno;
}

/* Packet socket bound to one interface, promiscuous, not seeing its own
 * transmissions.  Created with protocol 0 and bound with ETH_P_ALL, so no
 * frame of another interface is queued before the bind. */
static int open_port(struct relay_port *port)
{
	struct ifreq ifr;
	struct sockaddr_ll addr;
	struct packet_mreq mreq;
	int fd;

	if (strlen(port->ifname) >= IFNAMSIZ) {
		fprintf(stderr, PROG ": %s: interface name too long\n", port->ifname);
		return -EINVAL;
	}
	port->ifindex = (int)if_nametoindex(port->ifname);
	if (port->ifindex == 0) {
		fprintf(stderr, PROG ": %s: no such interface\n", port->ifname);
		return -ENODEV;
	}
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, PROG ": packet socket: %s\n", strerror(errno));
		return -errno;
	}
	port->fd = fd;

	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, port->ifname, strlen(port->ifname));
	if (ioctl(fd, SIOCGIFMTU, &ifr) < 0) {
		fprintf(stderr, PROG ": %s: MTU: %s\n", port->ifname, strerror(errno));
		return -errno;
	}
	port->mtu = ifr.ifr_mtu;

	/* Best effort: larger buffers ride out bursts; FORCE needs CAP_NET_ADMIN. */
	if (set_int_opt(fd, SOL_SOCKET, SO_RCVBUFFORCE, SOCK_BUF_BYTES) < 0)
		set_int_opt(fd, SOL_SOCKET, SO_RCVBUF, SOCK_BUF_BYTES);
	if (set_int_opt(fd, SOL_SOCKET, SO_SNDBUFFORCE, SOCK_BUF_BYTES) < 0)
		set_int_opt(fd, SOL_SOCKET, SO_SNDBUF, SOCK_BUF_BYTES);
	/* Without it on_readable() still skips PACKET_OUTGOING frames. */
	set_int_opt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1);

	memset(&addr, 0, sizeof(addr));
	addr.sll_family = AF_PACKET;
	addr.sll_protocol = htons(ETH_P_ALL);
	addr.sll_ifindex = port->ifindex;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		fprintf(stderr, PROG ": bind to %s: %s\n", port->ifname, strerror(errno));
		return -errno;
	}

	memset(&mreq, 0, sizeof(mreq));
	mreq.mr_ifindex = port->ifindex;
	mreq.mr_type = PACKET_MR_PROMISC;
	if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq, sizeof(mreq)) < 0) {
		fprintf(stderr, PROG ": promiscuous mode on %s: %s\n", port->ifname,
			strerror(errno));
		return -errno;
	}
	return 0;
}

/* ---- command line ------------------------------------------------------ */

struct relay_args {
	const char *if_a, *if_b;
	const char *spec_a2b, *spec_b2a, *spec_both;
	const char *stats_path;
	bool seed_given;
	uint64_t seed;
};

static int parse_seed(const char *s, uint64_t *seed)
{
	char *end;

	if (*s == '\0' || *s == '-')
		return -EINVAL;
	/* Decimal, or hex with 0x; never octal. */
	int base = (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? 16 : 10;

	errno = 0;
	unsigned long long v = strtoull(s, &end, base);

	if (errno || *end != '\0')
		return -EINVAL;
	*seed = v;
	return 0;
}

/* 0, or EXIT_USAGE after printing one line; 1 for --help (exit 0). */
static int parse_args(int argc, char **argv, struct relay_args *args)
{
	static const struct option options[] = {
		{ "a", required_argument, NULL, 'a' },
		{ "b", required_argument, NULL, 'b' },
		{ "a2b", required_argument, NULL, 'x' },
		{ "b2a", required_argument, NULL, 'y' },
		{ "both", required_argument, NULL, 'z' },
		{ "seed", required_argument, NULL, 's' },
		{ "stats", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	memset(args, 0, sizeof(*args));
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'a': args->if_a = optarg; break;
		case 'b': args->if_b = optarg; break;
		case 'x': args->spec_a2b = optarg; break;
		case 'y': args->spec_b2a = optarg; break;
		case 'z': args->spec_both = optarg; break;
		case 'o': args->stats_path = optarg; break;
		case 's':
			if (parse_seed(optarg, &args->seed) < 0) {
				fprintf(stderr, PROG ": --seed: '%s' is not an unsigned integer\n",
					optarg);
				return EXIT_USAGE;
			}
			args->seed_given = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			fprintf(stderr, PROG ": bad option '%s' (try --help)\n", argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s' (try --help)\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (!args->if_a || !args->if_b) {
		fprintf(stderr, PROG ": --a IF and --b IF are required (try --help)\n");
		return EXIT_USAGE;
	}
	if (strcmp(args->if_a, args->if_b) == 0) {
		fprintf(stderr, PROG ": --a and --b name the same interface '%s'\n", args->if_a);
		return EXIT_USAGE;
	}
	return 0;
}

/* --both first, then the direction's own spec over it, then the checks. */
static int build_impair(const char *dir_name, const char *own_opt, const char *own,
			const char *both, struct relay_impair *imp)
{
	char err[256];

	relay_impair_default(imp);
	if (both && relay_spec_parse(both, imp, err, sizeof(err)) < 0) {
		fprintf(stderr, PROG ": --both: %s\n", err);
		return EXIT_USAGE;
	}
	if (own && relay_spec_parse(own, imp, err, sizeof(err)) < 0) {
		fprintf(stderr, PROG ": %s: %s\n", own_opt, err);
		return EXIT_USAGE;
	}
	if (relay_impair_validate(imp, err, sizeof(err)) < 0) {
		fprintf(stderr, PROG ": %s: %s\n", dir_name, err);
		return EXIT_USAGE;
	}
	return 0;
}

/* ---- setup ------------------------------------------------------------- */

static int setup_app(struct relay_app *app, const struct relay_args *args)
{
	uint64_t seed_state = app->seed;
	int rc;

	app->a.ifname = args->if_a;
	app->b.ifname = args->if_b;
	app->a.fd = app->b.fd = -1;
	app->stats_path = args->stats_path;
	if (open_port(&app->a) < 0 || open_port(&app->b) < 0)
		return 1;
	app->rx_buf = malloc(RX_BUF_SIZE);
	if (!app->rx_buf)
		return 1;
	/* Independent, reproducible streams per direction. */
	rc = relay_dir_init(&app->a2b, &app->imp_a2b, relay_prng_splitmix64(&seed_state),
			    (uint32_t)app->b.mtu + RELAY_ETH_HLEN);
	if (rc == 0)
		rc = relay_dir_init(&app->b2a, &app->imp_b2a, relay_prng_splitmix64(&seed_state),
				    (uint32_t)app->a.mtu + RELAY_ETH_HLEN);
	if (rc < 0) {
		fprintf(stderr, PROG ": frame pools: %s\n", strerror(-rc));
		return 1;
	}

	app->a.app = app->b.app = app;
	app->a.dir_in = &app->a2b;
	app->a.timer_in = &app->timer_a2b;
	app->a.out = &app->b;
	app->b.dir_in = &app->b2a;
	app->b.timer_in = &app->timer_b2a;
	app->b.out = &app->a;

	app->loop = ev_default_loop(EVFLAG_AUTO);
	if (!app->loop) {
		fprintf(stderr, PROG ": cannot start libev loop\n");
		return 1;
	}
	ev_io_init(&app->a.io, on_readable, app->a.fd, EV_READ);
	app->a.io.data = &app->a;
	ev_io_init(&app->b.io, on_readable, app->b.fd, EV_READ);
	app->b.io.data = &app->b;
	ev_timer_init(&app->timer_a2b, on_release_a2b, 0.0, 0.0);
	app->timer_a2b.data = app;
	ev_timer_init(&app->timer_b2a, on_release_b2a, 0.0, 0.0);
	app->timer_b2a.data = app;
	ev_signal_init(&app->sig_usr1, on_usr1, SIGUSR1);
	app->sig_usr1.data = app;
	ev_signal_init(&app->sig_term, on_terminate, SIGTERM);
	ev_signal_init(&app->sig_int, on_terminate, SIGINT);
	ev_io_start(app->loop, &app->a.io);
	ev_io_start(app->loop, &app->b.io);
	ev_signal_start(app->loop, &app->sig_usr1);
	ev_signal_start(app->loop, &app->sig_term);
	ev_signal_start(app->loop, &app->sig_int);
	return 0;
}

static void teardown_app(struct relay_app *app)
{
	if (app->a.fd >= 0)
		close(app->a.fd);
	if (app->b.fd >= 0)
		close(app->b.fd);
	relay_dir_free(&app->a2b);
	relay_dir_free(&app->b2a);
	free(app->rx_buf);
}

int main(int argc, char **argv)
{
	static struct relay_app app;
	struct relay_args args;
	char spec_a2b[512], spec_b2a[512];
	int rc;

	rc = parse_args(argc, argv, &args);
	if (rc != 0)
		return rc == 1 ? 0 : rc;
	rc = build_impair("a2b", "--a2b", args.spec_a2b, args.spec_both, &app.imp_a2b);
	if (rc == 0)
		rc = build_impair("b2a", "--b2a", args.spec_b2a, args.spec_both, &app.imp_b2a);
	if (rc != 0)
		return rc;
	app.seed = args.seed_given ? args.seed
				   : (uint64_t)monotonic_ns() ^ ((uint64_t)getpid() << 32);

	rc = setup_app(&app, &args);
	if (rc == 0) {
		relay_impair_format(&app.imp_a2b, spec_a2b, sizeof(spec_a2b));
		relay_impair_format(&app.imp_b2a, spec_b2a, sizeof(spec_b2a));
		fprintf(stderr, PROG ": a=%s b=%s seed=%" PRIu64 " a2b=%s b2a=%s\n", app.a.ifname,
			app.b.ifname, app.seed, spec_a2b, spec_b2a);
		/* The first stats file tells a waiting script that we are ready. */
		int wrc = write_stats_file(&app);

		if (wrc < 0) {
			fprintf(stderr, PROG ": cannot write %s: %s\n", app.stats_path,
				strerror(-wrc));
			rc = 1;
		}
	}
	if (rc == 0) {
		ev_run(app.loop, 0);
		report_stats(&app);
	}
	teardown_app(&app);
	return rc;
}
