#include "netdev.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "log.h"
#include "pkt.h"
#include "pcap.h"
#include "stack.h"
#include "sys.h"

static int netdev_error(char *err, size_t errlen, int e, const char *fmt, const char *ifname)
{
	snprintf(err, errlen, fmt, ifname, strerror(e));
	return -e;
}

static int netdev_query(struct netdev *nd, const char *ifname, char *err, size_t errlen)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (sys_ioctl(nd->fd, SIOCGIFINDEX, &ifr) < 0)
		return netdev_error(err, errlen, errno,
				    "interface '%s' not found (%s): set USTACK_IF / --if to one "
				    "listed by `ip link`", ifname);
	nd->ifindex = ifr.ifr_ifindex;
	if (sys_ioctl(nd->fd, SIOCGIFHWADDR, &ifr) < 0)
		return netdev_error(err, errlen, errno, "cannot read the MAC address of '%s' (%s)",
				    ifname);
	if (ifr.ifr_hwaddr.sa_family != 1 /* ARPHRD_ETHER */) {
		snprintf(err, errlen, "interface '%s' is not an Ethernet interface: choose another "
			 "with USTACK_IF / --if", ifname);
		return -EINVAL;
	}
	memcpy(nd->mac, ifr.ifr_hwaddr.sa_data, 6);
	if (sys_ioctl(nd->fd, SIOCGIFMTU, &ifr) < 0)
		return netdev_error(err, errlen, errno, "cannot read the MTU of '%s' (%s)", ifname);
	nd->mtu = ifr.ifr_mtu;
	if (sys_ioctl(nd->fd, SIOCGIFFLAGS, &ifr) < 0)
		return netdev_error(err, errlen, errno, "cannot read the flags of '%s' (%s)", ifname);
	if (!(ifr.ifr_flags & IFF_UP)) {
		snprintf(err, errlen, "interface '%s' is down: bring it up with `ip link set %s up`",
			 ifname, ifname);
		return -ENETDOWN;
	}
	return 0;
}

