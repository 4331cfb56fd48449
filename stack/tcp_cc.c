/*
 * tcp_cc.c - congestion control: shared window arithmetic, Reno and CUBIC
 * (see tcp_cc.h).
 */
#include "tcp_cc.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

static uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }
static uint32_t max_u32(uint32_t a, uint32_t b) { return a > b ? a : b; }

static uint32_t clamp_cwnd(uint64_t cwnd, uint32_t mss)
{
	if (cwnd > TCP_CC_MAX_CWND)
		cwnd = TCP_CC_MAX_CWND;
	return max_u32((uint32_t)cwnd, mss);
}

/* ---- shared arithmetic ------------------------------------------------ */

/* RFC 6928 §2 */
uint32_t tcp_cc_initial_window(uint32_t mss)
{
	uint64_t ten = 10ull * mss, floor_iw = 2ull * mss;

	if (floor_iw < 14600)
		floor_iw = 14600;
	return (uint32_t)(ten < floor_iw ? ten : floor_iw);
}

/* RFC 5681 §3.1 eq. 2 with the RFC 3465 §2.2 limit L. */
uint32_t tcp_cc_slow_start(struct tcp_cc *cc, uint32_t acked)
{
	uint32_t inc = acked;
	uint64_t grown;

	if (cc->ss_limit_segs)
		inc = (uint32_t)(inc < (uint64_t)cc->ss_limit_segs * cc->mss ?
				 inc : (uint64_t)cc->ss_limit_segs * cc->mss);
	grown = (uint64_t)cc->cwnd + inc;
	if (grown < cc->ssthresh) {
		cc->cwnd = clamp_cwnd(grown, cc->mss);
		return 0;
	}
	/* Crossing ssthresh: the rest of this ACK counts for avoidance. */
	acked -= min_u32(acked, cc->ssthresh - cc->cwnd);
	cc->cwnd = clamp_cwnd(cc->ssthresh, cc->mss);
	return acked;
}

/* RFC 5681 §3.1 eq. 4: ssthresh = max(FlightSize / 2, 2 * SMSS). */
static uint32_t half_flight(const struct tcp_cc *cc, uint32_t flight)
{
	return max_u32(flight / 2, 2 * cc->mss);
}

void tcp_cc_init(struct tcp_cc *cc, const struct tcp_cc_ops *ops, uint32_t mss,
		 uint64_t now_us)
{
	memset(cc, 0, sizeof(*cc));
	cc->ops = ops ? ops : tcp_cc_default();
	cc->mss = mss ? mss : 536; /* RFC 9293 §3.7.1 default SMSS */
	cc->cwnd = tcp_cc_initial_window(cc->mss);
	cc->ssthresh = TCP_CC_SSTHRESH_INFINITE;
	cc->ss_limit_segs = TCP_CC_DEFAULT_SS_LIMIT_SEGS;
	cc->ops->init(cc, now_us);
}

int tcp_cc_select(struct tcp_cc *cc, const char *name, uint64_t now_us)
{
	const struct tcp_cc_ops *ops = tcp_cc_find(name);

	if (!ops)
		return -ENOENT;
	if (ops != cc->ops) {
		memset(&cc->u, 0, sizeof(cc->u));
		cc->ops = ops;
		ops->init(cc, now_us);
	}
	return 0;
}

void tcp_cc_set_mss(struct tcp_cc *cc, uint32_t mss)
{
	if (mss == 0)
		return;
	cc->mss = mss;
	cc->cwnd = clamp_cwnd(cc->cwnd, mss);
}

void tcp_cc_on_ack(struct tcp_cc *cc, const struct tcp_cc_ack *ack)
{
	if (cc->in_recovery || !ack->cwnd_limited || ack->acked == 0)
		return;
	cc->ops->on_ack(cc, ack);
}

/* RFC 5681 §3.2 steps 2-3, RFC 6582 §3.2 step 2, RFC 6675 §5 (4.2). */
void tcp_cc_enter_recovery(struct tcp_cc *cc, uint32_t flight, bool sack, uint64_t now_us)
{
	cc->congestion_events++;
	cc->ops->on_congestion_event(cc, flight, now_us);
	cc->in_recovery = true;
	cc->inflating = !sack;
	cc->cwnd = clamp_cwnd((uint64_t)cc->ssthresh + (sack ? 0 : 3ull * cc->mss), cc->mss);
}

