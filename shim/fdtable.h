/*
 * The shim's fd table: which application fds are ustack sockets.
 *
 * One `struct shim_sock` per ustack socket (per open file description): every fd that refers to
 * it (the first one, and each dup/dup2/dup3/F_DUPFD copy) is a table entry pointing at it.
 * Its reference count is the number of table entries plus the hooked calls in progress on it,
 * so a close() in one thread never frees the socket under a recv() blocked in another; when the
 * count drops to zero the release callback runs (the shim's calls us_close).
 *
 * The stack works on one of the socket's fds (`stack_fd`, us_sock_fd); when that fd leaves the
 * table while others remain, the refd callback moves the stack to another one (us_sock_refd)
 * BEFORE the caller lets the kernel close the number, so the stack never touches an fd number
 * that may already belong to an unrelated file.
 *
 * Lookups are O(1) (uthash) under a read lock, and skip the lock entirely while the table is
 * empty, so a program that has no ustack socket pays one atomic load per call. The table lock is
 * never held while a callback runs (callbacks enter the stack, whose thread may itself be
 * waiting to look an fd up). All functions are thread-safe.
 */
#ifndef USTACK_SHIM_FDTABLE_H
#define USTACK_SHIM_FDTABLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct us_sock;
struct fdtable_entry;

struct shim_sock {
	struct us_sock *us;   /* the stack's socket */
	int type;             /* SOCK_STREAM or SOCK_DGRAM */
	int refs;             /* table entries + calls in progress (atomic) */
	int nonblock;         /* O_NONBLOCK of the open file, shared by its dups (atomic) */
	int stack_fd;         /* the fd the stack uses (table lock) */
	struct fdtable_entry *fds;    /* this socket's entries (table lock) */
	pthread_mutex_t leave_lock;   /* orders fds leaving, so stack_fd moves consistently */
};

struct fdtable_ops {
	/* The last reference is gone: release the socket and free ss. */
	void (*release)(struct shim_sock *ss);
	/* The stack must use new_fd from now on (the old one is about to be closed). */
	void (*refd)(struct shim_sock *ss, int new_fd);
};

/* Set the callbacks (NULL members: free only / nothing). Call before any other function;
 * calling it again empties the table (for tests). */
void fdtable_init(const struct fdtable_ops *ops);

/* A new socket record whose stack fd is fd, with one reference (the caller's; drop it with
 * fdtable_put after fdtable_add). NULL when out of memory. */
struct shim_sock *fdtable_sock_new(struct us_sock *us, int type, int fd, bool nonblock);

/* Make fd refer to ss (takes a new reference). An entry already there for fd is stale (that fd
 * was closed behind the shim's back and reused): it is replaced, its socket moved off fd or
 * released. Returns 0 or -ENOMEM. */
int fdtable_add(int fd, struct shim_sock *ss);

/* The socket behind fd with a reference taken, or NULL if fd is not a ustack socket. */
struct shim_sock *fdtable_get(int fd);
/* Take one more reference on a socket already held. */
void fdtable_hold(struct shim_sock *ss);
/* Drop a reference; the last one runs the release callback. */
void fdtable_put(struct shim_sock *ss);

/* fd is about to be closed: remove its entry (moving the stack to another fd of the socket
 * if it used this one) and return its socket with the entry's reference, now the caller's, to
 * drop with fdtable_put after the kernel closed fd. NULL if fd was not in the table. */
struct shim_sock *fdtable_take(int fd);
/* fdtable_take + fdtable_put. Returns true if fd was in the table. */
bool fdtable_remove(int fd);
/* Every fd with first <= fd <= last, for fdtable_take one by one (close_range). Fills at most
 * max fds into out and returns how many there are in all. */
size_t fdtable_list_range(unsigned int first, unsigned int last, int *out, size_t max);

/* Number of fds in the table. */
size_t fdtable_count(void);
/* The fd the stack uses for ss (for tests and diagnostics). */
int fdtable_stack_fd(struct shim_sock *ss);

/* O_NONBLOCK cache of the open file behind ss. */
static inline bool fdtable_nonblock(const struct shim_sock *ss)
{
	return __atomic_load_n(&ss->nonblock, __ATOMIC_RELAXED) != 0;
}
static inline void fdtable_set_nonblock(struct shim_sock *ss, bool on)
{
	__atomic_store_n(&ss->nonblock, on ? 1 : 0, __ATOMIC_RELAXED);
}

/* fork(): hold the table lock across fork so the child never inherits it locked. */
void fdtable_atfork_prepare(void);
void fdtable_atfork_parent(void);
void fdtable_atfork_child(void);

#endif
