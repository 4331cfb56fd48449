/*
 * The TCP state matrix: eight kinds of segment (ACK, FIN, FIN-ACK, RST, RST-ACK, SYN,
 * SYN-ACK, SYN-FIN) arriving in each of the eleven states, in and out of the window, checked
 * against RFC 9293 §3.10.7 and RFC 5961 (resulting state, reply, errno the application sees).
 *
 * "In window" is SEG.SEQ = RCV.NXT; "out of window" is RCV.NXT + 10^6 (far beyond any window).
 * ACK-bearing segments acknowledge everything we sent (SND.MAX), so an ACK in FIN_WAIT_1,
 * CLOSING or LAST_ACK acknowledges our FIN. Where the state has no receive window (CLOSED,
 * LISTEN, SYN_SENT) the two columns differ in the ACK field instead: acceptable vs. not
 * (SYN_SENT: ISS+1 vs. ISS+1000). Deviations from the RFC text that follow Linux are marked.
 */
#include "tcp_frames.h"

#include <criterion/parameterized.h>

enum kind { K_ACK, K_FIN, K_FINACK, K_RST, K_RSTACK, K_SYN, K_SYNACK, K_SYNFIN, K_N };
static const char *const kind_names[K_N] = { "ACK", "FIN", "FIN-ACK", "RST", "RST-ACK", "SYN",
					     "SYN-ACK", "SYN-FIN" };
static const uint8_t kind_flags[K_N] = {
	FRAMES_TCP_ACK, FRAMES_TCP_FIN, FRAMES_TCP_FIN | FRAMES_TCP_ACK, FRAMES_TCP_RST,
	FRAMES_TCP_RST | FRAMES_TCP_ACK, FRAMES_TCP_SYN, FRAMES_TCP_SYN | FRAMES_TCP_ACK,
	FRAMES_TCP_SYN | FRAMES_TCP_FIN,
};

/* the reply expected: nothing, or one segment with exactly these flags */
enum reply { R_NONE, R_ACK, R_RST, R_RSTACK, R_SYNACK, R_CH = R_ACK /* challenge ACK */ };
static const uint8_t reply_flags[] = { 0, FRAMES_TCP_ACK, FRAMES_TCP_RST,
				       FRAMES_TCP_RST | FRAMES_TCP_ACK,
				       FRAMES_TCP_SYN | FRAMES_TCP_ACK };
static const char *const reply_names[] = { "none", "ACK", "RST", "RST-ACK", "SYN-ACK" };

struct outcome {
	enum tcp_state state;
	enum reply reply;
	int err;              /* so_error afterwards (0: none) */
};

struct row {
	enum tcp_state state;
	enum kind kind;
	struct outcome in, out;
};

#define O(st_, r_, e_) { TCP_##st_, R_##r_, e_ }