/* RFC 5681 §3.2 step 4 (RFC 6582 §3.2 step 3). */
void tcp_cc_on_dupack(struct tcp_cc *cc)
{
	if (cc->in_recovery && cc->inflating)
		cc->cwnd = clamp_cwnd((uint64_t)cc->cwnd + cc->mss, cc->mss);
}

/* RFC 6582 §3.2 step 5, partial acknowledgment. */
void tcp_cc_on_partial_ack(struct tcp_cc *cc, uint32_t acked)
{
	uint64_t cwnd;

	if (!cc->in_recovery || !cc->inflating)
		return;
	cwnd = cc->cwnd > acked ? cc->cwnd - acked : 0;
	if (acked >= cc->mss)
		cwnd += cc->mss;
	cc->cwnd = clamp_cwnd(cwnd, cc->mss);
}

/* RFC 6582 §3.2 step 5, full acknowledgment (option 1). */
void tcp_cc_exit_recovery(struct tcp_cc *cc, uint32_t flight, uint64_t now_us)
{
	if (!cc->in_recovery)
		return;
	cc->cwnd = clamp_cwnd(min_u32(cc->ssthresh, max_u32(flight, cc->mss) + cc->mss),
			      cc->mss);
	cc->in_recovery = false;
	cc->inflating = false;
	cc->ops->on_recovery_exit(cc, now_us);
}

/* RFC 5681 §3.1: ssthresh (eq. 4 or the algorithm's), cwnd = LW = 1 SMSS. */
void tcp_cc_on_rto(struct tcp_cc *cc, uint32_t flight, bool repeated, uint64_t now_us)
{
	cc->rto_events++;
	cc->ops->on_rto(cc, flight, repeated, now_us);
	cc->cwnd = cc->mss;
	cc->in_recovery = false;
	cc->inflating = false;
}

void tcp_cc_save_undo(struct tcp_cc *cc)
{
	cc->undo_cwnd = cc->cwnd;
	cc->undo_ssthresh = cc->ssthresh;
	cc->undo_u = cc->u;
	cc->undo_saved = true;
}

/* RFC 2883 §4 (cwnd and ssthresh back), in the manner of Linux's tcp_undo_cwnd_reduction. */
bool tcp_cc_undo(struct tcp_cc *cc)
{
	if (!cc->undo_saved)
		return false;
	/* an inflated NewReno window counts dupacks, not capacity: take the saved one */
	cc->cwnd = clamp_cwnd(cc->inflating ? cc->undo_cwnd : max_u32(cc->cwnd, cc->undo_cwnd),
			      cc->mss);
	cc->ssthresh = max_u32(cc->ssthresh, cc->undo_ssthresh);
	cc->u = cc->undo_u;
	cc->in_recovery = false;
	cc->inflating = false;
	cc->undo_saved = false;
	return true;
}

/* RFC 5681 §4.1: RW = min(IW, cwnd). */
void tcp_cc_restart_after_idle(struct tcp_cc *cc, uint64_t now_us)
{
	cc->cwnd = min_u32(cc->cwnd, tcp_cc_initial_window(cc->mss));
	cc->ops->on_idle_restart(cc, now_us);
}

void tcp_cc_handshake_retransmitted(struct tcp_cc *cc)
{
	cc->cwnd = cc->mss;
}

/* ---- Reno (RFC 5681, byte counting per RFC 3465) ----------------------- */

static void reno_init(struct tcp_cc *cc, uint64_t now_us)
{
	(void)now_us;
	cc->u.reno.bytes_acked = 0;
}

/* RFC 5681 §3.1 / RFC 3465 §2.1: one SMSS per cwnd of acknowledged bytes. */
static void reno_on_ack(struct tcp_cc *cc, const struct tcp_cc_ack *ack)
{
	uint32_t acked = ack->acked;

	if (tcp_cc_in_slow_start(cc)) {
		acked = tcp_cc_slow_start(cc, acked);
		if (acked == 0)
			return;
	}
	cc->u.reno.bytes_acked += acked;
	if (cc->u.reno.bytes_acked >= cc->cwnd) {
		cc->u.reno.bytes_acked -= cc->cwnd;
		cc->cwnd = clamp_cwnd((uint64_t)cc->cwnd + cc->mss, cc->mss);
	}
}

static void reno_on_congestion_event(struct tcp_cc *cc, uint32_t flight, uint64_t now_us)
{
	(void)now_us;
	cc->ssthresh = half_flight(cc, flight);
	cc->u.reno.bytes_acked = 0;
}

