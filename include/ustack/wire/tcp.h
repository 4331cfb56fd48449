/*
 * TCP header layout (RFC 9293 §3.1) and option formats (RFC 9293 §3.2, RFC 7323, RFC 2018).
 * Offsets are from the start of the TCP header; read the fields with wire_get16/32 (bytes.h)
 * after checking the length. Names avoid <linux/tcp.h>'s TCP_FLAG_* and <netinet/tcp.h>'s TH_*.
 */
#ifndef USTACK_WIRE_TCP_H
#define USTACK_WIRE_TCP_H

#include <stdint.h>

#define TCP_HDR_MIN 20         /* header without options */
#define TCP_HDR_MAX 60         /* data offset 15 words */
#define TCP_OPT_SPACE_MAX 40

/* field offsets */
#define TCP_OFF_SPORT 0
#define TCP_OFF_DPORT 2
#define TCP_OFF_SEQ 4
#define TCP_OFF_ACK 8
#define TCP_OFF_DOFF 12        /* high nibble: header length in 32-bit words */
#define TCP_OFF_FLAGS 13
#define TCP_OFF_WIN 14
#define TCP_OFF_CSUM 16
#define TCP_OFF_URG 18

/* control bits (byte at TCP_OFF_FLAGS) */
#define TCP_FL_FIN 0x01u
#define TCP_FL_SYN 0x02u
#define TCP_FL_RST 0x04u
#define TCP_FL_PSH 0x08u
#define TCP_FL_ACK 0x10u
#define TCP_FL_URG 0x20u
#define TCP_FL_ECE 0x40u
#define TCP_FL_CWR 0x80u

/* option kinds and lengths */
#define TCP_OPT_EOL 0
#define TCP_OPT_NOP 1
#define TCP_OPT_MSS 2          /* RFC 9293 §3.2, length 4 */
#define TCP_OPT_MSS_LEN 4
#define TCP_OPT_WS 3           /* RFC 7323 §2, length 3, shift <= 14 */
#define TCP_OPT_WS_LEN 3
#define TCP_OPT_SACK_PERM 4    /* RFC 2018 §2, length 2 */
#define TCP_OPT_SACK_PERM_LEN 2
#define TCP_OPT_SACK 5         /* RFC 2018 §3, 2 + 8·n */
#define TCP_OPT_TS 8           /* RFC 7323 §3, length 10 */
#define TCP_OPT_TS_LEN 10

#define TCP_WS_MAX 14          /* RFC 7323 §2.3 */
#define TCP_MAX_WIN_UNSCALED 65535u

static inline unsigned tcp_hdr_len(const uint8_t *h) { return (unsigned)(h[TCP_OFF_DOFF] >> 4) * 4u; }

#endif
