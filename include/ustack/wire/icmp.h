/* ICMP message layout (RFC 792). Offsets from the start of the ICMP header. */
#ifndef USTACK_WIRE_ICMP_H
#define USTACK_WIRE_ICMP_H

#define ICMP_OFF_TYPE 0
#define ICMP_OFF_CODE 1
#define ICMP_OFF_CSUM 2
#define ICMP_OFF_ID 4        /* echo: identifier */
#define ICMP_OFF_SEQ 6       /* echo: sequence number */
#define ICMP_OFF_MTU 6       /* destination unreachable, fragmentation needed: next-hop MTU (RFC 1191) */
#define ICMP_OFF_POINTER 4   /* parameter problem: octet pointer */
#define ICMP_HDR_LEN 8       /* type, code, checksum and the 4-byte rest-of-header */

/* Types */
#define ICMP_ECHO_REPLY 0
#define ICMP_DEST_UNREACH 3
#define ICMP_SOURCE_QUENCH 4
#define ICMP_REDIRECT 5
#define ICMP_ECHO_REQUEST 8
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAM_PROBLEM 12
#define ICMP_TIMESTAMP 13
#define ICMP_TIMESTAMP_REPLY 14

/* Destination unreachable codes (RFC 792, RFC 1122 §3.2.2.1, RFC 1812 §5.2.7.1) */
#define ICMP_UNREACH_NET 0
#define ICMP_UNREACH_HOST 1
#define ICMP_UNREACH_PROTO 2
#define ICMP_UNREACH_PORT 3
#define ICMP_UNREACH_NEEDFRAG 4
#define ICMP_UNREACH_SRCFAIL 5
#define ICMP_UNREACH_NET_UNKNOWN 6
#define ICMP_UNREACH_HOST_UNKNOWN 7
#define ICMP_UNREACH_ISOLATED 8
#define ICMP_UNREACH_NET_PROHIB 9
#define ICMP_UNREACH_HOST_PROHIB 10
#define ICMP_UNREACH_TOSNET 11
#define ICMP_UNREACH_TOSHOST 12
#define ICMP_UNREACH_FILTER_PROHIB 13
#define ICMP_UNREACH_HOST_PRECEDENCE 14
#define ICMP_UNREACH_PRECEDENCE_CUTOFF 15

/* Time exceeded codes */
#define ICMP_TIMXCEED_INTRANS 0   /* TTL exceeded in transit */
#define ICMP_TIMXCEED_REASS 1     /* fragment reassembly time exceeded */

#endif
