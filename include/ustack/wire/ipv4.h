/* IPv4 header layout (RFC 791 §3.1). Offsets from the start of the IP header; multi-byte
 * fields big-endian, read through wire/bytes.h after the length has been checked. */
#ifndef USTACK_WIRE_IPV4_H
#define USTACK_WIRE_IPV4_H

#define IPV4_OFF_VER_IHL 0   /* version (high nibble), header length in 32-bit words (low) */
#define IPV4_OFF_TOS 1
#define IPV4_OFF_TOTAL_LEN 2
#define IPV4_OFF_ID 4
#define IPV4_OFF_FRAG 6      /* flags (3 bits) and fragment offset in 8-byte units (13 bits) */
#define IPV4_OFF_TTL 8
#define IPV4_OFF_PROTO 9
#define IPV4_OFF_CSUM 10
#define IPV4_OFF_SRC 12
#define IPV4_OFF_DST 16
#define IPV4_OFF_OPTIONS 20

#define IPV4_HDR_MAX 60
#define IPV4_MAX_DATAGRAM 65535

#define IPV4_FRAG_RF 0x8000u       /* reserved, must be zero */
#define IPV4_FRAG_DF 0x4000u       /* don't fragment */
#define IPV4_FRAG_MF 0x2000u       /* more fragments */
#define IPV4_FRAG_OFFSET_MASK 0x1fffu

#define IPV4_PROTO_ICMP 1
#define IPV4_PROTO_TCP 6
#define IPV4_PROTO_UDP 17

/* RFC 791 §3.2 option types that matter to a host that only skips options */
#define IPV4_OPT_END 0
#define IPV4_OPT_NOP 1

#endif
