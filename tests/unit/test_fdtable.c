/*
 * Unit tests for the shim's fd table (shim/fdtable.c): add/lookup, dup reference counts, the
 * stack's fd moving when the fd it used closes, stale entries replaced, range listing, and a
 * close racing a call in progress. The table has no libc hooks or stack calls of its own, so
 * it is compiled into this test directly (unit tests link only the stack library); the fake
 * us_sock pointers are never dereferenced.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sys/socket.h>

#include "../../shim/fdtable.c"

#define MAX_EVENTS 32

static struct shim_sock *released[MAX_EVENTS];
static int released_count;
static struct { struct shim_sock *ss; int fd; } refds[MAX_EVENTS];
static int refd_count;

static void record_release(struct shim_sock *ss)
{
	cr_assert_lt(released_count, MAX_EVENTS);
	released[released_count++] = ss;
	pthread_mutex_destroy(&ss->leave_lock);
	free(ss);
}

static void record_refd(struct shim_sock *ss, int new_fd)
{
	cr_assert_lt(refd_count, MAX_EVENTS);
	refds[refd_count].ss = ss;
	refds[refd_count].fd = new_fd;
	refd_count++;
}

static const struct fdtable_ops test_ops = { .release = record_release, .refd = record_refd };

static void setup(void)
{
	released_count = 0;
	refd_count = 0;
	fdtable_init(&test_ops);
}

static void teardown(void)
{
	fdtable_init(NULL);  /* empties the table (freeing records): nothing leaks between tests */
}

static struct us_sock *fake_us(uintptr_t n)
{
	return (struct us_sock *)(0x1000 + n * 16);
}

/* A socket registered on fd as socket() does: new record, add, drop the creator's reference. */
static struct shim_sock *register_sock(int fd, uintptr_t n)
{
	struct shim_sock *ss = fdtable_sock_new(fake_us(n), SOCK_STREAM, fd, false);

	cr_assert_not_null(ss);
	cr_assert_eq(fdtable_add(fd, ss), 0);
	fdtable_put(ss);
	return ss;
}

TestSuite(fdtable, .init = setup, .fini = teardown);

Test(fdtable, empty_lookup_misses)
{
	cr_assert_eq(fdtable_count(), 0);
	cr_assert_null(fdtable_get(3));
	cr_assert_null(fdtable_take(3));
	cr_assert_not(fdtable_remove(3));
}

Test(fdtable, add_then_lookup_finds_socket)
{
	struct shim_sock *ss = register_sock(7, 1), *got;

	cr_assert_eq(fdtable_count(), 1);
	got = fdtable_get(7);
	cr_assert_eq(got, ss);
	cr_assert_eq(got->us, fake_us(1));
	cr_assert_eq(got->refs, 2, "table entry + lookup, got %d", got->refs);
	fdtable_put(got);
	cr_assert_null(fdtable_get(8));
	cr_assert_eq(released_count, 0);
}

Test(fdtable, close_last_fd_releases)
{
	struct shim_sock *ss = register_sock(5, 1);

	cr_assert(fdtable_remove(5));
	cr_assert_eq(fdtable_count(), 0);
	cr_assert_eq(released_count, 1);
	cr_assert_eq(released[0], ss);
	cr_assert_eq(refd_count, 0, "no other fd to move to");
}

Test(fdtable, dup_shares_socket_until_last_close)
{
	struct shim_sock *ss = register_sock(5, 1), *got;

	cr_assert_eq(fdtable_add(9, ss), 0);  /* dup(5) == 9 */
	got = fdtable_get(9);
	cr_assert_eq(got, ss);
	fdtable_put(got);
	cr_assert_eq(ss->refs, 2);
	cr_assert(fdtable_remove(9));
	cr_assert_eq(released_count, 0, "fd 5 still refers to the socket");
	cr_assert_eq(fdtable_get(5), ss);
	fdtable_put(ss);
	cr_assert(fdtable_remove(5));
	cr_assert_eq(released_count, 1);
}

Test(fdtable, closing_stack_fd_moves_stack_to_dup)
{
	struct shim_sock *ss = register_sock(5, 1), *taken;

	cr_assert_eq(fdtable_add(9, ss), 0);
	cr_assert_eq(fdtable_stack_fd(ss), 5);
	taken = fdtable_take(5);
	cr_assert_eq(taken, ss);
	cr_assert_eq(refd_count, 1);
	cr_assert_eq(refds[0].ss, ss);
	cr_assert_eq(refds[0].fd, 9);
	cr_assert_eq(fdtable_stack_fd(ss), 9);
	fdtable_put(taken);
	cr_assert_eq(released_count, 0);
	/* closing a dup the stack does not use moves nothing */
	cr_assert_eq(fdtable_add(11, ss), 0);
	cr_assert(fdtable_remove(11));
	cr_assert_eq(refd_count, 1);
}

