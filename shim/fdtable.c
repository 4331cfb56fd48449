/* The shim's fd table (see fdtable.h). Self-contained: no libc hooks and no stack calls of its
 * own (only the callbacks), so the unit test links it on its own. */
#include "fdtable.h"

#include <errno.h>
#include <stdlib.h>
#include <uthash.h>

struct fdtable_entry {
	int fd;
	struct shim_sock *sock;
	struct fdtable_entry *sock_next;  /* next fd of the same socket */
	UT_hash_handle hh;                /* in fdtable_entries, by fd */
};

static pthread_rwlock_t fdtable_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct fdtable_entry *fdtable_entries;
static size_t fdtable_entry_count;  /* read without the lock (atomic) */
static struct fdtable_ops fdtable_cb;

static void fdtable_count_update_locked(void)
{
	__atomic_store_n(&fdtable_entry_count, (size_t)HASH_COUNT(fdtable_entries),
			 __ATOMIC_RELEASE);
}

size_t fdtable_count(void)
{
	return __atomic_load_n(&fdtable_entry_count, __ATOMIC_ACQUIRE);
}

void fdtable_hold(struct shim_sock *ss)
{
	__atomic_add_fetch(&ss->refs, 1, __ATOMIC_RELAXED);
}

void fdtable_put(struct shim_sock *ss)
{
	if (__atomic_sub_fetch(&ss->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	if (fdtable_cb.release) {
		fdtable_cb.release(ss);
	} else {
		pthread_mutex_destroy(&ss->leave_lock);
		free(ss);
	}
}

int fdtable_stack_fd(struct shim_sock *ss)
{
	int fd;

	pthread_rwlock_rdlock(&fdtable_lock);
	fd = ss->stack_fd;
	pthread_rwlock_unlock(&fdtable_lock);
	return fd;
}

/* Take e out of the table and out of its socket's list. If the stack used e->fd and the
 * socket has another fd, that one becomes the stack's: returned for the refd callback (which
 * must run after the lock is released); else -1. Write lock held. */
static int fdtable_unlink_locked(struct fdtable_entry *e)
{
	struct shim_sock *ss = e->sock;
	struct fdtable_entry **pp;

	for (pp = &ss->fds; *pp; pp = &(*pp)->sock_next) {
		if (*pp == e) {
			*pp = e->sock_next;
			break;
		}
	}
	HASH_DEL(fdtable_entries, e);
	fdtable_count_update_locked();
	if (ss->stack_fd != e->fd || !ss->fds)
		return -1;
	ss->stack_fd = ss->fds->fd;
	return ss->stack_fd;
}

/* An entry that left the table: move the stack off its fd if needed, drop its reference. */
static void fdtable_entry_gone(struct fdtable_entry *e, int new_stack_fd)
{
	if (new_stack_fd >= 0 && fdtable_cb.refd)
		fdtable_cb.refd(e->sock, new_stack_fd);
	fdtable_put(e->sock);
	free(e);
}

void fdtable_init(const struct fdtable_ops *ops)
{
	struct fdtable_entry *e;

	pthread_rwlock_wrlock(&fdtable_lock);
	fdtable_cb = ops ? *ops : (struct fdtable_ops){ 0 };
	pthread_rwlock_unlock(&fdtable_lock);
	for (;;) {
		pthread_rwlock_wrlock(&fdtable_lock);
		e = fdtable_entries;
		if (e)
			fdtable_unlink_locked(e);
		pthread_rwlock_unlock(&fdtable_lock);
		if (!e)
			break;
		fdtable_entry_gone(e, -1);
	}
}

struct shim_sock *fdtable_sock_new(struct us_sock *us, int type, int fd, bool nonblock)
{
	struct shim_sock *ss = calloc(1, sizeof(*ss));

	if (!ss)
		return NULL;
	ss->us = us;
	ss->type = type;
	ss->refs = 1;
	ss->nonblock = nonblock ? 1 : 0;
	ss->stack_fd = fd;
	pthread_mutex_init(&ss->leave_lock, NULL);
	return ss;
}

int fdtable_add(int fd, struct shim_sock *ss)
{
	struct fdtable_entry *e, *stale;
	int stale_new_fd = -1;

	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->fd = fd;
	e->sock = ss;
	fdtable_hold(ss);
	pthread_rwlock_wrlock(&fdtable_lock);
	HASH_FIND_INT(fdtable_entries, &fd, stale);
	if (stale)
		stale_new_fd = fdtable_unlink_locked(stale);
	HASH_ADD_INT(fdtable_entries, fd, e);
	e->sock_next = ss->fds;
	ss->fds = e;
	fdtable_count_update_locked();
	pthread_rwlock_unlock(&fdtable_lock);
	if (stale)
		fdtable_entry_gone(stale, stale_new_fd);
	return 0;
}

struct shim_sock *fdtable_get(int fd)
{
	struct fdtable_entry *e;
	struct shim_sock *ss = NULL;

	if (fdtable_count() == 0)
		return NULL;
	pthread_rwlock_rdlock(&fdtable_lock);
	HASH_FIND_INT(fdtable_entries, &fd, e);
	if (e) {
		ss = e->sock;
		fdtable_hold(ss);
	}
	pthread_rwlock_unlock(&fdtable_lock);
	return ss;
}

/* The socket's leave_lock orders its fds leaving, so two threads closing two fds of one socket
 * move the stack in the order they removed the entries (the refd calls cannot cross). */
struct shim_sock *fdtable_take(int fd)
{
	struct fdtable_entry *e;
	struct shim_sock *ss;
	int new_stack_fd = -1;

	for (;;) {
		ss = fdtable_get(fd);
		if (!ss)
			return NULL;
		pthread_mutex_lock(&ss->leave_lock);
		pthread_rwlock_wrlock(&fdtable_lock);
		HASH_FIND_INT(fdtable_entries, &fd, e);
		if (e && e->sock == ss)
			break;
		/* fd changed hands between the lookup and the lock (a concurrent dup2): again */
		pthread_rwlock_unlock(&fdtable_lock);
		pthread_mutex_unlock(&ss->leave_lock);
		fdtable_put(ss);
	}
	new_stack_fd = fdtable_unlink_locked(e);
	pthread_rwlock_unlock(&fdtable_lock);
	if (new_stack_fd >= 0 && fdtable_cb.refd)
		fdtable_cb.refd(ss, new_stack_fd);
	pthread_mutex_unlock(&ss->leave_lock);
	free(e);
	fdtable_put(ss);  /* the lookup's; the entry's reference is now the caller's */
	return ss;
}

bool fdtable_remove(int fd)
{
	struct shim_sock *ss = fdtable_take(fd);

	if (!ss)
		return false;
	fdtable_put(ss);
	return true;
}

size_t fdtable_list_range(unsigned int first, unsigned int last, int *out, size_t max)
{
	struct fdtable_entry *e, *tmp;
	size_t n = 0;

	if (fdtable_count() == 0)
		return 0;
	pthread_rwlock_rdlock(&fdtable_lock);
	HASH_ITER(hh, fdtable_entries, e, tmp) {
		if ((unsigned int)e->fd < first || (unsigned int)e->fd > last)
			continue;
		if (n < max)
			out[n] = e->fd;
		n++;
	}
	pthread_rwlock_unlock(&fdtable_lock);
	return n;
}

void fdtable_atfork_prepare(void)
{
	pthread_rwlock_wrlock(&fdtable_lock);
}

void fdtable_atfork_parent(void)
{
	pthread_rwlock_unlock(&fdtable_lock);
}

/* The child has one thread: fresh locks are the safe ones (another thread of the parent may
 * have held a socket's leave_lock at the fork). */
void fdtable_atfork_child(void)
{
	pthread_rwlock_t fresh = PTHREAD_RWLOCK_INITIALIZER;
	struct fdtable_entry *e, *tmp;

	fdtable_lock = fresh;
	HASH_ITER(hh, fdtable_entries, e, tmp)
		pthread_mutex_init(&e->sock->leave_lock, NULL);
}
