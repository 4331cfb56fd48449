/*
 * Stack counters: every frame received, sent or dropped is counted, drops by reason.
 * One X-macro list so `ustack stat` (roadmap) can print them by name without another table.
 * Each module owns its block; add lines there, keep names `<module>_<what>`.
 */
#ifndef USTACK_COUNTERS_H
#define USTACK_COUNTERS_H

#include <stdint.h>

#define STACK_COUNTERS(X)                                                        \
	/* netdev / ethernet */                                                  \
	X(netdev_rx_frames) X(netdev_tx_frames) X(netdev_rx_bytes) X(netdev_tx_bytes) \
	X(netdev_rx_errors) X(netdev_tx_errors) X(netdev_rx_own)                  \
	X(eth_rx) X(eth_drop_short) X(eth_drop_not_for_us) X(eth_drop_ethertype)  \
	/* arp */                                                                \
	X(arp_rx) X(arp_tx) X(arp_drop_short) X(arp_drop_bad_format)              \
	X(arp_drop_not_for_us) X(arp_requests_answered) X(arp_replies_rx)         \
	X(arp_resolve_timeouts) X(arp_queue_drops) X(arp_cache_expired)           \
	/* ipv4 */                                                               \
	X(ip_rx) X(ip_tx) X(ip_drop_short) X(ip_drop_version) X(ip_drop_ihl)      \
	X(ip_drop_total_len) X(ip_drop_checksum) X(ip_drop_not_for_us)            \
	X(ip_drop_proto) X(ip_drop_src) X(ip_drop_no_route) X(ip_opts_rx)         \
	X(ip_frag_tx) X(ip_frag_fail)                                            \
	/* ipv4 reassembly */                                                    \
	X(ipfrag_rx) X(ipfrag_reassembled) X(ipfrag_drop_overlap)                 \
	X(ipfrag_drop_timeout) X(ipfrag_drop_mem) X(ipfrag_drop_bad)              \
	X(ipfrag_drop_dup)                                                       \
	/* icmp */                                                               \
	X(icmp_rx) X(icmp_tx) X(icmp_drop_short) X(icmp_drop_checksum)            \
	X(icmp_echo_replied) X(icmp_unreach_rx) X(icmp_unreach_tx)                \
	X(icmp_rate_limited) X(icmp_drop_type)                                    \
	X(icmp_drop_quote) X(icmp_drop_broadcast) X(icmp_time_exceeded_tx)        \
	/* udp */                                                                \
	X(udp_rx) X(udp_tx) X(udp_drop_short) X(udp_drop_checksum)                \
	X(udp_drop_len) X(udp_drop_no_port) X(udp_drop_rcvbuf)                    \
	X(udp_drop_bcast_no_port) X(udp_rx_queued) X(udp_tx_dropped)             \
	X(udp_loopback) X(udp_errors_reported)                                   \
	/* tcp */                                                                \
	X(tcp_rx) X(tcp_tx) X(tcp_drop_short) X(tcp_drop_checksum)                \
	X(tcp_drop_offset) X(tcp_drop_options) X(tcp_drop_no_conn)                \
	X(tcp_rst_tx) X(tcp_rst_rx) X(tcp_active_opens) X(tcp_passive_opens)      \
	X(tcp_retrans) X(tcp_retrans_rto) X(tcp_retrans_fast)                     \
	X(tcp_retrans_sack) X(tcp_ooo_rx) X(tcp_dup_rx) X(tcp_challenge_acks)     \
	X(tcp_drop_paws) X(tcp_drop_out_of_window) X(tcp_listen_overflow)         \
	X(tcp_syn_drop) X(tcp_time_wait_expired) X(tcp_rto_fired)                 \
	X(tcp_zero_window_probes) X(tcp_keepalive_probes)                         \
	X(tcp_reorder_detected) X(tcp_spurious_retrans) X(tcp_undo)             \
	X(tcp_rack_lost) X(tcp_tlp_probes) X(tcp_tlp_recovered)

struct stack_counters {
#define STACK_COUNTER_FIELD(name) uint64_t name;
	STACK_COUNTERS(STACK_COUNTER_FIELD)
#undef STACK_COUNTER_FIELD
};

#define STAT_INC(st, name) ((st)->counters.name++)
#define STAT_ADD(st, name, n) ((st)->counters.name += (n))

#endif
