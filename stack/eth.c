#include "eth.h"

#include <errno.h>
#include <string.h>

#include "arp.h"
#include "ipv4.h"
#include "stack.h"
#include "ustack/wire/bytes.h"

const uint8_t eth_broadcast_addr[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static bool eth_is_for_us(const struct ustack *st, const uint8_t *dst)
{
	/* ours, broadcast, or multicast (group bit); the packet socket sees everything on the link */
	return memcmp(dst, st->netdev.mac, 6) == 0 || (dst[0] & 1);
}

void eth_input(struct ustack *st, struct pkt *p)
{
	uint16_t ethertype;

	STAT_INC(st, eth_rx);
	if (p->len < ETH_HDR_LEN) {
		STAT_INC(st, eth_drop_short);
		return;
	}
	if (!eth_is_for_us(st, p->data)) {
		STAT_INC(st, eth_drop_not_for_us);
		return;
	}
	ethertype = wire_get16(p->data + 12);
	pkt_pull(p, ETH_HDR_LEN);
	switch (ethertype) {
	case ETH_TYPE_ARP:
		arp_input(st, p);
		break;
	case ETH_TYPE_IPV4:
		ipv4_input(st, p);
		break;
	default:
		STAT_INC(st, eth_drop_ethertype);
		break;
	}
}

int eth_output(struct ustack *st, struct pkt *p, const uint8_t dst_mac[6], uint16_t ethertype)
{
	uint8_t *hdr = pkt_push(p, ETH_HDR_LEN);
	int rc;

	if (!hdr) {
		pkt_free(p);
		return -ENOBUFS;
	}
	memcpy(hdr, dst_mac, 6);
	memcpy(hdr + 6, st->netdev.mac, 6);
	wire_put16(hdr + 12, ethertype);
	rc = netdev_transmit(st, p->data, p->len);
	pkt_free(p);
	return rc;
}
