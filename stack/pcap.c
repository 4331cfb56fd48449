#include "pcap.h"

#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>

struct pcap_writer {
	pcap_t *handle;
	pcap_dumper_t *dumper;
};

struct pcap_writer *pcap_writer_open(const char *path, char *err, size_t errlen)
{
	struct pcap_writer *w = calloc(1, sizeof(*w));

	if (!w) {
		snprintf(err, errlen, "out of memory opening the pcap file");
		return NULL;
	}
	/* 256 KiB snap length: received TSO frames reach ~64 KiB */
	w->handle = pcap_open_dead(DLT_EN10MB, 262144);
	if (w->handle)
		w->dumper = pcap_dump_open(w->handle, path);
	if (!w->dumper) {
		snprintf(err, errlen, "cannot write pcap file %s (USTACK_PCAP / --pcap): %s", path,
			 w->handle ? pcap_geterr(w->handle) : "pcap_open_dead failed");
		if (w->handle)
			pcap_close(w->handle);
		free(w);
		return NULL;
	}
	return w;
}

void pcap_writer_frame(struct pcap_writer *w, const uint8_t *frame, size_t len)
{
	struct pcap_pkthdr hdr;

	gettimeofday(&hdr.ts, NULL);
	hdr.caplen = (bpf_u_int32)len;
	hdr.len = (bpf_u_int32)len;
	pcap_dump((u_char *)w->dumper, &hdr, frame);
}

void pcap_writer_flush(struct pcap_writer *w)
{
	pcap_dump_flush(w->dumper);
}

void pcap_writer_close(struct pcap_writer *w)
{
	if (!w)
		return;
	pcap_dump_close(w->dumper);
	pcap_close(w->handle);
	free(w);
}