static void reno_on_rto(struct tcp_cc *cc, uint32_t flight, bool repeated, uint64_t now_us)
{
	(void)now_us;
	if (!repeated)
		cc->ssthresh = half_flight(cc, flight);
	cc->u.reno.bytes_acked = 0;
}

static void reno_on_recovery_exit(struct tcp_cc *cc, uint64_t now_us)
{
	(void)now_us;
	cc->u.reno.bytes_acked = 0;
}

static void reno_on_idle_restart(struct tcp_cc *cc, uint64_t now_us)
{
	(void)now_us;
	cc->u.reno.bytes_acked = 0;
}

const struct tcp_cc_ops tcp_cc_reno_ops = {
	.name = "reno",
	.init = reno_init,
	.on_ack = reno_on_ack,
	.on_congestion_event = reno_on_congestion_event,
	.on_rto = reno_on_rto,
	.on_recovery_exit = reno_on_recovery_exit,
	.on_idle_restart = reno_on_idle_restart,
};

/* ---- CUBIC (RFC 9438) -------------------------------------------------- */

#define CUBIC_C 0.4     /* RFC 9438 §5.1 */
#define CUBIC_BETA 0.7  /* RFC 9438 §4.6 */

/* RFC 9438 §4.2 Figure 1: W_cubic(t) = C (t - K)^3 + W_max, segments. */
static double cubic_w(const struct tcp_cc_cubic *cu, double t)
{
	double d = t - cu->k;

	return CUBIC_C * d * d * d + cu->w_max;
}

/*
 * Cube root of x >= 0 without libm (the shim must not pull in libm): scale x
 * into [1, 8) by powers of 8, then Newton's iteration.  Called once per
 * avoidance stage.
 */
static double cubic_cbrt(double x)
{
	double scale = 1.0, y = 1.5;

	if (x <= 0)
		return 0;
	while (x >= 8.0) {
		x /= 8.0;
		scale *= 2.0;
	}
	while (x < 1.0) {
		x *= 8.0;
		scale /= 2.0;
	}
	for (int i = 0; i < 8; i++)
		y = (2.0 * y + x / (y * y)) / 3.0;
	return y * scale;
}

static void cubic_init(struct tcp_cc *cc, uint64_t now_us)
{
	(void)now_us;
	memset(&cc->u.cubic, 0, sizeof(cc->u.cubic));
}

/*
 * RFC 9438 §4.2: a congestion avoidance stage begins.  After a congestion
 * event K = cbrt((W_max - cwnd_epoch) / C); when there is no W_max to climb
 * back to (first stage after slow start §4.10, after a timeout §4.8) or the
 * window is already above it, K = 0 and W_max = cwnd_epoch.
 */
static void cubic_start_epoch(struct tcp_cc *cc, uint64_t now_us)
{
	struct tcp_cc_cubic *cu = &cc->u.cubic;

	cu->t_epoch_us = now_us;
	cu->cwnd_epoch = (double)cc->cwnd / cc->mss;
	cu->w_est = cu->cwnd_epoch; /* §4.3 */
	if (cu->w_max > cu->cwnd_epoch) {
		cu->k = cubic_cbrt((cu->w_max - cu->cwnd_epoch) / CUBIC_C);
	} else {
		cu->k = 0;
		cu->w_max = cu->cwnd_epoch;
	}
	if (cu->cwnd_prior <= 0)
		cu->cwnd_prior = cu->cwnd_epoch;
	cu->carry = 0;
	cu->epoch_started = true;
}

/* Apply growth in (possibly fractional) bytes. */
static void cubic_grow(struct tcp_cc *cc, double bytes)
{
	struct tcp_cc_cubic *cu = &cc->u.cubic;
	double whole;

	cu->carry += bytes;
	if (cu->carry < 1.0)
		return;
	whole = (double)(uint64_t)cu->carry;
	cu->carry -= whole;
	cc->cwnd = clamp_cwnd((uint64_t)cc->cwnd + (uint64_t)whole, cc->mss);
}

