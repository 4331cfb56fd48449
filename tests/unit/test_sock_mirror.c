/* The readiness mirror: the kernel's poll state of a socket's app fd must equal the mask the
 * protocol reports, through every transition, including the one-way HUP and ERR. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "pkt.h"
#include "sock.h"
#include "stack.h"

static int fake_mask;
static int fake_create(struct ustack *st, struct sock *s) { (void)st; (void)s; return 0; }
static int fake_poll(struct ustack *st, struct sock *s) { (void)st; (void)s; return fake_mask; }

static const struct sock_proto fake_stream = {
	.type = SOCK_STREAM, .protocol = 6, .create = fake_create, .poll_mask = fake_poll,
};
static const struct sock_proto fake_dgram = {
	.type = SOCK_DGRAM, .protocol = 17, .create = fake_create, .poll_mask = fake_poll,
};

static struct ustack *st;

static void setup(void)
{
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 2 };
	st = stack_create_test(0xc0000202, 24, mac, 1500);
	cr_assert_not_null(st);
}

static void teardown(void)
{
	stack_destroy(st);
	pkt_pool_drain();
}

static int kernel_revents(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT | POLLRDHUP };
	cr_assert_geq(poll(&p, 1, 0), 0);
	return p.revents & (POLLIN | POLLOUT | POLLRDHUP | POLLHUP | POLLERR);
}

static struct sock *paired(const struct sock_proto *proto)
{
	struct sock *s;
	cr_assert_eq(sock_new(st, proto, true, true, &s), 0);
	return s;
}

TestSuite(sock_mirror, .init = setup, .fini = teardown);

Test(sock_mirror, fresh_stream_socket_polls_like_fresh_tcp)
{
	struct sock *s;
	cr_assert_eq(sock_new(st, &fake_stream, false, true, &s), 0);
	/* Linux: a new TCP socket reports POLLOUT|POLLHUP */
	cr_expect_eq(kernel_revents(s->app_fd), POLLOUT | POLLHUP);
	close(s->app_fd);
	sock_free(st, s);
}

Test(sock_mirror, follows_in_out_transitions)
{
	struct sock *s = paired(&fake_stream);
	static const int masks[] = { POLLOUT, POLLIN | POLLOUT, POLLIN, 0, POLLOUT, POLLIN, POLLOUT };

	for (size_t i = 0; i < sizeof(masks) / sizeof(masks[0]); i++) {
		fake_mask = masks[i];
		sock_readiness(st, s, false);
		cr_expect_eq(kernel_revents(s->app_fd), masks[i], "step %zu: kernel %#x want %#x", i,
			     kernel_revents(s->app_fd), masks[i]);
	}
	close(s->app_fd);
	sock_free(st, s);
}

Test(sock_mirror, rdhup_then_hup_then_err)
{
	struct sock *s = paired(&fake_stream);

	fake_mask = POLLOUT;
	sock_readiness(st, s, false);
	fake_mask = POLLIN | POLLRDHUP | POLLOUT;        /* peer's FIN */
	sock_readiness(st, s, false);
	cr_expect_eq(kernel_revents(s->app_fd), POLLIN | POLLRDHUP | POLLOUT);
	fake_mask = POLLIN | POLLRDHUP | POLLOUT | POLLHUP;
	sock_readiness(st, s, false);
	cr_expect_eq(kernel_revents(s->app_fd), POLLIN | POLLRDHUP | POLLOUT | POLLHUP);
	fake_mask |= POLLERR;                            /* a reset after both FINs */
	sock_readiness(st, s, false);
	cr_expect_eq(kernel_revents(s->app_fd), POLLIN | POLLRDHUP | POLLOUT | POLLHUP | POLLERR);
	close(s->app_fd);
	sock_free(st, s);
}

