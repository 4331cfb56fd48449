/*
 * TCP internals shared by tcp.c (lifecycle, socket API), tcp_in.c (segment arrives),
 * tcp_out.c (segment building, retransmission) and tcp_timer.c (the two timers).
 *
 * One control block per connection, `struct tcp_conn`. Ownership:
 *  - created by socket() (sock attached), or by a SYN on a listener (a "child": sock NULL,
 *    listener set, in the SYN queue until the handshake completes, then in the accept queue
 *    until accept() gives it a struct sock);
 *  - the application's close (release) detaches it from its sock (orphan) and it finishes
 *    closing in the background;
 *  - it is freed when it reaches CLOSED with no sock and not in an accept queue
 *    (tcp_conn_reap(), called at the end of every entry point, never in the middle).
 * Everything runs under the stack lock.
 */
#ifndef USTACK_TCP_INTERNAL_H
#define USTACK_TCP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <uthash.h>

#include "ringbuf.h"
#include "tcp.h"
#include "tcp_assembler.h"
#include "tcp_cc.h"
#include "tcp_rack.h"
#include "tcp_rtt.h"
#include "tcp_sack.h"
#include "tcp_seq.h"
#include "timer.h"
#include "trace.h"
#include "ustack/wire/tcp.h"

struct sock;

/* RFC 9293 §3.3.2, ordered so that range checks read well (state >= TCP_ESTABLISHED: the
 * handshake is over). Names do not clash with <linux/tcp.h>; do not mix with <netinet/tcp.h>. */
enum tcp_state {
	TCP_CLOSED = 0,
	TCP_LISTEN,
	TCP_SYN_SENT,
	TCP_SYN_RECEIVED,
	TCP_ESTABLISHED,
	TCP_FIN_WAIT_1,
	TCP_FIN_WAIT_2,
	TCP_CLOSE_WAIT,
	TCP_CLOSING,
	TCP_LAST_ACK,
	TCP_TIME_WAIT,
};
#define TCP_NSTATES 11

/* Linux-compatible constants */
#define TCP_EPHEMERAL_LOW 32768        /* net.ipv4.ip_local_port_range */
#define TCP_EPHEMERAL_HIGH 60999
#define TCP_DEFAULT_MSS 536            /* RFC 9293 §3.7.1 when the peer sends none */
#define TCP_MIN_MSS 88                 /* Linux TCP_MIN_MSS */
#define TCP_INIT_CWND_SEGS 10          /* RFC 6928, Linux */
#define TCP_DELACK_MIN_US 40000        /* Linux TCP_DELACK_MIN */
#define TCP_DELACK_MAX_US 200000       /* RFC 9293 §3.8.6.3 bound, Linux TCP_DELACK_MAX */
#define TCP_MAX_QUICKACKS 16           /* Linux TCP_MAX_QUICKACKS */
#define TCP_SYNACK_RETRIES 5           /* Linux net.ipv4.tcp_synack_retries */
#define TCP_RETRIES2 15                /* Linux net.ipv4.tcp_retries2 */
#define TCP_ORPHAN_RETRIES 8           /* Linux tcp_orphan_retries (0 means 8) */
#define TCP_FIN_TIMEOUT_MS 60000       /* Linux net.ipv4.tcp_fin_timeout */
#define TCP_KEEPIDLE_DEFAULT_S 7200
#define TCP_KEEPINTVL_DEFAULT_S 75
#define TCP_KEEPCNT_DEFAULT 9
#define TCP_CHALLENGE_ACK_LIMIT 1000   /* RFC 5961 §7 / Linux tcp_challenge_ack_limit, per s */
#define TCP_PAWS_IDLE_MS (24u * 24 * 3600 * 1000)  /* RFC 7323 §5.5: 24 days */
#define TCP_SOMAXCONN 4096
#define TCP_RCV_WSCALE_COVER (6u * 1024 * 1024)    /* Linux tcp_rmem[2]: wscale 7 */
#define TCP_MAX_WINDOW_BYTES (65535u << 14)
#define TCP_MAX_REORDERING 300         /* Linux net.ipv4.tcp_max_reordering */

