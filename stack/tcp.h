/* TCP (RFC 9293 and friends): entry points seen by the other modules. */
#ifndef USTACK_TCP_H
#define USTACK_TCP_H

#include "ipv4.h"
#include "pkt.h"

struct ustack;
struct sock_proto;

int tcp_init(struct ustack *st);
void tcp_fini(struct ustack *st);
/* p->data at the TCP header. */
void tcp_input(struct ustack *st, struct pkt *p, const struct ipv4_info *ip);

extern const struct sock_proto tcp_sock_proto;

/* Connections still delivering data or a FIN (not yet FIN_WAIT_2, TIME_WAIT or CLOSED). */
unsigned tcp_unfinished(struct ustack *st);

#endif