Test(sock_mirror, reset_while_connecting_shows_err_hup)
{
	struct sock *s = paired(&fake_stream);

	fake_mask = 0;                                   /* SYN_SENT: nothing */
	sock_readiness(st, s, false);
	cr_expect_eq(kernel_revents(s->app_fd), 0);
	fake_mask = POLLIN | POLLOUT | POLLRDHUP | POLLHUP | POLLERR;   /* refused */
	sock_readiness(st, s, false);
	cr_expect_eq(kernel_revents(s->app_fd), POLLIN | POLLOUT | POLLRDHUP | POLLHUP | POLLERR);
	close(s->app_fd);
	sock_free(st, s);
}

Test(sock_mirror, datagram_error_comes_and_goes)
{
	struct sock *s = paired(&fake_dgram);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET }, out[2];
	int ep = epoll_create1(0);

	cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_ADD, s->app_fd, &ev), 0);
	fake_mask = POLLOUT;
	sock_readiness(st, s, false);
	cr_expect_eq(kernel_revents(s->app_fd), POLLOUT);
	fake_mask = POLLOUT | POLLERR;                   /* ICMP port unreachable */
	sock_readiness(st, s, true);
	cr_expect_eq(kernel_revents(s->app_fd), POLLOUT | POLLERR);
	cr_expect_eq(epoll_wait(ep, out, 2, 0), 1, "the error wakes an edge-triggered waiter");
	cr_expect_eq(out[0].events & EPOLLERR, EPOLLERR);
	fake_mask = POLLOUT | POLLIN;                    /* error read; a datagram queued */
	sock_readiness(st, s, true);
	cr_expect_eq(kernel_revents(s->app_fd), POLLOUT | POLLIN);
	fake_mask = POLLOUT | POLLIN | POLLERR;          /* and a second error */
	sock_readiness(st, s, true);
	cr_expect_eq(kernel_revents(s->app_fd), POLLOUT | POLLIN | POLLERR);
	fake_mask = POLLOUT | POLLIN | POLLRDHUP;        /* shutdown(SHUT_RD) */
	sock_readiness(st, s, false);
	cr_expect_eq(kernel_revents(s->app_fd), POLLOUT | POLLIN | POLLRDHUP);
	close(ep);
	close(s->app_fd);
	sock_free(st, s);
}

Test(sock_mirror, edge_triggered_epoll_sees_new_data_edges)
{
	struct sock *s = paired(&fake_dgram);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET }, out[2];
	int ep = epoll_create1(0);

	cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_ADD, s->app_fd, &ev), 0);
	fake_mask = POLLOUT | POLLIN;
	sock_readiness(st, s, true);
	cr_expect_eq(epoll_wait(ep, out, 2, 0), 1);
	cr_expect_eq(epoll_wait(ep, out, 2, 0), 0, "edge consumed");
	sock_readiness(st, s, true);                     /* more data, still readable */
	cr_expect_eq(epoll_wait(ep, out, 2, 0), 1, "new data is a new edge");
	sock_readiness(st, s, false);                    /* nothing new: no edge */
	cr_expect_eq(epoll_wait(ep, out, 2, 0), 0);
	close(ep);
	close(s->app_fd);
	sock_free(st, s);
}

Test(sock_mirror, wait_write_blocks_until_writable_and_times_out)
{
	struct sock *s = paired(&fake_stream);
	struct timeval tv = { 0, 50000 };

	fake_mask = 0;
	sock_readiness(st, s, false);
	cr_assert_eq(sock_setsockopt_generic(st, s, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
	ustack_global = st;
	cr_expect_eq(sock_wait(s, US_WANT_WRITE), -EAGAIN, "SO_SNDTIMEO expires like a socket's");
	tv.tv_usec = 0;
	cr_assert_eq(sock_setsockopt_generic(st, s, SO_RCVTIMEO, &(struct timeval){ 0, 30000 },
					     sizeof(tv)), 0);
	cr_expect_eq(sock_wait(s, US_WANT_READ), -EAGAIN);
	fake_mask = POLLIN | POLLOUT;
	sock_readiness(st, s, false);
	cr_expect_eq(sock_wait(s, US_WANT_WRITE), 0);
	cr_expect_eq(sock_wait(s, US_WANT_READ), 0);
	ustack_global = NULL;
	close(s->app_fd);
	sock_free(st, s);
}