/* the 4-tuple, host order; a uthash key (no padding: 4+4+2+2) */
struct tcp_tuple {
	uint32_t local_ip;
	uint32_t remote_ip;
	uint16_t local_port;
	uint16_t remote_port;
};

/* A received segment, parsed and checked once (host order). */
struct tcp_seg {
	uint32_t src, dst;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint16_t wnd;                 /* raw window field */
	uint8_t flags;                /* TCP_FL_* */
	const uint8_t *data;
	uint32_t len;                 /* payload bytes */
	/* options */
	bool has_mss, has_ws, sack_perm, has_ts;
	uint16_t mss;
	uint8_t ws;
	uint32_t tsval, tsecr;
	int nsack;
	struct tcp_sack_block sack[TCP_SACK_MAX_BLOCKS];
};

static inline uint32_t tcp_seg_seqlen(const struct tcp_seg *seg)
{
	return seg->len + ((seg->flags & TCP_FL_SYN) ? 1u : 0u) + ((seg->flags & TCP_FL_FIN) ? 1u : 0u);
}

/* which deadline the exclusive timer serves (tcp_next_deadline) */
enum tcp_timer_kind {
	TCP_TIMER_NONE = 0,
	TCP_TIMER_RETRANSMIT,
	TCP_TIMER_PERSIST,
	TCP_TIMER_KEEPALIVE,
	TCP_TIMER_FIN_WAIT_2,
	TCP_TIMER_TIME_WAIT,
	TCP_TIMER_RACK_REO,           /* RFC 8985 §6.3, shares the slot with the RTO */
	TCP_TIMER_TLP,                /* RFC 8985 §7.2 probe timeout, likewise */
};

struct tcp_bind_bucket;

struct tcp_conn {
	struct ustack *st;
	struct sock *sock;            /* NULL: a child not yet accepted, or orphaned */
	enum tcp_state state;
	struct tcp_tuple tuple;       /* local part set by bind/connect, remote by connect/SYN */
	UT_hash_handle hh;            /* st->tcp->conns, by tuple, while hashed */
	bool hashed;

	/* binding (local port ownership, RFC 6056 port choice) */
	struct tcp_bind_bucket *bucket;
	struct tcp_conn *bind_next, *bind_prev;
	bool bound_explicitly;        /* bind() was called (not an autobind) */

	/* listener and children */
	int backlog;                  /* LISTEN: accept queue limit (Linux sk_max_ack_backlog) */
	int synq_len, acceptq_len;
	struct tcp_conn *acceptq_head, *acceptq_tail;   /* FIFO of established children */
	struct tcp_conn *children;    /* every child (SYN queue and accept queue), DL list */
	struct tcp_conn *listen_next; /* other listeners on the same port (SO_REUSEPORT) */
	struct tcp_conn *listener;    /* a child: its listener until accept() */
	struct tcp_conn *child_next, *child_prev;
	struct tcp_conn *acceptq_next;
	bool in_acceptq;
	bool orphan;                  /* the application closed it */
	bool active_open;             /* connect() (vs. a child of a listener) */
	bool connect_reported;        /* connect() returned 0 / the error once */
	bool had_connection;          /* reached SYN_SENT or later: CLOSED now means "over" */
	int reset_err;                /* why it ended (ECONNRESET …), for accept() of a dead child */
	int soft_error;               /* last ICMP/ARP soft error (RFC 1122 §4.2.3.9) */
	bool corked_by_more;          /* the last send had MSG_MORE */
	bool reuseaddr, reuseport;    /* copies of the socket's (children: the listener's) */

