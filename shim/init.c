/*
 * libustack.so start-up: the per-thread guard, the real libc functions, the configuration
 * (read in a constructor), the lazy stack start and fork handling.
 */
#include <dlfcn.h>
#include <link.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"

SHIM_TLS int shim_guard;
bool shim_forked_child;

struct shim_real_table shim_real_fns;
bool shim_real_resolved;

/* Executable segments of libustack.so itself: [shim_text_lo, shim_text_hi). */
static uintptr_t shim_text_lo, shim_text_hi;

static struct us_config shim_config;
static bool shim_config_ok;
static pthread_mutex_t shim_start_lock = PTHREAD_MUTEX_INITIALIZER;
static bool shim_stack_started;       /* this process started its stack (atomic read) */

/* dlsym may allocate (dlerror state) and so call back into anything that allocation calls; the
 * guard sends any such call straight to libc, and a second thread racing here only stores the
 * same pointers. */
void shim_resolve_real(void)
{
	static SHIM_TLS bool resolving;

	if (resolving)
		return;
	resolving = true;
	shim_guard++;
#define SHIM_REAL_LOOKUP(ret, name, args) \
	shim_real_fns.name = (ret(*) args)dlsym(RTLD_NEXT, #name);
	SHIM_REAL_FUNCTIONS(SHIM_REAL_LOOKUP)
#undef SHIM_REAL_LOOKUP
	if (!shim_real_fns.fcntl64)
		shim_real_fns.fcntl64 = shim_real_fns.fcntl;
	__atomic_store_n(&shim_real_resolved, true, __ATOMIC_RELEASE);
	shim_guard--;
	resolving = false;
}

static int shim_find_text(struct dl_phdr_info *info, size_t size, void *data)
{
	uintptr_t self = (uintptr_t)data, lo = UINTPTR_MAX, hi = 0;
	bool mine = false;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t start = info->dlpi_addr + ph->p_vaddr, end = start + ph->p_memsz;

		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		if (self >= start && self < end)
			mine = true;
		if (start < lo)
			lo = start;
		if (end > hi)
			hi = end;
	}
	if (!mine)
		return 0;
	shim_text_lo = lo;
	shim_text_hi = hi;
	return 1;
}

bool shim_addr_is_ours(const void *addr)
{
	return (uintptr_t)addr >= shim_text_lo && (uintptr_t)addr < shim_text_hi;
}

/* Release of a socket's last reference (fdtable.h): the app fd is already closed by then. In a
 * forked child the stack belongs to the parent, so only the shim's record goes. */
static void shim_release_sock(struct shim_sock *ss)
{
	if (!shim_forked_child) {
		shim_guard++;
		us_close(ss->us);
		shim_guard--;
	}
	pthread_mutex_destroy(&ss->leave_lock);
	free(ss);
}

/* The fd the stack used is about to close while the socket lives on through a dup. */
static void shim_refd_sock(struct shim_sock *ss, int new_fd)
{
	if (shim_forked_child)
		return;
	shim_guard++;
	us_sock_refd(ss->us, new_fd);
	shim_guard--;
}

static const struct fdtable_ops shim_fdtable_ops = {
	.release = shim_release_sock,
	.refd = shim_refd_sock,
};

static void shim_atfork_prepare(void)
{
	fdtable_atfork_prepare();
}

static void shim_atfork_parent(void)
{
	fdtable_atfork_parent();
}

static void shim_atfork_child(void)
{
	fdtable_atfork_child();
	if (__atomic_load_n(&shim_stack_started, __ATOMIC_ACQUIRE))
		shim_forked_child = true;
	pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
	shim_start_lock = fresh;
}

static void shim_fatal(const char *msg) __attribute__((noreturn));
static void shim_fatal(const char *msg)
{
	char line[600];
	int n = snprintf(line, sizeof(line), "ustack: %s\n", msg);

	if (n > (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 1;
	if (n > 0 && REAL(write)(2, line, (size_t)n) < 0) {
		/* nothing more to do: stderr is gone */
	}
	_exit(1);
}

/* Configuration errors end the process here, before main(): a program that was meant to run
 * over ustack must not quietly run over the kernel (design.md, "Configuration"). */
__attribute__((constructor(101))) static void shim_init(void)
{
	char err[512] = "";

	shim_guard++;
	shim_resolve_real();
	dl_iterate_phdr(shim_find_text, (void *)(uintptr_t)shim_find_text);
	fdtable_init(&shim_fdtable_ops);
	pthread_atfork(shim_atfork_prepare, shim_atfork_parent, shim_atfork_child);
	if (us_config_from_env(&shim_config, err, sizeof(err)) < 0)
		shim_fatal(err[0] ? err : "bad USTACK_* configuration");
	shim_config_ok = true;
	shim_guard--;
}

static void shim_start_locked(void)
{
	char err[512] = "";
	char desc[256];

	if (!shim_config_ok)
		shim_fatal("the stack was used before its configuration was read");
	if (us_start(&shim_config, err, sizeof(err)) < 0) {
		fprintf(stderr, "ustack: %s\n", err[0] ? err : "cannot start the stack");
		exit(1);
	}
	if (shim_config.log_level >= US_LOG_INFO) {
		us_describe(desc, sizeof(desc));
		fprintf(stderr, "ustack: %s\n", desc);
	}
	__atomic_store_n(&shim_stack_started, true, __ATOMIC_RELEASE);
}

int shim_stack_ensure(void)
{
	static bool warned;

	if (shim_forked_child) {
		if (!warned && shim_config.log_level >= US_LOG_WARN) {
			warned = true;
			fprintf(stderr, "ustack: a process forked from one whose stack runs has no "
				"stack of its own: AF_INET sockets fail with EAFNOSUPPORT (exec a "
				"program to get a fresh stack)\n");
		}
		return -EAFNOSUPPORT;
	}
	if (__atomic_load_n(&shim_stack_started, __ATOMIC_ACQUIRE))
		return 0;
	shim_guard++;
	pthread_mutex_lock(&shim_start_lock);
	if (!shim_stack_started)
		shim_start_locked();
	pthread_mutex_unlock(&shim_start_lock);
	shim_guard--;
	return 0;
}

/* At exit the kernel would close the program's sockets and finish their connections in the
 * background; here the stack ends with the process, so give connections left open (or just
 * closed with data still queued) a bounded time to deliver it and their FIN. */
#define SHIM_EXIT_LINGER_MS 5000

__attribute__((destructor)) static void shim_fini(void)
{
	if (shim_forked_child || !__atomic_load_n(&shim_stack_started, __ATOMIC_ACQUIRE))
		return;
	shim_guard++;
	us_exit(SHIM_EXIT_LINGER_MS);
	shim_guard--;
}
