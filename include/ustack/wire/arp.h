/* ARP packet layout for IPv4 over Ethernet (RFC 826). Offsets from the start of the ARP header
 * (after the Ethernet header); multi-byte fields big-endian, read through wire/bytes.h. */
#ifndef USTACK_WIRE_ARP_H
#define USTACK_WIRE_ARP_H

#define ARP_OFF_HTYPE 0   /* hardware type (16) */
#define ARP_OFF_PTYPE 2   /* protocol type (16) */
#define ARP_OFF_HLEN 4    /* hardware address length (8) */
#define ARP_OFF_PLEN 5    /* protocol address length (8) */
#define ARP_OFF_OP 6      /* opcode (16) */
#define ARP_OFF_SHA 8     /* sender hardware address (6) */
#define ARP_OFF_SPA 14    /* sender protocol address (4) */
#define ARP_OFF_THA 18    /* target hardware address (6) */
#define ARP_OFF_TPA 24    /* target protocol address (4) */
#define ARP_ETH_IPV4_LEN 28

#define ARP_HTYPE_ETHERNET 1
#define ARP_PTYPE_IPV4 0x0800
#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY 2

#endif