static const struct row table[] = {
	/* RFC 9293 §3.10.7.1 CLOSED: RST for anything but a RST */
	{ TCP_CLOSED, K_ACK,    O(CLOSED, RST, 0),    O(CLOSED, RST, 0) },
	{ TCP_CLOSED, K_FIN,    O(CLOSED, RSTACK, 0), O(CLOSED, RSTACK, 0) },
	{ TCP_CLOSED, K_FINACK, O(CLOSED, RST, 0),    O(CLOSED, RST, 0) },
	{ TCP_CLOSED, K_RST,    O(CLOSED, NONE, 0),   O(CLOSED, NONE, 0) },
	{ TCP_CLOSED, K_RSTACK, O(CLOSED, NONE, 0),   O(CLOSED, NONE, 0) },
	{ TCP_CLOSED, K_SYN,    O(CLOSED, RSTACK, 0), O(CLOSED, RSTACK, 0) },
	{ TCP_CLOSED, K_SYNACK, O(CLOSED, RST, 0),    O(CLOSED, RST, 0) },
	{ TCP_CLOSED, K_SYNFIN, O(CLOSED, RSTACK, 0), O(CLOSED, RSTACK, 0) },
	/* §3.10.7.2 LISTEN: RST ignored, ACK reset, SYN answered; SYN-FIN dropped (Linux) */
	{ TCP_LISTEN, K_ACK,    O(LISTEN, RST, 0),     O(LISTEN, RST, 0) },
	{ TCP_LISTEN, K_FIN,    O(LISTEN, NONE, 0),    O(LISTEN, NONE, 0) },
	{ TCP_LISTEN, K_FINACK, O(LISTEN, RST, 0),     O(LISTEN, RST, 0) },
	{ TCP_LISTEN, K_RST,    O(LISTEN, NONE, 0),    O(LISTEN, NONE, 0) },
	{ TCP_LISTEN, K_RSTACK, O(LISTEN, NONE, 0),    O(LISTEN, NONE, 0) },
	{ TCP_LISTEN, K_SYN,    O(LISTEN, SYNACK, 0),  O(LISTEN, SYNACK, 0) },
	{ TCP_LISTEN, K_SYNACK, O(LISTEN, RST, 0),     O(LISTEN, RST, 0) },
	{ TCP_LISTEN, K_SYNFIN, O(LISTEN, NONE, 0),    O(LISTEN, NONE, 0) },
	/* §3.10.7.3 SYN_SENT: first the ACK (bad ACK → RST unless RST), then RST (RFC 5961 §3:
	 * only with an acceptable ACK), then SYN (simultaneous open without ACK) */
	{ TCP_SYN_SENT, K_ACK,    O(SYN_SENT, NONE, 0),             O(SYN_SENT, RST, 0) },
	{ TCP_SYN_SENT, K_FIN,    O(SYN_SENT, NONE, 0),             O(SYN_SENT, NONE, 0) },
	{ TCP_SYN_SENT, K_FINACK, O(SYN_SENT, NONE, 0),             O(SYN_SENT, RST, 0) },
	{ TCP_SYN_SENT, K_RST,    O(SYN_SENT, NONE, 0),             O(SYN_SENT, NONE, 0) },
	{ TCP_SYN_SENT, K_RSTACK, O(CLOSED, NONE, ECONNREFUSED),    O(SYN_SENT, NONE, 0) },
	{ TCP_SYN_SENT, K_SYN,    O(SYN_RECEIVED, SYNACK, 0),       O(SYN_RECEIVED, SYNACK, 0) },
	{ TCP_SYN_SENT, K_SYNACK, O(ESTABLISHED, ACK, 0),           O(SYN_SENT, RST, 0) },
	{ TCP_SYN_SENT, K_SYNFIN, O(SYN_RECEIVED, SYNACK, 0),       O(SYN_RECEIVED, SYNACK, 0) },
	/* §3.10.7.4 SYN_RECEIVED (passive): exact RST or any SYN returns to LISTEN (the child
	 * goes: CLOSED here); an acceptable ACK establishes; no ACK bit: dropped */
	{ TCP_SYN_RECEIVED, K_ACK,    O(ESTABLISHED, NONE, 0),  O(SYN_RECEIVED, ACK, 0) },
	{ TCP_SYN_RECEIVED, K_FIN,    O(SYN_RECEIVED, NONE, 0), O(SYN_RECEIVED, ACK, 0) },
	{ TCP_SYN_RECEIVED, K_FINACK, O(CLOSE_WAIT, ACK, 0),    O(SYN_RECEIVED, ACK, 0) },
	{ TCP_SYN_RECEIVED, K_RST,    O(CLOSED, NONE, 0),       O(SYN_RECEIVED, NONE, 0) },
	{ TCP_SYN_RECEIVED, K_RSTACK, O(CLOSED, NONE, 0),       O(SYN_RECEIVED, NONE, 0) },
	{ TCP_SYN_RECEIVED, K_SYN,    O(CLOSED, NONE, 0),       O(SYN_RECEIVED, CH, 0) },
	{ TCP_SYN_RECEIVED, K_SYNACK, O(CLOSED, NONE, 0),       O(SYN_RECEIVED, CH, 0) },
	{ TCP_SYN_RECEIVED, K_SYNFIN, O(CLOSED, NONE, 0),       O(SYN_RECEIVED, CH, 0) },
	/* ESTABLISHED: RFC 5961 §3.2 exact RST resets, §4.2 SYN → challenge ACK */
	{ TCP_ESTABLISHED, K_ACK,    O(ESTABLISHED, NONE, 0),      O(ESTABLISHED, ACK, 0) },
	{ TCP_ESTABLISHED, K_FIN,    O(ESTABLISHED, NONE, 0),      O(ESTABLISHED, ACK, 0) },
	{ TCP_ESTABLISHED, K_FINACK, O(CLOSE_WAIT, ACK, 0),        O(ESTABLISHED, ACK, 0) },
	{ TCP_ESTABLISHED, K_RST,    O(CLOSED, NONE, ECONNRESET),  O(ESTABLISHED, NONE, 0) },
	{ TCP_ESTABLISHED, K_RSTACK, O(CLOSED, NONE, ECONNRESET),  O(ESTABLISHED, NONE, 0) },
	{ TCP_ESTABLISHED, K_SYN,    O(ESTABLISHED, CH, 0),        O(ESTABLISHED, CH, 0) },
	{ TCP_ESTABLISHED, K_SYNACK, O(ESTABLISHED, CH, 0),        O(ESTABLISHED, CH, 0) },
	{ TCP_ESTABLISHED, K_SYNFIN, O(ESTABLISHED, CH, 0),        O(ESTABLISHED, CH, 0) },
	/* FIN_WAIT_1: the ACK of our FIN → FIN_WAIT_2; with the peer's FIN → TIME_WAIT */
	{ TCP_FIN_WAIT_1, K_ACK,    O(FIN_WAIT_2, NONE, 0),      O(FIN_WAIT_1, ACK, 0) },
	{ TCP_FIN_WAIT_1, K_FIN,    O(FIN_WAIT_1, NONE, 0),      O(FIN_WAIT_1, ACK, 0) },
	{ TCP_FIN_WAIT_1, K_FINACK, O(TIME_WAIT, ACK, 0),        O(FIN_WAIT_1, ACK, 0) },
	{ TCP_FIN_WAIT_1, K_RST,    O(CLOSED, NONE, ECONNRESET), O(FIN_WAIT_1, NONE, 0) },
	{ TCP_FIN_WAIT_1, K_RSTACK, O(CLOSED, NONE, ECONNRESET), O(FIN_WAIT_1, NONE, 0) },
	{ TCP_FIN_WAIT_1, K_SYN,    O(FIN_WAIT_1, CH, 0),        O(FIN_WAIT_1, CH, 0) },
	{ TCP_FIN_WAIT_1, K_SYNACK, O(FIN_WAIT_1, CH, 0),        O(FIN_WAIT_1, CH, 0) },
	{ TCP_FIN_WAIT_1, K_SYNFIN, O(FIN_WAIT_1, CH, 0),        O(FIN_WAIT_1, CH, 0) },
	/* FIN_WAIT_2 */
	{ TCP_FIN_WAIT_2, K_ACK,    O(FIN_WAIT_2, NONE, 0),      O(FIN_WAIT_2, ACK, 0) },
	{ TCP_FIN_WAIT_2, K_FIN,    O(FIN_WAIT_2, NONE, 0),      O(FIN_WAIT_2, ACK, 0) },
	{ TCP_FIN_WAIT_2, K_FINACK, O(TIME_WAIT, ACK, 0),        O(FIN_WAIT_2, ACK, 0) },
	{ TCP_FIN_WAIT_2, K_RST,    O(CLOSED, NONE, ECONNRESET), O(FIN_WAIT_2, NONE, 0) },
	{ TCP_FIN_WAIT_2, K_RSTACK, O(CLOSED, NONE, ECONNRESET), O(FIN_WAIT_2, NONE, 0) },
	{ TCP_FIN_WAIT_2, K_SYN,    O(FIN_WAIT_2, CH, 0),        O(FIN_WAIT_2, CH, 0) },
	{ TCP_FIN_WAIT_2, K_SYNACK, O(FIN_WAIT_2, CH, 0),        O(FIN_WAIT_2, CH, 0) },
	{ TCP_FIN_WAIT_2, K_SYNFIN, O(FIN_WAIT_2, CH, 0),        O(FIN_WAIT_2, CH, 0) },
	/* CLOSE_WAIT: a reset after the peer's FIN is EPIPE (Linux tcp_reset) */
	{ TCP_CLOSE_WAIT, K_ACK,    O(CLOSE_WAIT, NONE, 0),   O(CLOSE_WAIT, ACK, 0) },
	{ TCP_CLOSE_WAIT, K_FIN,    O(CLOSE_WAIT, NONE, 0),   O(CLOSE_WAIT, ACK, 0) },
	{ TCP_CLOSE_WAIT, K_FINACK, O(CLOSE_WAIT, ACK, 0),    O(CLOSE_WAIT, ACK, 0) },
	{ TCP_CLOSE_WAIT, K_RST,    O(CLOSED, NONE, EPIPE),   O(CLOSE_WAIT, NONE, 0) },
	{ TCP_CLOSE_WAIT, K_RSTACK, O(CLOSED, NONE, EPIPE),   O(CLOSE_WAIT, NONE, 0) },
	{ TCP_CLOSE_WAIT, K_SYN,    O(CLOSE_WAIT, CH, 0),     O(CLOSE_WAIT, CH, 0) },
	{ TCP_CLOSE_WAIT, K_SYNACK, O(CLOSE_WAIT, CH, 0),     O(CLOSE_WAIT, CH, 0) },
	{ TCP_CLOSE_WAIT, K_SYNFIN, O(CLOSE_WAIT, CH, 0),     O(CLOSE_WAIT, CH, 0) },
	/* CLOSING: the ACK of our FIN → TIME_WAIT (a FIN with it is acknowledged there) */
	{ TCP_CLOSING, K_ACK,    O(TIME_WAIT, NONE, 0),       O(CLOSING, ACK, 0) },
	{ TCP_CLOSING, K_FIN,    O(CLOSING, NONE, 0),         O(CLOSING, ACK, 0) },
	{ TCP_CLOSING, K_FINACK, O(TIME_WAIT, ACK, 0),        O(CLOSING, ACK, 0) },
	{ TCP_CLOSING, K_RST,    O(CLOSED, NONE, ECONNRESET), O(CLOSING, NONE, 0) },
	{ TCP_CLOSING, K_RSTACK, O(CLOSED, NONE, ECONNRESET), O(CLOSING, NONE, 0) },
	{ TCP_CLOSING, K_SYN,    O(CLOSING, CH, 0),           O(CLOSING, CH, 0) },
	{ TCP_CLOSING, K_SYNACK, O(CLOSING, CH, 0),           O(CLOSING, CH, 0) },
	{ TCP_CLOSING, K_SYNFIN, O(CLOSING, CH, 0),           O(CLOSING, CH, 0) },
	/* LAST_ACK: the ACK of our FIN ends the connection */
	{ TCP_LAST_ACK, K_ACK,    O(CLOSED, NONE, 0),          O(LAST_ACK, ACK, 0) },
	{ TCP_LAST_ACK, K_FIN,    O(LAST_ACK, NONE, 0),        O(LAST_ACK, ACK, 0) },
	{ TCP_LAST_ACK, K_FINACK, O(CLOSED, NONE, 0),          O(LAST_ACK, ACK, 0) },
	{ TCP_LAST_ACK, K_RST,    O(CLOSED, NONE, ECONNRESET), O(LAST_ACK, NONE, 0) },
	{ TCP_LAST_ACK, K_RSTACK, O(CLOSED, NONE, ECONNRESET), O(LAST_ACK, NONE, 0) },
	{ TCP_LAST_ACK, K_SYN,    O(LAST_ACK, CH, 0),          O(LAST_ACK, CH, 0) },
	{ TCP_LAST_ACK, K_SYNACK, O(LAST_ACK, CH, 0),          O(LAST_ACK, CH, 0) },
	{ TCP_LAST_ACK, K_SYNFIN, O(LAST_ACK, CH, 0),          O(LAST_ACK, CH, 0) },
	/* TIME_WAIT: segments out of the window are ACKed (and 2·MSL restarts); an exact RST
	 * closes; a SYN in the window gets a challenge ACK; a SYN above RCV.NXT may start a
	 * new connection (RFC 6191 / RFC 1122 §4.2.2.13) — here no listener, so a RST */
	{ TCP_TIME_WAIT, K_ACK,    O(TIME_WAIT, NONE, 0), O(TIME_WAIT, ACK, 0) },
	{ TCP_TIME_WAIT, K_FIN,    O(TIME_WAIT, NONE, 0), O(TIME_WAIT, ACK, 0) },
	{ TCP_TIME_WAIT, K_FINACK, O(TIME_WAIT, ACK, 0),  O(TIME_WAIT, ACK, 0) },
	{ TCP_TIME_WAIT, K_RST,    O(CLOSED, NONE, 0),    O(TIME_WAIT, NONE, 0) },
	{ TCP_TIME_WAIT, K_RSTACK, O(CLOSED, NONE, 0),    O(TIME_WAIT, NONE, 0) },
	{ TCP_TIME_WAIT, K_SYN,    O(TIME_WAIT, CH, 0),   O(CLOSED, RSTACK, 0) },
	{ TCP_TIME_WAIT, K_SYNACK, O(TIME_WAIT, CH, 0),   O(TIME_WAIT, ACK, 0) },
	{ TCP_TIME_WAIT, K_SYNFIN, O(TIME_WAIT, CH, 0),   O(CLOSED, RSTACK, 0) },
};