	/* send sequence variables (RFC 9293 §3.3.1) */
	uint32_t iss;
	uint32_t snd_una;
	uint32_t snd_nxt;             /* next to send (goes back on RTO) */
	uint32_t snd_max;             /* highest sent + 1 */
	uint32_t snd_wnd;             /* peer's window, scaled, bytes */
	uint32_t max_snd_wnd;
	uint32_t snd_wl1, snd_wl2;
	uint32_t snd_mss;             /* effective send MSS (data bytes per segment) */
	uint16_t peer_mss;            /* MSS option received (536 if none) */
	uint16_t user_mss;            /* TCP_MAXSEG, 0 = none */
	uint16_t adv_mss;             /* MSS we advertise: MTU - 40, clamped by user_mss */

	/* receive sequence variables */
	uint32_t irs;
	uint32_t rcv_nxt;             /* == tcp_asm_rcv_nxt(&asm) once synchronized */
	uint32_t rcv_adv;             /* right edge of the window last advertised */
	uint32_t rcv_mss;             /* estimate of the peer's segment size (Linux rcv_mss) */
	bool fin_rcvd;                /* FIN consumed (RCV_SHUTDOWN from the peer) */
	bool fin_pending;             /* an out-of-order FIN waits at fin_seq_rcvd */
	uint32_t fin_seq_rcvd;

	/* window scaling, timestamps, SACK (RFC 7323, RFC 2018) */
	uint8_t snd_wscale;           /* shift of the peer's windows */
	uint8_t rcv_wscale;           /* shift of ours */
	bool ws_ok, ts_ok, sack_ok;   /* negotiated */
	bool want_ws, want_ts, want_sack;
	uint32_t ts_recent;           /* TS.Recent */
	uint64_t ts_recent_stamp_ms;  /* when TS.Recent was set (PAWS 24-day rule) */
	uint32_t ts_offset;           /* per-connection offset of our TSval clock */
	uint32_t last_ack_sent;       /* RCV.NXT of our last ACK (RFC 7323 §4.3) */

	/* buffers */
	struct ringbuf sndq;          /* bytes from snd_una (or ISS+1) to the end of app data */
	struct ringbuf rcvq;          /* committed: readable in-order data; after it, OOO data */
	struct tcp_assembler asm_;    /* which out-of-order ranges are held */
	struct tcp_sack_scoreboard sb;/* what the peer SACKed */

	/* closing */
	bool fin_queued;              /* FIN to send after the queued data (close/SHUT_WR) */
	bool fin_sent;                /* FIN has a sequence number: fin_seq */
	uint32_t fin_seq;
	bool shut_rd, shut_wr;        /* shutdown() by the application (Linux sk_shutdown) */
	bool rcv_shutdown;            /* RCV_SHUTDOWN: FIN received, SHUT_RD or the end */

	/* retransmission and congestion control */
	struct tcp_rtt rtt;
	struct tcp_cc cc;
	uint32_t rtt_seq;             /* timed segment end (RFC 6298 Karn) */
	uint64_t rtt_start_us;
	bool rtt_timing;
	unsigned dupacks;
	bool in_recovery;             /* fast recovery (NewReno or SACK) */
	uint32_t recover;             /* RFC 6582 "recover" */
	bool in_loss;                 /* after an RTO: retransmitting snd_una..recover */
	uint8_t retries;              /* consecutive RTO expiries (tcpi_retransmits) */
	uint8_t probes;               /* zero-window or keepalive probes without answer */
	uint32_t retrans_out;         /* segments retransmitted and not acknowledged (approx) */
	uint32_t total_retrans;
	uint32_t lost_segs;

