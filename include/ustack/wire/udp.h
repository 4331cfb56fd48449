/* UDP header layout (RFC 768). Offsets from the start of the UDP header; multi-byte fields
 * big-endian, read through wire/bytes.h after the length has been checked. */
#ifndef USTACK_WIRE_UDP_H
#define USTACK_WIRE_UDP_H

#define UDP_OFF_SRC_PORT 0
#define UDP_OFF_DST_PORT 2
#define UDP_OFF_LEN 4        /* header + data, in bytes; at least UDP_HDR_LEN */
#define UDP_OFF_CSUM 6       /* 0 = no checksum (RFC 768); a computed 0 is sent as 0xffff */
#define UDP_HDR_LEN 8

/* Largest payload in one IPv4 datagram: 65535 - 20 (IP header) - 8 (UDP header). */
#define UDP_MAX_PAYLOAD 65507

/* Ephemeral port range (Linux's net.ipv4.ip_local_port_range default; RFC 6056 §2.1). */
#define UDP_EPHEMERAL_LOW 32768
#define UDP_EPHEMERAL_HIGH 60999

#endif
