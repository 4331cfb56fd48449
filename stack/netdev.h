/*
 * Network device: where frames enter and leave the stack.
 *  - packet netdev: an AF_PACKET socket bound to one interface (production);
 *  - memory netdev: transmitted frames are queued in memory for a unit test to inspect.
 * The receive side of the packet netdev is driven by the stack thread's ev_io (stack.c).
 */
#ifndef USTACK_NETDEV_H
#define USTACK_NETDEV_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ustack;

struct netdev_frame {
	struct netdev_frame *next;
	size_t len;
	uint8_t data[];
};

struct netdev {
	bool is_memory;
	int fd;                   /* AF_PACKET socket, -1 for a memory netdev */
	int ifindex;
	char ifname[IF_NAMESIZE];
	uint8_t mac[6];
	int mtu;
	uint8_t *rx_buf;          /* one receive buffer, big enough for a 64 KiB TSO frame */
	size_t rx_cap;
	/* memory netdev: frames "sent", oldest first */
	struct netdev_frame *mem_head, *mem_tail;
	size_t mem_count;
};

#define NETDEV_RX_BUF_SIZE (65536 + 4096)

/* Open an AF_PACKET socket on ifname. On failure returns -errno and writes one line naming the
 * problem and the fix into err. */
int netdev_open_packet(struct netdev *nd, const char *ifname, char *err, size_t errlen);
void netdev_open_memory(struct netdev *nd, const uint8_t mac[6], int mtu);
void netdev_close(struct netdev *nd);

/* Send one frame: counters, pcap, then the device. Returns 0 or -errno. */
int netdev_transmit(struct ustack *st, const uint8_t *frame, size_t len);
/* Read and process every frame waiting on the packet socket (called from the ev_io). */
void netdev_receive_all(struct ustack *st);

/* Memory netdev: take the oldest sent frame into buf; returns its length, 0 if none. */
size_t netdev_memory_pop(struct netdev *nd, uint8_t *buf, size_t cap);
void netdev_memory_clear(struct netdev *nd);

#endif