#define NROWS (sizeof table / sizeof table[0])

struct mcase {
	enum tcp_state state;
	enum kind kind;
	bool out_of_window;
	struct outcome expect;
};

/* The connection under test, brought into its state. */
struct subject {
	struct sock *sock;          /* the socket whose conn is tested, or NULL */
	struct tcp_tuple tuple;     /* to find a child / a conn without socket */
	uint16_t peer_port, our_port;
	uint32_t rcv_nxt;           /* the peer's next sequence number (our RCV.NXT) */
	uint32_t ack_ok, ack_bad;   /* ACK field values */
	bool by_tuple;              /* look the conn up by tuple (SYN_RECEIVED child) */
};

static void peer(const struct subject *x, uint8_t flags, uint32_t seq, uint32_t ack)
{
	tf_inject_ports(x->peer_port, x->our_port, flags, seq, ack, 65535, NULL, NULL, 0);
}

static void drain(void)
{
	struct tseg s;
	while (tf_pop(&s))
		;
}

static struct subject bring_to(enum tcp_state want)
{
	struct subject x;
	uint32_t iss = 0;
	struct tseg seg;

	memset(&x, 0, sizeof x);
	x.peer_port = SRV_PORT;
	switch (want) {
	case TCP_CLOSED:
		x.peer_port = PEER_PORT;
		x.our_port = 9999;
		x.rcv_nxt = 5000;
		x.ack_ok = x.ack_bad = 7777;
		return x;
	case TCP_LISTEN:
		x.sock = tf_listen(SRV_PORT, 16);
		x.peer_port = PEER_PORT;
		x.our_port = SRV_PORT;
		x.rcv_nxt = 5000;
		x.ack_ok = x.ack_bad = 7777;
		return x;
	case TCP_SYN_SENT:
		x.sock = tf_socket();
		cr_assert_eq(tf_connect(x.sock, SRV_PORT), -EINPROGRESS);
		cr_assert(tf_pop(&seg));
		x.our_port = seg.sport;
		x.rcv_nxt = PEER_ISS;
		x.ack_ok = seg.seq + 1;
		x.ack_bad = seg.seq + 1000;
		return x;
	case TCP_SYN_RECEIVED: {
		struct sock *l = tf_listen(SRV_PORT, 16);
		(void)l;
		tf_inject_ports(PEER_PORT, SRV_PORT, FRAMES_TCP_SYN, PEER_ISS, 0, 65535, NULL, NULL, 0);
		cr_assert(tf_pop(&seg));
		x.peer_port = PEER_PORT;
		x.our_port = SRV_PORT;
		x.by_tuple = true;
		x.tuple = (struct tcp_tuple){ OUR_IP, PEER_IP, SRV_PORT, PEER_PORT };
		x.rcv_nxt = PEER_ISS + 1;
		x.ack_ok = seg.seq + 1;
		return x;
	}
	default:
		break;
	}
	/* synchronized states start from an active open */
	x.sock = tf_establish_active(NULL, &iss, 65535);
	x.our_port = tf_conn(x.sock)->tuple.local_port;
	x.rcv_nxt = PEER_ISS + 1;
	x.ack_ok = iss + 1;
	switch (want) {
	case TCP_FIN_WAIT_1:
	case TCP_FIN_WAIT_2:
	case TCP_CLOSING:
	case TCP_TIME_WAIT:
		tcp_sock_proto.shutdown(st, x.sock, SHUT_WR);
		x.ack_ok = iss + 2;
		if (want == TCP_FIN_WAIT_2 || want == TCP_TIME_WAIT)
			peer(&x, FRAMES_TCP_ACK, x.rcv_nxt, iss + 2);
		if (want == TCP_CLOSING)
			peer(&x, FRAMES_TCP_FIN | FRAMES_TCP_ACK, x.rcv_nxt, iss + 1);
		if (want == TCP_TIME_WAIT)
			peer(&x, FRAMES_TCP_FIN | FRAMES_TCP_ACK, x.rcv_nxt, iss + 2);
		if (want == TCP_CLOSING || want == TCP_TIME_WAIT)
			x.rcv_nxt++;
		break;
	case TCP_CLOSE_WAIT:
	case TCP_LAST_ACK:
		peer(&x, FRAMES_TCP_FIN | FRAMES_TCP_ACK, x.rcv_nxt, iss + 1);
		x.rcv_nxt++;
		if (want == TCP_LAST_ACK) {
			tcp_sock_proto.shutdown(st, x.sock, SHUT_WR);
			x.ack_ok = iss + 2;
		}
		break;
	default:
		break;
	}
	drain();
	/* past the challenge-ACK rate limit of the set-up segments */
	stack_advance_clock(st, 600000);
	drain();
	x.ack_bad = x.ack_ok;
	cr_assert_eq(tf_conn(x.sock)->state, want, "set-up reached %s, not %s",
		     tcp_state_name(tf_conn(x.sock)->state), tcp_state_name(want));
	return x;
}

