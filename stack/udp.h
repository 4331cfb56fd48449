/* UDP (RFC 768, RFC 1122 §4.1). */
#ifndef USTACK_UDP_H
#define USTACK_UDP_H

#include "ipv4.h"
#include "pkt.h"

struct ustack;
struct sock_proto;

int udp_init(struct ustack *st);
void udp_fini(struct ustack *st);
/* p->data at the UDP header. */
void udp_input(struct ustack *st, struct pkt *p, const struct ipv4_info *ip);

extern const struct sock_proto udp_sock_proto;

#endif