Test(fdtable, call_in_progress_keeps_socket_after_close)
{
	struct shim_sock *ss = register_sock(4, 1), *held;

	held = fdtable_get(4);         /* a recv() in progress */
	cr_assert(fdtable_remove(4));  /* close() from another thread */
	cr_assert_null(fdtable_get(4));
	cr_assert_eq(released_count, 0, "released under a call in progress");
	fdtable_put(held);             /* the recv() returns */
	cr_assert_eq(released_count, 1);
	cr_assert_eq(released[0], ss);
}

Test(fdtable, stale_entry_replaced_on_reuse)
{
	struct shim_sock *old = register_sock(6, 1), *fresh;

	/* fd 6 was closed behind the shim's back; a new socket gets number 6 */
	fresh = register_sock(6, 2);
	cr_assert_eq(fdtable_count(), 1);
	cr_assert_eq(released_count, 1);
	cr_assert_eq(released[0], old);
	cr_assert_eq(fdtable_get(6), fresh);
	fdtable_put(fresh);
}

Test(fdtable, stale_entry_with_dup_moves_old_socket)
{
	struct shim_sock *old = register_sock(6, 1), *fresh;

	cr_assert_eq(fdtable_add(8, old), 0);
	fresh = register_sock(6, 2);
	cr_assert_eq(released_count, 0, "old socket still has fd 8");
	cr_assert_eq(refd_count, 1);
	cr_assert_eq(refds[0].ss, old);
	cr_assert_eq(refds[0].fd, 8);
	cr_assert_eq(fdtable_get(8), old);
	fdtable_put(old);
	cr_assert_eq(fdtable_get(6), fresh);
	fdtable_put(fresh);
}

Test(fdtable, list_range_selects_only_range)
{
	int fds[8];
	size_t n;
	bool seen[40] = { false };

	register_sock(3, 1);
	register_sock(10, 2);
	register_sock(20, 3);
	register_sock(30, 4);
	n = fdtable_list_range(10, 20, fds, 8);
	cr_assert_eq(n, 2);
	for (size_t i = 0; i < n; i++)
		seen[fds[i]] = true;
	cr_assert(seen[10] && seen[20] && !seen[3] && !seen[30]);
	cr_assert_eq(fdtable_list_range(31, 100, fds, 8), 0);
	/* more matches than room: the total is reported */
	cr_assert_eq(fdtable_list_range(0, 100, fds, 1), 4);
}

Test(fdtable, nonblock_shared_by_dups)
{
	struct shim_sock *ss = register_sock(5, 1), *a, *b;

	cr_assert_eq(fdtable_add(6, ss), 0);
	a = fdtable_get(5);
	b = fdtable_get(6);
	cr_assert_not(fdtable_nonblock(b));
	fdtable_set_nonblock(a, true);  /* fcntl(5, F_SETFL, O_NONBLOCK) */
	cr_assert(fdtable_nonblock(b));
	fdtable_put(a);
	fdtable_put(b);
}

static int counted_releases;

static void count_release(struct shim_sock *ss)
{
	__atomic_add_fetch(&counted_releases, 1, __ATOMIC_RELAXED);
	pthread_mutex_destroy(&ss->leave_lock);
	free(ss);
}

static const struct fdtable_ops counting_ops = { .release = count_release };

Test(fdtable, many_fds_lookup)
{
	enum { N = 2000 };

	fdtable_init(&counting_ops);
	counted_releases = 0;

	for (int fd = 0; fd < N; fd++)
		register_sock(fd, (uintptr_t)fd);
	cr_assert_eq(fdtable_count(), N);
	for (int fd = N - 1; fd >= 0; fd--) {
		struct shim_sock *ss = fdtable_get(fd);

		cr_assert_not_null(ss);
		cr_assert_eq(ss->us, fake_us((uintptr_t)fd));
		fdtable_put(ss);
	}
	for (int fd = 0; fd < N; fd += 2)
		cr_assert(fdtable_remove(fd));
	cr_assert_eq(fdtable_count(), N / 2);
	cr_assert_eq(counted_releases, N / 2);
}

/* Threads looking fds up and dropping them while the main thread closes them: every socket is
 * released exactly once, after the last lookup let go. */
struct race_arg {
	int first, count;
	int rounds;
};

static void *race_lookups(void *p)
{
	struct race_arg *a = p;

	for (int r = 0; r < a->rounds; r++) {
		for (int fd = a->first; fd < a->first + a->count; fd++) {
			struct shim_sock *ss = fdtable_get(fd);

			if (ss)
				fdtable_put(ss);
		}
	}
	return NULL;
}

Test(fdtable, concurrent_lookup_and_close)
{
	enum { N = 200, THREADS = 4 };
	struct race_arg arg = { .first = 100, .count = N, .rounds = 200 };
	pthread_t t[THREADS];

	fdtable_init(&counting_ops);
	counted_releases = 0;
	for (int fd = 100; fd < 100 + N; fd++)
		register_sock(fd, (uintptr_t)fd);
	for (int i = 0; i < THREADS; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, race_lookups, &arg), 0);
	for (int fd = 100; fd < 100 + N; fd++)
		cr_assert(fdtable_remove(fd));
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(fdtable_count(), 0);
	cr_assert_eq(counted_releases, N);
}