	/* reordering and undo (RFC 6675 §2 DupThresh adapted to the path like Linux's
	 * tp->reordering; RFC 2883 §4 and RFC 3522 to detect spurious retransmissions) */
	uint32_t reordering;          /* reordering degree, segments: DupThresh (3 .. 300) */
	uint32_t rexmit_high;         /* end of the highest byte ever retransmitted */
	bool undo_valid;              /* the last recovery/RTO episode may still be undone */
	uint32_t undo_marker;         /* snd_una when that episode began */
	uint32_t undo_retrans;        /* its retransmissions not yet shown spurious by D-SACK */
	bool retrans_ts_valid;        /* retrans_tsval is set */
	uint32_t retrans_tsval;       /* TSval of the first retransmission of data still unacked
				       * (Linux retrans_stamp): older echoes ACK originals */
	uint32_t episode_tsval;       /* TSval of this episode's first retransmission */
	uint64_t episode_start_us;    /* and when it was sent */

	/* RACK-TLP (RFC 8985), connections with SACK only */
	struct tcp_rack rack;

	/* timers (tcp_timer.c): one exclusive deadline timer, one delayed ACK timer */
	struct stack_timer timer;
	struct stack_timer dack_timer;
	enum tcp_timer_kind timer_kind;   /* what `timer` is armed for (trace) */
	uint64_t rtx_deadline_us;     /* 0 = none */
	uint64_t persist_deadline_us;
	uint64_t tw_deadline_us;
	uint64_t fw2_deadline_us;
	uint64_t last_rx_us;          /* keepalive idle reference */
	uint8_t ka_probes;            /* keepalive probes without answer */
	uint64_t ka_last_probe_us;
	bool rx_new_data;             /* this input made data (or EOF) readable */
	bool wake_writer;             /* this input freed send space or completed the handshake */
	bool got_data;                /* any data received (quick-ACK mode starts) */
	uint64_t last_tx_data_us;

	/* delayed ACK (RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2) */
	bool ack_pending;             /* an ACK is owed (delayed) */
	bool ack_now;                 /* send an ACK with the next output pass */
	uint8_t quickacks;            /* quick ACKs left (Linux quick-ACK mode) */
	uint32_t rcv_unacked;         /* bytes received since our last ACK */

	/* options */
	bool nodelay, cork, keepalive;
	bool user_rcvbuf, user_sndbuf;/* SO_RCVBUF/SO_SNDBUF set: no autotuning */
	uint32_t rcvbuf_limit;        /* receive ring bytes usable (window source) */
	uint32_t sndbuf_limit;        /* send ring bytes usable */
	uint64_t rcv_space_copied;    /* autotuning: bytes read in this measurement */
	uint64_t rcv_space_start_us;
	uint64_t last_oow_ack_us;     /* challenge/out-of-window ACK rate limit (Linux 500 ms) */
	int keepidle_s, keepintvl_s, keepcnt;
	int linger2_s;                /* TCP_LINGER2: orphan FIN_WAIT_2 time, 0 = default */
	int syn_retries;              /* TCP_SYNCNT, 0 = st->cfg.syn_retries */
	uint32_t window_clamp;
	char cc_name[16];

	/* challenge ACK rate limit (RFC 5961 §7) */
	uint64_t challenge_window_start_ms;
	uint32_t challenge_count;

	/* statistics (TCP_INFO, ss) */
	uint64_t start_us;
	uint64_t bytes_acked, bytes_received, bytes_sent, bytes_retrans;
	uint32_t segs_in, segs_out, data_segs_in, data_segs_out;
	uint64_t last_data_recv_us, last_ack_recv_us;

	struct trace_log trace;
};

/* port -> conns bound to it */
struct tcp_bind_bucket {
	uint16_t port;
	UT_hash_handle hh;
	struct tcp_conn *conns;       /* DL list through bind_next/bind_prev */
};

struct tcp_listen_entry {
	uint16_t port;
	UT_hash_handle hh;
	struct tcp_conn *first;       /* chain through listen_next */
};

struct tcp_table {
	struct tcp_conn *conns;       /* uthash by tuple */
	struct tcp_bind_bucket *buckets;
	struct tcp_listen_entry *listeners;
	uint32_t port_counter;        /* RFC 6056 algorithm 3 "next_ephemeral" */
	struct tcp_conn *accepting;   /* handed to tcp_create() by accept() through sock_new */
	uint32_t nconns;
};

