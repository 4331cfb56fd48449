/*
 * ARP (RFC 826) for IPv4 over Ethernet: cache with ageing (uthash by IP), resolution with
 * retries (then EHOSTUNREACH to whoever waits, like the kernel), answers for our address,
 * gratuitous ARP at start.
 */
#ifndef USTACK_ARP_H
#define USTACK_ARP_H

#include <stdbool.h>
#include <stdint.h>

#include "pkt.h"

struct ustack;

int arp_init(struct ustack *st);
void arp_fini(struct ustack *st);
/* p->data at the ARP header (Ethernet header already pulled). */
void arp_input(struct ustack *st, struct pkt *p);
/* Send an IPv4 packet (p->data at the IP header) to the on-link next hop: immediately if its
 * MAC is cached, else queued (bounded) while an ARP request goes out. Consumes p. Returns 0,
 * or -EHOSTUNREACH if the next hop is known to be unreachable right now. */
int arp_output(struct ustack *st, struct pkt *p, uint32_t next_hop);
/* Broadcast a gratuitous ARP for our address (at start). */
void arp_announce(struct ustack *st);
/* Look up the cache (tests, diagnostics). */
bool arp_lookup(struct ustack *st, uint32_t ip, uint8_t mac_out[6]);

/* Retry schedule: a request every ARP_RETRY_MS, ARP_MAX_TRIES tries, then unreachable
 * (Linux: 3 tries, 1 s apart). Entries age out after ARP_REACHABLE_MS. */
#define ARP_RETRY_MS 1000
#define ARP_MAX_TRIES 3
#define ARP_REACHABLE_MS 60000
/* Packets waiting per unresolved next hop (the oldest is dropped beyond it). 64 holds one
 * fragmented 64 KiB datagram (45 fragments at MTU 1500), as Linux's unres_qlen_bytes does. */
#define ARP_QUEUE_MAX 64

/* Transport layers are told that a destination could not be resolved: they fail pending
 * connects / mark the error (EHOSTUNREACH) like the kernel. Implemented by udp.c and tcp.c. */
void udp_host_unreachable(struct ustack *st, uint32_t dst);
void tcp_host_unreachable(struct ustack *st, uint32_t dst);

#endif
