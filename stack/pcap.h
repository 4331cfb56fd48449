/* USTACK_PCAP: every frame sent and received, written with libpcap's dump writer. */
#ifndef USTACK_PCAP_H
#define USTACK_PCAP_H

#include <stddef.h>
#include <stdint.h>

struct pcap_writer;

/* Returns NULL and writes one line into err on failure. */
struct pcap_writer *pcap_writer_open(const char *path, char *err, size_t errlen);
void pcap_writer_frame(struct pcap_writer *w, const uint8_t *frame, size_t len);
void pcap_writer_flush(struct pcap_writer *w);
void pcap_writer_close(struct pcap_writer *w);

#endif