/* ---- tcp.c ---- */
const char *tcp_state_name(enum tcp_state s);
void tcp_set_state(struct tcp_conn *c, enum tcp_state s);
/* The connection failed or was reset: record err (positive errno) for the application. */
void tcp_conn_error(struct tcp_conn *c, int err);
/* Enter CLOSED for good (reset, timeout, LAST_ACK acknowledged …): timers off, unhashed. */
void tcp_conn_done(struct tcp_conn *c);
/* Free c if nothing refers to it any more (CLOSED and no sock, not queued). */
void tcp_conn_reap(struct tcp_conn *c);
struct tcp_conn *tcp_conn_alloc(struct ustack *st, struct sock *s);
int tcp_conn_hash(struct tcp_conn *c);
struct tcp_conn *tcp_conn_lookup(struct ustack *st, const struct tcp_tuple *t);
struct tcp_conn *tcp_listener_lookup(struct ustack *st, uint32_t local_ip, uint16_t port);
uint32_t tcp_isn(struct ustack *st, const struct tcp_tuple *t);
uint32_t tcp_ts_offset(struct ustack *st, const struct tcp_tuple *t);
int tcp_conn_buffers(struct tcp_conn *c, int rcvbuf, int sndbuf);
void tcp_conn_init_mss(struct tcp_conn *c);
void tcp_trace_open(struct tcp_conn *c);
/* A readiness change may be visible to the application. */
void tcp_wake(struct tcp_conn *c, bool new_data);
/* A child reached ESTABLISHED: queue it for accept() (false: the accept queue is full). */
bool tcp_child_established(struct tcp_conn *c);
/* Inherit a listener's options into a new child. */
void tcp_child_inherit(struct tcp_conn *child, const struct tcp_conn *listener);
void tcp_child_unlink(struct tcp_conn *c);
/* A child takes the listener's port (its bind bucket). */
int tcp_child_bind(struct tcp_conn *c, struct tcp_conn *l);

struct tcp_info;
void tcp_fill_info(const struct tcp_conn *c, struct tcp_info *ti);
/* The connection attempt failed or the connection died: report err, CLOSED. */
void tcp_conn_abort(struct tcp_conn *c, int err);
void tcp_conn_cc_init(struct tcp_conn *c);
uint32_t tcp_conn_cwnd_segs(const struct tcp_conn *c);
uint32_t tcp_conn_ssthresh_segs(const struct tcp_conn *c);
/* The effective send MSS after the handshake (peer MSS, MTU, timestamps, TCP_MAXSEG). */
void tcp_conn_set_snd_mss(struct tcp_conn *c);
/* Receive buffer autotuning after the application read n bytes. */
void tcp_rcvbuf_autotune(struct tcp_conn *c, size_t n);
/* Send buffer autotuning (cwnd grew). */
void tcp_sndbuf_autotune(struct tcp_conn *c);

/* ---- tcp_in.c ---- */
int tcp_parse(const uint8_t *h, size_t len, const struct ipv4_info *ip, struct tcp_seg *seg);
/* Take what the peer's SYN (or SYN-ACK) negotiated. */
void tcp_apply_syn_options(struct tcp_conn *c, const struct tcp_seg *seg);

void tcp_input_listen(struct ustack *st, struct tcp_conn *l, const struct tcp_seg *seg,
		      const uint8_t *opts, size_t optlen);
/* A recovery or RTO episode begins: save the window for undo (RFC 2883 §4, RFC 3522). An RTO
 * during an episode keeps the first one's saved window. */
void tcp_undo_start(struct tcp_conn *c);
/* RFC 8985 §6.2 step 5 and the response: mark what RACK deems lost, enter recovery or send
 * the retransmissions, (re)arm the reordering timer. */