static void cubic_on_ack(struct tcp_cc *cc, const struct tcp_cc_ack *ack)
{
	struct tcp_cc_cubic *cu = &cc->u.cubic;
	uint32_t acked = ack->acked;
	double cwnd_seg, segs_acked, t, rtt, w_cubic, target, alpha;

	/* RFC 9438 §4.10: standard slow start below ssthresh */
	if (tcp_cc_in_slow_start(cc)) {
		acked = tcp_cc_slow_start(cc, acked);
		if (acked == 0)
			return;
	}
	if (!cu->epoch_started)
		cubic_start_epoch(cc, ack->now_us);

	cwnd_seg = (double)cc->cwnd / cc->mss;
	segs_acked = (double)acked / cc->mss;
	t = ack->now_us > cu->t_epoch_us ? (ack->now_us - cu->t_epoch_us) / 1e6 : 0.0;
	rtt = (ack->srtt_us ? ack->srtt_us : ack->rtt_us) / 1e6;

	/* §4.3: Reno-friendly estimate; alpha becomes 1 once past cwnd_prior */
	alpha = cu->w_est >= cu->cwnd_prior ?
		1.0 : 3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA);
	cu->w_est += alpha * segs_acked / cwnd_seg;

	w_cubic = cubic_w(cu, t);
	if (w_cubic < cu->w_est) {
		/* §4.3: Reno-friendly region: cwnd follows W_est */
		if (cu->w_est > cwnd_seg)
			cubic_grow(cc, (cu->w_est - cwnd_seg) * cc->mss);
		return;
	}
	/* §4.2 target, §4.4 concave and §4.5 convex: (target - cwnd) / cwnd per
	 * segment acknowledged */
	target = cubic_w(cu, t + rtt);
	if (target < cwnd_seg)
		target = cwnd_seg;
	else if (target > 1.5 * cwnd_seg)
		target = 1.5 * cwnd_seg;
	cubic_grow(cc, (target - cwnd_seg) / cwnd_seg * segs_acked * cc->mss);
}

/* RFC 9438 §4.6: ssthresh = max(flight_size * beta_cubic, 2 * SMSS), in
 * integers so 0.7 * 90000 is 63000, not 62999. */
static uint32_t cubic_reduced(const struct tcp_cc *cc, uint32_t flight)
{
	return max_u32((uint32_t)((uint64_t)flight * 7 / 10), 2 * cc->mss);
}

/* RFC 9438 §4.6 (multiplicative decrease) and §4.7 (fast convergence). */
static void cubic_on_congestion_event(struct tcp_cc *cc, uint32_t flight, uint64_t now_us)
{
	struct tcp_cc_cubic *cu = &cc->u.cubic;
	double cwnd_seg = (double)cc->cwnd / cc->mss;

	(void)now_us;
	if (cu->w_max > 0 && cwnd_seg < cu->w_max)
		cu->w_max = cwnd_seg * (1.0 + CUBIC_BETA) / 2.0;
	else
		cu->w_max = cwnd_seg;
	cu->cwnd_prior = cwnd_seg;
	cc->ssthresh = cubic_reduced(cc, flight);
	cu->epoch_started = false;
}

/* RFC 9438 §4.8: ssthresh as in §4.6; the next avoidance stage starts with
 * K = 0 and W_max = the window at its start. */
static void cubic_on_rto(struct tcp_cc *cc, uint32_t flight, bool repeated, uint64_t now_us)
{
	struct tcp_cc_cubic *cu = &cc->u.cubic;

	(void)now_us;
	if (!repeated) {
		cc->ssthresh = cubic_reduced(cc, flight);
		cu->cwnd_prior = (double)cc->cwnd / cc->mss;
	}
	cu->w_max = 0;
	cu->epoch_started = false;
}

static void cubic_on_recovery_exit(struct tcp_cc *cc, uint64_t now_us)
{
	(void)now_us;
	cc->u.cubic.epoch_started = false;
}

/* RFC 9438 §5.8: time spent idle must not count as growth time. */
static void cubic_on_idle_restart(struct tcp_cc *cc, uint64_t now_us)
{
	(void)now_us;
	cc->u.cubic.epoch_started = false;
}

const struct tcp_cc_ops tcp_cc_cubic_ops = {
	.name = "cubic",
	.init = cubic_init,
	.on_ack = cubic_on_ack,
	.on_congestion_event = cubic_on_congestion_event,
	.on_rto = cubic_on_rto,
	.on_recovery_exit = cubic_on_recovery_exit,
	.on_idle_restart = cubic_on_idle_restart,
};

/* ---- lookup ------------------------------------------------------------ */

static const struct tcp_cc_ops *const cc_table[] = {
	&tcp_cc_cubic_ops,
	&tcp_cc_reno_ops,
};

const struct tcp_cc_ops *tcp_cc_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < sizeof(cc_table) / sizeof(cc_table[0]); i++)
		if (strncmp(cc_table[i]->name, name, TCP_CC_NAME_MAX) == 0)
			return cc_table[i];
	return NULL;
}

const struct tcp_cc_ops *tcp_cc_default(void)
{
	return &tcp_cc_cubic_ops;
}