static int netdev_configure(struct netdev *nd, char *err, size_t errlen)
{
	struct sockaddr_ll sll;
	int one = 1, rcvbuf = 8 << 20;

	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = nd->ifindex;
	if (sys_bind(nd->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		return netdev_error(err, errlen, errno, "cannot bind a packet socket to '%s' (%s)",
				    nd->ifname);
	/* checksum state of each received frame (TP_STATUS_CSUMNOTREADY / CSUM_VALID) */
	sys_setsockopt(nd->fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one));
	/* our own transmissions are looped back to ETH_P_ALL sockets: don't see them */
	sys_setsockopt(nd->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	if (sys_setsockopt(nd->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		sys_setsockopt(nd->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	return 0;
}

int netdev_open_packet(struct netdev *nd, const char *ifname, char *err, size_t errlen)
{
	int rc;

	memset(nd, 0, sizeof(*nd));
	snprintf(nd->ifname, sizeof(nd->ifname), "%s", ifname);
	nd->fd = sys_socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (nd->fd < 0) {
		int e = errno;
		if (e == EPERM || e == EACCES)
			snprintf(err, errlen, "no permission to open a packet socket (CAP_NET_RAW): run "
				 "as root or `setcap cap_net_raw+ep` the program");
		else
			snprintf(err, errlen, "cannot open a packet socket: %s", strerror(e));
		return -e;
	}
	rc = netdev_query(nd, ifname, err, errlen);
	if (rc == 0)
		rc = netdev_configure(nd, err, errlen);
	if (rc == 0) {
		nd->rx_cap = NETDEV_RX_BUF_SIZE;
		nd->rx_buf = malloc(nd->rx_cap);
		if (!nd->rx_buf) {
			snprintf(err, errlen, "out of memory for the receive buffer");
			rc = -ENOMEM;
		}
	}
	if (rc < 0) {
		sys_close(nd->fd);
		nd->fd = -1;
	}
	return rc;
}

void netdev_open_memory(struct netdev *nd, const uint8_t mac[6], int mtu)
{
	memset(nd, 0, sizeof(*nd));
	nd->is_memory = true;
	nd->fd = -1;
	snprintf(nd->ifname, sizeof(nd->ifname), "mem0");
	memcpy(nd->mac, mac, 6);
	nd->mtu = mtu;
}

void netdev_memory_clear(struct netdev *nd)
{
	while (nd->mem_head) {
		struct netdev_frame *f = nd->mem_head;
		nd->mem_head = f->next;
		free(f);
	}
	nd->mem_tail = NULL;
	nd->mem_count = 0;
}

void netdev_close(struct netdev *nd)
{
	if (nd->fd >= 0)
		sys_close(nd->fd);
	nd->fd = -1;
	free(nd->rx_buf);
	nd->rx_buf = NULL;
	netdev_memory_clear(nd);
}

size_t netdev_memory_pop(struct netdev *nd, uint8_t *buf, size_t cap)
{
	struct netdev_frame *f = nd->mem_head;
	size_t len;

	if (!f)
		return 0;
	nd->mem_head = f->next;
	if (!nd->mem_head)
		nd->mem_tail = NULL;
	nd->mem_count--;
	len = f->len < cap ? f->len : cap;
	memcpy(buf, f->data, len);
	free(f);
	return len;
}

static int netdev_memory_send(struct netdev *nd, const uint8_t *frame, size_t len)
{
	struct netdev_frame *f = malloc(sizeof(*f) + len);   /* test netdev only */

	if (!f)
		return -ENOBUFS;
	f->next = NULL;
	f->len = len;
	memcpy(f->data, frame, len);
	if (nd->mem_tail)
		nd->mem_tail->next = f;
	else
		nd->mem_head = f;
	nd->mem_tail = f;
	nd->mem_count++;
	return 0;
}

int netdev_transmit(struct ustack *st, const uint8_t *frame, size_t len)
{
	struct netdev *nd = &st->netdev;
	int rc = 0;

	if (len > (size_t)nd->mtu + 14) {
		STAT_INC(st, netdev_tx_errors);
		return -EMSGSIZE;
	}
	if (st->pcap)
		pcap_writer_frame(st->pcap, frame, len);
	if (nd->is_memory) {
		rc = netdev_memory_send(nd, frame, len);
	} else {
		ssize_t n;
		do {
			n = sys_sendto(nd->fd, frame, len, 0, NULL, 0);
		} while (n < 0 && errno == EINTR);
		if (n < 0)
			rc = -errno;
	}
	if (rc < 0) {
		STAT_INC(st, netdev_tx_errors);
		return rc;
	}
	STAT_INC(st, netdev_tx_frames);
	STAT_ADD(st, netdev_tx_bytes, len);
	return 0;
}

static uint32_t netdev_aux_flags(struct msghdr *msg)
{
	uint32_t flags = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA ||
		    c->cmsg_len < CMSG_LEN(sizeof(struct tpacket_auxdata)))
			continue;
		struct tpacket_auxdata aux;
		memcpy(&aux, CMSG_DATA(c), sizeof(aux));
		if (aux.tp_status & TP_STATUS_CSUMNOTREADY)
			flags |= PKT_F_CSUM_PARTIAL;
		if (aux.tp_status & TP_STATUS_CSUM_VALID)
			flags |= PKT_F_CSUM_VALID;
	}
	return flags;
}

/* Bounded batch per wake-up so timers and application threads get the lock in between;
 * libev's level-triggered ev_io calls again while frames remain. */
#define NETDEV_RX_BATCH 64

void netdev_receive_all(struct ustack *st)
{
	struct netdev *nd = &st->netdev;
	union {
		char buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
		struct cmsghdr align;
	} control;

	for (int i = 0; i < NETDEV_RX_BATCH; i++) {
		struct sockaddr_ll from;
		struct iovec iov = { nd->rx_buf, nd->rx_cap };
		struct msghdr msg = {
			.msg_name = &from, .msg_namelen = sizeof(from),
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = control.buf, .msg_controllen = sizeof(control.buf),
		};
		ssize_t n = sys_recvmsg(nd->fd, &msg, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				STAT_INC(st, netdev_rx_errors);
			return;
		}
		if (from.sll_pkttype == PACKET_OUTGOING) {
			STAT_INC(st, netdev_rx_own);
			continue;
		}
		if ((size_t)n > nd->rx_cap || (msg.msg_flags & MSG_TRUNC)) {
			STAT_INC(st, netdev_rx_errors);   /* larger than any frame we accept */
			continue;
		}
		STAT_INC(st, netdev_rx_frames);
		STAT_ADD(st, netdev_rx_bytes, (uint64_t)n);
		if (st->pcap)
			pcap_writer_frame(st->pcap, nd->rx_buf, (size_t)n);
		stack_input_frame(st, nd->rx_buf, (size_t)n, netdev_aux_flags(&msg));
	}
}
