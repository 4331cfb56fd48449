/*
 * udp_refused — what a program sees when its UDP datagrams reach a closed port.
 *
 *   udp_refused PEER_IP CLOSED_PORT
 *
 * Runs a fixed sequence of socket calls and prints one line per step: the call, its result
 * and the errno name, or the poll revents. The output depends only on the stack's semantics
 * (no addresses, ports or timings in it), so the same program over the kernel and over ustack
 * must print identical lines; t_udp_refused.sh diffs them.
 *
 * RFC 1122 §4.1.3.3: a UDP layer passes ICMP Port Unreachable up to the application. Linux
 * (and ustack) report it on connected sockets only: the next recv/send returns ECONNREFUSED
 * once, SO_ERROR returns and clears it, and poll reports POLLERR while it is pending.
 * The peer must not rate-limit its ICMP errors (the test sets net.ipv4.icmp_ratelimit=0).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define ERROR_WAIT_MS 3000
#define QUIET_WAIT_MS 1000

static const char payload[] = "ping";

static const char *errno_name(int e)
{
	const char *name = strerrorname_np(e);
	return name ? name : "E?";
}

static void print_result(const char *step, long r, int e)
{
	if (r < 0)
		printf("%s: -1 %s\n", step, errno_name(e));
	else
		printf("%s: %ld\n", step, r);
	fflush(stdout);
}

static void print_revents(const char *step, int n, short revents)
{
	static const struct {
		short bit;
		const char *name;
	} bits[] = {
		{ POLLIN, "POLLIN" },     { POLLPRI, "POLLPRI" },   { POLLOUT, "POLLOUT" },
		{ POLLERR, "POLLERR" },   { POLLHUP, "POLLHUP" },   { POLLNVAL, "POLLNVAL" },
		{ POLLRDHUP, "POLLRDHUP" },
	};
	char buf[128] = "";
	size_t i;

	if (n < 0) {
		print_result(step, n, errno);
		return;
	}
	for (i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		if (!(revents & bits[i].bit))
			continue;
		if (buf[0])
			strcat(buf, "|");
		strcat(buf, bits[i].name);
	}
	printf("%s: n=%d revents=%s\n", step, n, buf[0] ? buf : "0");
	fflush(stdout);
}

static void step_poll(const char *step, int fd, short events, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int n = poll(&p, 1, timeout_ms);

	print_revents(step, n, p.revents);
}

static void step_send(const char *step, int fd)
{
	ssize_t r = send(fd, payload, sizeof(payload) - 1, 0);

	print_result(step, r, errno);
}

static void step_recv(const char *step, int fd, int flags)
{
	char buf[64];
	ssize_t r = recv(fd, buf, sizeof(buf), flags);

	print_result(step, r, errno);
}

static void step_so_error(const char *step, int fd)
{
	int err = -1;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
		print_result(step, -1, errno);
		return;
	}
	printf("%s: %s\n", step, err ? errno_name(err) : "0");
	fflush(stdout);
}

static int udp_socket(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0) {
		perror("socket");
		exit(2);
	}
	return fd;
}

/* The error pending after a refused datagram, reported by recv, poll, send and SO_ERROR. */
static void run_connected(const struct sockaddr_in *peer)
{
	int fd = udp_socket();
	struct timeval rcvtimeo = { .tv_sec = ERROR_WAIT_MS / 1000 };

	print_result("connect", connect(fd, (const struct sockaddr *)peer, sizeof(*peer)), errno);
	step_poll("fresh poll in|out", fd, POLLIN | POLLOUT, 0);

	step_send("send 1", fd);
	step_poll("wait error (poll in)", fd, POLLIN, ERROR_WAIT_MS);
	step_poll("poll in|out with error", fd, POLLIN | POLLOUT, 0);
	step_recv("recv with error", fd, MSG_DONTWAIT);
	step_poll("poll in|out after recv", fd, POLLIN | POLLOUT, 0);
	step_recv("recv again", fd, MSG_DONTWAIT);

	step_send("send 2", fd);
	step_poll("wait error (poll in)", fd, POLLIN, ERROR_WAIT_MS);
	step_so_error("SO_ERROR", fd);
	step_so_error("SO_ERROR again", fd);
	step_poll("poll in|out after SO_ERROR", fd, POLLIN | POLLOUT, 0);

	step_send("send 3", fd);
	step_poll("wait error (poll in)", fd, POLLIN, ERROR_WAIT_MS);
	step_send("send with error", fd);
	step_poll("poll in|out after send", fd, POLLIN | POLLOUT, 0);

	/* The error arrives while recv sleeps: it must wake with ECONNREFUSED, not time out. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rcvtimeo, sizeof(rcvtimeo)) < 0)
		print_result("SO_RCVTIMEO", -1, errno);
	/* "send with error" consumed the error but the datagram was not sent; send once more. */
	step_send("send 4", fd);
	step_recv("blocking recv", fd, 0);
	close(fd);
}

/* An unconnected socket: the kernel keeps ICMP errors to itself (no IP_RECVERR). */
static void run_unconnected(const struct sockaddr_in *peer)
{
	int fd = udp_socket();
	ssize_t r;

	r = sendto(fd, payload, sizeof(payload) - 1, 0, (const struct sockaddr *)peer,
		   sizeof(*peer));
	print_result("unconnected sendto", r, errno);
	step_poll("unconnected wait (poll in)", fd, POLLIN, QUIET_WAIT_MS);
	step_so_error("unconnected SO_ERROR", fd);
	step_recv("unconnected recv", fd, MSG_DONTWAIT);
	close(fd);
}

int main(int argc, char **argv)
{
	struct sockaddr_in peer = { .sin_family = AF_INET };

	if (argc != 3 || inet_pton(AF_INET, argv[1], &peer.sin_addr) != 1 || atoi(argv[2]) <= 0) {
		fprintf(stderr, "usage: udp_refused PEER_IP CLOSED_PORT\n");
		return 2;
	}
	peer.sin_port = htons((unsigned short)atoi(argv[2]));
	run_connected(&peer);
	run_unconnected(&peer);
	return 0;
}
