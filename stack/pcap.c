/*
 * USTACK_PCAP with libpcap's dump writer. libpcap is loaded with dlopen() only when a capture is
 * asked for: linked normally, its dependencies (libdbus, libsystemd, libgcrypt, libgpg-error)
 * would run their constructors in every program ustack is preloaded into — before a sanitizer
 * runtime is ready, which breaks such programs — for a feature most runs do not use.
 */
#include "pcap.h"

#include <dlfcn.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>

struct pcap_api {
	pcap_t *(*open_dead)(int, int);
	pcap_dumper_t *(*dump_open)(pcap_t *, const char *);
	void (*dump)(u_char *, const struct pcap_pkthdr *, const u_char *);
	int (*dump_flush)(pcap_dumper_t *);
	void (*dump_close)(pcap_dumper_t *);
	void (*close)(pcap_t *);
	char *(*geterr)(pcap_t *);
};

struct pcap_writer {
	struct pcap_api api;
	void *lib;
	pcap_t *handle;
	pcap_dumper_t *dumper;
};

static int pcap_load(struct pcap_writer *w, char *err, size_t errlen)
{
	static const char *const names[] = { "libpcap.so.0.8", "libpcap.so.1", "libpcap.so" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !w->lib; i++)
		w->lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
	if (!w->lib) {
		snprintf(err, errlen, "USTACK_PCAP / --pcap needs libpcap: install it with "
			 "`apt-get install libpcap0.8`");
		return -1;
	}
#define PCAP_SYM(field, name) *(void **)&w->api.field = dlsym(w->lib, name)
	PCAP_SYM(open_dead, "pcap_open_dead");
	PCAP_SYM(dump_open, "pcap_dump_open");
	PCAP_SYM(dump, "pcap_dump");
	PCAP_SYM(dump_flush, "pcap_dump_flush");
	PCAP_SYM(dump_close, "pcap_dump_close");
	PCAP_SYM(close, "pcap_close");
	PCAP_SYM(geterr, "pcap_geterr");
#undef PCAP_SYM
	if (!w->api.open_dead || !w->api.dump_open || !w->api.dump || !w->api.dump_flush ||
	    !w->api.dump_close || !w->api.close || !w->api.geterr) {
		snprintf(err, errlen, "the libpcap found lacks the dump writer (pcap_dump_open …)");
		return -1;
	}
	return 0;
}

static void pcap_writer_free(struct pcap_writer *w)
{
	if (w->lib)
		dlclose(w->lib);
	free(w);
}

struct pcap_writer *pcap_writer_open(const char *path, char *err, size_t errlen)
{
	struct pcap_writer *w = calloc(1, sizeof(*w));

	if (!w) {
		snprintf(err, errlen, "out of memory opening the pcap file");
		return NULL;
	}
	if (pcap_load(w, err, errlen) < 0) {
		pcap_writer_free(w);
		return NULL;
	}
	/* 256 KiB snap length: received TSO frames reach ~64 KiB */
	w->handle = w->api.open_dead(DLT_EN10MB, 262144);
	if (w->handle)
		w->dumper = w->api.dump_open(w->handle, path);
	if (!w->dumper) {
		snprintf(err, errlen, "cannot write pcap file %s (USTACK_PCAP / --pcap): %s", path,
			 w->handle ? w->api.geterr(w->handle) : "pcap_open_dead failed");
		if (w->handle)
			w->api.close(w->handle);
		pcap_writer_free(w);
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
	w->api.dump((u_char *)w->dumper, &hdr, frame);
}

void pcap_writer_flush(struct pcap_writer *w)
{
	w->api.dump_flush(w->dumper);
}

void pcap_writer_close(struct pcap_writer *w)
{
	if (!w)
		return;
	w->api.dump_close(w->dumper);
	w->api.close(w->handle);
	pcap_writer_free(w);
}