static enum tcp_state state_now(const struct subject *x)
{
	struct tcp_conn *c;

	if (x->by_tuple) {
		c = tcp_conn_lookup(st, &x->tuple);
		return c ? c->state : TCP_CLOSED;
	}
	if (!x->sock)
		return TCP_CLOSED;
	return tf_conn(x->sock)->state;
}

static struct mcase cases[NROWS * 2];

ParameterizedTestParameters(tcp_state, matrix)
{
	for (size_t i = 0; i < NROWS; i++) {
		cases[2 * i] = (struct mcase){ table[i].state, table[i].kind, false, table[i].in };
		cases[2 * i + 1] = (struct mcase){ table[i].state, table[i].kind, true, table[i].out };
	}
	return cr_make_param_array(struct mcase, cases, NROWS * 2);
}

ParameterizedTest(struct mcase *mc, tcp_state, matrix, .init = tf_setup, .fini = tf_teardown)
{
	char name[96];
	struct subject x = bring_to(mc->state);
	uint8_t flags = kind_flags[mc->kind];
	uint32_t seq = x.rcv_nxt + (mc->out_of_window && mc->state > TCP_SYN_SENT ? 1000000u : 0);
	uint32_t ack = (flags & FRAMES_TCP_ACK) ? (mc->out_of_window ? x.ack_bad : x.ack_ok) : 0;
	struct tseg r;
	bool got;

	snprintf(name, sizeof name, "%s in %s, %s window", kind_names[mc->kind],
		 tcp_state_name(mc->state), mc->out_of_window ? "out of" : "in");
	cr_assert_eq(TCP_NSTATES, 11);
	peer(&x, flags, seq, ack);
	got = tf_pop(&r);
	if (mc->expect.reply == R_NONE) {
		cr_expect(!got, "%s: expected no reply, got flags 0x%02x", name, r.flags);
	} else {
		cr_expect(got, "%s: expected %s, got nothing", name, reply_names[mc->expect.reply]);
		cr_expect_eq(r.flags, reply_flags[mc->expect.reply], "%s: expected %s, got flags 0x%02x",
			     name, reply_names[mc->expect.reply], r.flags);
		if (got && r.flags == FRAMES_TCP_RST)
			cr_expect_eq(r.seq, ack, "%s: RST <SEQ=SEG.ACK>", name);
		if (got && r.flags == (FRAMES_TCP_RST | FRAMES_TCP_ACK))
			cr_expect_eq(r.ack, seq + (kind_flags[mc->kind] & FRAMES_TCP_SYN ? 1 : 0) +
					    (kind_flags[mc->kind] & FRAMES_TCP_FIN ? 1 : 0),
				     "%s: RST-ACK <ACK=SEG.SEQ+SEG.LEN>", name);
		cr_expect(!tf_pop(&r), "%s: one reply only", name);
	}
	cr_expect_eq(state_now(&x), mc->expect.state, "%s: state %s, expected %s", name,
		     tcp_state_name(state_now(&x)), tcp_state_name(mc->expect.state));
	if (x.sock && !x.by_tuple)
		cr_expect_eq(x.sock->so_error, mc->expect.err, "%s: so_error %d, expected %d", name,
			     x.sock->so_error, mc->expect.err);
}

