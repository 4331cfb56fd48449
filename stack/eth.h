/* Ethernet II framing (IEEE 802.3 / RFC 894). */
#ifndef USTACK_ETH_H
#define USTACK_ETH_H

#include <stdint.h>

#include "pkt.h"

struct ustack;

#define ETH_HDR_LEN 14
#define ETH_TYPE_IPV4 0x0800
#define ETH_TYPE_ARP  0x0806
#define ETH_TYPE_RARP 0x8035

extern const uint8_t eth_broadcast_addr[6];

/* Validate and dispatch a received frame (p->data at the Ethernet header). */
void eth_input(struct ustack *st, struct pkt *p);
/* Prepend the Ethernet header and transmit. Consumes p. */
int eth_output(struct ustack *st, struct pkt *p, const uint8_t dst_mac[6], uint16_t ethertype);

#endif