void tcp_rack_check(struct tcp_conn *c);
/* RFC 8985 §7.2: (re)arm the probe timeout when a TLP may be sent, else disarm it. */
void tcp_tlp_schedule(struct tcp_conn *c);
/* RFC 8985 §7.3: the probe timeout expired: send new data or retransmit the last segment. */
void tcp_tlp_expired(struct tcp_conn *c);
/* Set the reordering degree (DupThresh), clamped to 1..TCP_MAX_REORDERING, and trace it. */
void tcp_set_reordering(struct tcp_conn *c, uint32_t degree, const char *why);

/* ---- tcp_out.c ---- */
void tcp_trace_segment(struct tcp_conn *c, const char *dir, uint8_t flags, uint32_t seq,
		       uint32_t ack, uint32_t win, uint32_t len, const uint8_t *opts, size_t optlen);
void tcp_send_dupack(struct tcp_conn *c, const struct tcp_seg *seg);
void tcp_sack_recovery_send(struct tcp_conn *c);
/* Persist: one byte of new data beyond a zero window (RFC 9293 §3.8.6.1). */
void tcp_send_window_probe(struct tcp_conn *c);
/* Send what the windows, Nagle and cork allow, and an ACK if one is owed now. */
void tcp_output(struct tcp_conn *c);
/* Send a segment with no data (flags; SYN segments carry the SYN options). */
int tcp_send_ctl(struct tcp_conn *c, uint8_t flags, uint32_t seq);
void tcp_send_ack(struct tcp_conn *c);
/* RFC 5961 §3.2/§4.2/§5.2: a rate-limited challenge ACK. */
void tcp_send_challenge_ack(struct tcp_conn *c);
/* RFC 9293 §3.10.7.1 reset in reply to seg (never to a RST). */
void tcp_send_reset_reply(struct ustack *st, const struct tcp_seg *seg);
/* An active RST from a connection (abort, linger 0, unread data on close). */
void tcp_send_active_reset(struct tcp_conn *c);
/* Retransmit from snd_una (RTO, fast retransmit): one segment. reason for the trace. */
void tcp_retransmit_one(struct tcp_conn *c, uint32_t seq, uint32_t max_len, const char *reason);
/* Bytes of the send ring ahead of snd_nxt, and the ring's first sequence number. */
uint32_t tcp_sndq_seq(const struct tcp_conn *c);
/* The window we advertise now (bytes, before scaling), SWS-avoiding (RFC 9293 §3.8.6.2.2). */
uint32_t tcp_rcv_window(struct tcp_conn *c);
uint32_t tcp_flight(const struct tcp_conn *c);
uint32_t tcp_ts_now(const struct tcp_conn *c);
/* After the app read: send a window update if the window opened a lot. */
void tcp_maybe_window_update(struct tcp_conn *c);

/* ---- tcp_timer.c ---- */
void tcp_timers_init(struct tcp_conn *c);
void tcp_timers_stop(struct tcp_conn *c);
/* The next deadline of the exclusive timer (0: none) and its kind. */
uint64_t tcp_next_deadline(const struct tcp_conn *c, enum tcp_timer_kind *kind);
/* Re-arm the exclusive timer from tcp_next_deadline. */
void tcp_timer_update(struct tcp_conn *c);
/* (Re)start the retransmission timer at now + RTO (with backoff). */
void tcp_rtx_restart(struct tcp_conn *c);
void tcp_rtx_stop(struct tcp_conn *c);
void tcp_dack_schedule(struct tcp_conn *c);
void tcp_dack_cancel(struct tcp_conn *c);
void tcp_enter_time_wait(struct tcp_conn *c);
void tcp_fin_wait_2_entered(struct tcp_conn *c);
void tcp_keepalive_reset(struct tcp_conn *c);
/* Timer expiry handlers (tcp_timer.c calls; tcp_in/out provide the protocol work). */
void tcp_rto_expired(struct tcp_conn *c);
uint64_t tcp_keepalive_deadline(const struct tcp_conn *c);

#endif