/* Named tests for the transitions people look for first. */
TestSuite(tcp_syn_sent, .init = tf_setup, .fini = tf_teardown);
TestSuite(tcp_established, .init = tf_setup, .fini = tf_teardown);

Test(tcp_syn_sent, rst_ack_closes)
{
	struct subject x = bring_to(TCP_SYN_SENT);

	peer(&x, FRAMES_TCP_RST | FRAMES_TCP_ACK, 0, x.ack_ok);
	cr_expect_eq(state_now(&x), TCP_CLOSED);
	cr_expect_eq(x.sock->so_error, ECONNREFUSED);
	cr_expect(tcp_sock_proto.poll_mask(st, x.sock) & POLLERR);
}

Test(tcp_established, rst_in_window_not_exact_is_challenged)
{
	struct subject x = bring_to(TCP_ESTABLISHED);
	struct tseg r;

	peer(&x, FRAMES_TCP_RST, x.rcv_nxt + 1, 0);
	cr_expect_eq(state_now(&x), TCP_ESTABLISHED);
	cr_assert(tf_pop(&r));
	cr_expect_eq(r.flags, FRAMES_TCP_ACK);
	cr_expect_eq(r.ack, x.rcv_nxt);
}

Test(tcp_established, ack_of_unsent_data_is_challenged)
{
	struct subject x = bring_to(TCP_ESTABLISHED);
	struct tseg r;

	peer(&x, FRAMES_TCP_ACK, x.rcv_nxt, x.ack_ok + 5000);
	cr_assert(tf_pop(&r), "RFC 5961 §5.2: ACK beyond SND.NXT is answered with an ACK");
	cr_expect_eq(r.flags, FRAMES_TCP_ACK);
	cr_expect_eq(tf_conn(x.sock)->snd_una, x.ack_ok);
}
