/*
 * Raw system calls for the stack's own kernel objects (packet socket, readiness mirror).
 * They bypass libc's symbols on purpose: libustack.so interposes socket(), recv(), close() …,
 * and the stack must never re-enter its own hooks.
 */
#ifndef USTACK_SYS_H
#define USTACK_SYS_H

#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static inline int sys_socket(int domain, int type, int protocol)
{ return (int)syscall(SYS_socket, domain, type, protocol); }
static inline int sys_socketpair(int domain, int type, int protocol, int sv[2])
{ return (int)syscall(SYS_socketpair, domain, type, protocol, sv); }
static inline int sys_close(int fd) { return (int)syscall(SYS_close, fd); }
static inline int sys_bind(int fd, const struct sockaddr *a, socklen_t l)
{ return (int)syscall(SYS_bind, fd, a, l); }
static inline int sys_listen(int fd, int backlog) { return (int)syscall(SYS_listen, fd, backlog); }
static inline int sys_connect(int fd, const struct sockaddr *a, socklen_t l)
{ return (int)syscall(SYS_connect, fd, a, l); }
static inline int sys_accept4(int fd, struct sockaddr *a, socklen_t *l, int flags)
{ return (int)syscall(SYS_accept4, fd, a, l, flags); }
static inline ssize_t sys_sendto(int fd, const void *b, size_t n, int flags,
				 const struct sockaddr *a, socklen_t l)
{ return (ssize_t)syscall(SYS_sendto, fd, b, n, flags, a, l); }
static inline ssize_t sys_recvfrom(int fd, void *b, size_t n, int flags, struct sockaddr *a,
				   socklen_t *l)
{ return (ssize_t)syscall(SYS_recvfrom, fd, b, n, flags, a, l); }
static inline ssize_t sys_recvmsg(int fd, struct msghdr *m, int flags)
{ return (ssize_t)syscall(SYS_recvmsg, fd, m, flags); }
static inline int sys_setsockopt(int fd, int level, int name, const void *v, socklen_t l)
{ return (int)syscall(SYS_setsockopt, fd, level, name, v, l); }
static inline int sys_getsockopt(int fd, int level, int name, void *v, socklen_t *l)
{ return (int)syscall(SYS_getsockopt, fd, level, name, v, l); }
static inline int sys_ioctl(int fd, unsigned long req, void *arg)
{ return (int)syscall(SYS_ioctl, fd, req, arg); }
static inline int sys_shutdown(int fd, int how) { return (int)syscall(SYS_shutdown, fd, how); }
static inline int sys_dup3(int oldfd, int newfd, int flags)
{ return (int)syscall(SYS_dup3, oldfd, newfd, flags); }
static inline int sys_fcntl(int fd, int cmd, long arg) { return (int)syscall(SYS_fcntl, fd, cmd, arg); }
static inline int sys_getsockname(int fd, struct sockaddr *a, socklen_t *l)
{ return (int)syscall(SYS_getsockname, fd, a, l); }

#endif
