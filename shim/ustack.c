/*
 * ustack — the command line front end.
 *
 *   ustack run [OPTIONS] [--] CMD [ARG...]   run CMD over ustack (LD_PRELOAD=libustack.so)
 *   ustack net up|down|exec|status|list ...  the test network (shim/ustack-net.sh)
 *
 * No stack code is linked in: `run` only checks what it can check before exec (an address is
 * given, the interface exists, the packet socket may be opened, the command exists and can be
 * preloaded), sets USTACK_* and LD_PRELOAD, and execs the command. Values are validated by the
 * library itself when the command starts (one line naming the variable, exit 1).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifndef USTACK_VERSION
#define USTACK_VERSION "0.1.0"
#endif

#define EXIT_USAGE 2
#define EXIT_NOT_FOUND 127
#define EXIT_NOT_EXECUTABLE 126

static void cli_usage(FILE *out)
{
	fprintf(out,
		"usage: ustack run [OPTIONS] [--] CMD [ARG...]\n"
		"       ustack net up|down|exec|status|list [ARG...]\n"
		"       ustack --help | --version\n"
		"\n"
		"run: execute CMD with its TCP/UDP over IPv4 handled by ustack (LD_PRELOAD).\n"
		"  --if IF          interface for the packet socket       (USTACK_IF)\n"
		"  --ip A/N         address/prefix owned by ustack         (USTACK_IP, required)\n"
		"  --gw A           default gateway                        (USTACK_GW)\n"
		"  --mtu N          MTU                                    (USTACK_MTU)\n"
		"  --dns A          nameserver                             (USTACK_DNS)\n"
		"  --trace DIR      per-connection trace logs              (USTACK_TRACE)\n"
		"  --pcap FILE      pcap of every frame                    (USTACK_PCAP)\n"
		"  --log LEVEL      error, warn, info, debug               (USTACK_LOG)\n"
		"  --time-wait MS   TIME_WAIT duration                     (USTACK_TIME_WAIT)\n"
		"Options override the environment. CMD must be dynamically linked and not\n"
		"setuid/setgid (LD_PRELOAD does not reach other programs).\n"
		"\n"
		"net: the test network of two namespaces (see `ustack net --help`).\n");
}

static void cli_die(int status, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
static void cli_die(int status, const char *fmt, ...)
{
	va_list ap;

	fputs("ustack: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

static void cli_usage_error(const char *fmt, const char *arg) __attribute__((noreturn));
static void cli_usage_error(const char *fmt, const char *arg)
{
	fputs("ustack: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\nTry 'ustack --help'.\n", stderr);
	exit(EXIT_USAGE);
}

/* Directory of this executable (resolved through /proc/self/exe). */
static void cli_self_dir(char *dir, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", dir, len - 1);
	char *slash;

	if (n < 0)
		cli_die(1, "cannot read /proc/self/exe: %s", strerror(errno));
	dir[n] = '\0';
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
}

/* The first of DIR/<rel> for each rel that exists, as an absolute path. */
static bool cli_find_beside(const char *const *rels, char *out, size_t len)
{
	char dir[PATH_MAX], path[PATH_MAX + 64];

	cli_self_dir(dir, sizeof(dir));
	for (; *rels; rels++) {
		snprintf(path, sizeof(path), "%s/%s", dir, *rels);
		if (access(path, R_OK) == 0 && realpath(path, out) && strlen(out) < len)
			return true;
	}
	return false;
}

/* ---- run: checks before exec ---- */

static void cli_check_address(void)
{
	const char *ip = getenv("USTACK_IP");

	if (!ip || !*ip)
		cli_die(1, "no address for ustack: give --ip A/N (e.g. --ip 192.0.2.2/24) or set "
			"USTACK_IP");
}

static void cli_check_interface(void)
{
	const char *ifname = getenv("USTACK_IF");

	if (!ifname || !*ifname)
		return;  /* the library picks the only interface that is up, or says why not */
	if (strlen(ifname) >= IF_NAMESIZE || if_nametoindex(ifname) == 0)
		cli_die(1, "interface '%s' does not exist in this network namespace (see `ip link`)",
			ifname);
}

static void cli_check_packet_socket(void)
{
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);

	if (fd >= 0) {
		close(fd);
		return;
	}
	if (errno == EPERM || errno == EACCES)
		cli_die(1, "no permission to open a packet socket (CAP_NET_RAW): run as root or "
			"setcap cap_net_raw");
}

/* PATH search as execvp does; exits 127 (not found) or 126 (not executable) like a shell. */
static void cli_resolve_command(const char *cmd, char *out, size_t len)
{
	const char *path = getenv("PATH"), *p, *end;
	bool denied = false;

	if (strchr(cmd, '/')) {
		if (access(cmd, F_OK) < 0)
			cli_die(EXIT_NOT_FOUND, "%s: no such file", cmd);
		if (access(cmd, X_OK) < 0)
			cli_die(EXIT_NOT_EXECUTABLE, "%s: permission denied", cmd);
		snprintf(out, len, "%s", cmd);
		return;
	}
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; ; p = end + 1) {
		struct stat sb;

		end = strchr(p, ':');
		if (!end)
			end = p + strlen(p);
		snprintf(out, len, "%.*s%s%s", (int)(end - p), p, end > p ? "/" : "", cmd);
		if (stat(out, &sb) == 0 && S_ISREG(sb.st_mode)) {
			if (access(out, X_OK) == 0)
				return;
			denied = true;
		}
		if (!*end)
			break;
	}
	if (denied)
		cli_die(EXIT_NOT_EXECUTABLE, "%s: permission denied", cmd);
	cli_die(EXIT_NOT_FOUND, "%s: command not found", cmd);
}

/* Set-id and file capabilities make the loader run in secure mode, which drops LD_PRELOAD
 * (except where the ids do not change: root running a setuid-root program). */
static void cli_check_secure_exec(const char *cmd, const char *path)
{
	struct stat sb;

	if (stat(path, &sb) < 0)
		return;
	if (((sb.st_mode & S_ISUID) && sb.st_uid != geteuid()) ||
	    ((sb.st_mode & S_ISGID) && sb.st_gid != getegid()))
		cli_die(1, "%s (%s) is setuid/setgid: the dynamic loader ignores LD_PRELOAD for it, "
			"so it cannot run over ustack", cmd, path);
	if (geteuid() != 0 && getxattr(path, "security.capability", NULL, 0) > 0)
		cli_die(1, "%s (%s) has file capabilities: the dynamic loader ignores LD_PRELOAD "
			"for it, so it cannot run over ustack", cmd, path);
}

enum cli_exe_kind { CLI_EXE_OTHER, CLI_EXE_DYNAMIC, CLI_EXE_STATIC, CLI_EXE_SCRIPT };

/* Does the ELF file at fd name a program interpreter (PT_INTERP)? */
static enum cli_exe_kind cli_elf_kind(int fd, const unsigned char *ident)
{
	bool is64 = ident[EI_CLASS] == ELFCLASS64;
	Elf64_Ehdr eh64;
	Elf32_Ehdr eh32;
	uint64_t phoff;
	unsigned phnum, phentsize;

	if (is64) {
		if (pread(fd, &eh64, sizeof(eh64), 0) != (ssize_t)sizeof(eh64))
			return CLI_EXE_OTHER;
		phoff = eh64.e_phoff, phnum = eh64.e_phnum, phentsize = eh64.e_phentsize;
	} else {
		if (pread(fd, &eh32, sizeof(eh32), 0) != (ssize_t)sizeof(eh32))
			return CLI_EXE_OTHER;
		phoff = eh32.e_phoff, phnum = eh32.e_phnum, phentsize = eh32.e_phentsize;
	}
	if (phentsize < (is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)) || phnum > 4096)
		return CLI_EXE_OTHER;
	for (unsigned i = 0; i < phnum; i++) {
		uint32_t type;

		if (pread(fd, &type, sizeof(type), (off_t)(phoff + (uint64_t)i * phentsize)) !=
		    (ssize_t)sizeof(type))
			return CLI_EXE_OTHER;
		if (type == PT_INTERP)
			return CLI_EXE_DYNAMIC;
	}
	return CLI_EXE_STATIC;
}

static enum cli_exe_kind cli_exe_kind(const char *path, char *interp, size_t interp_len)
{
	unsigned char head[256];
	enum cli_exe_kind kind = CLI_EXE_OTHER;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return CLI_EXE_OTHER;
	n = pread(fd, head, sizeof(head) - 1, 0);
	if (n >= EI_NIDENT && memcmp(head, ELFMAG, SELFMAG) == 0) {
		kind = cli_elf_kind(fd, head);
	} else if (n > 2 && head[0] == '#' && head[1] == '!') {
		size_t i = 2, start;

		head[n] = '\0';
		while (head[i] == ' ' || head[i] == '\t')
			i++;
		start = i;
		while (head[i] && head[i] != ' ' && head[i] != '\t' && head[i] != '\n')
			i++;
		snprintf(interp, interp_len, "%.*s", (int)(i - start), (const char *)head + start);
		kind = interp[0] ? CLI_EXE_SCRIPT : CLI_EXE_OTHER;
	}
	close(fd);
	return kind;
}

/* A static program never loads libustack.so; a script is judged by its interpreter. */
static void cli_check_preloadable(const char *cmd, const char *path)
{
	char interp[PATH_MAX], unused[2];

	cli_check_secure_exec(cmd, path);
	switch (cli_exe_kind(path, interp, sizeof(interp))) {
	case CLI_EXE_STATIC:
		cli_die(1, "%s (%s) is statically linked: LD_PRELOAD cannot work for it, so it "
			"cannot run over ustack", cmd, path);
	case CLI_EXE_SCRIPT:
		if (interp[0] == '/' && cli_exe_kind(interp, unused, sizeof(unused)) == CLI_EXE_STATIC)
			cli_die(1, "%s runs under %s, which is statically linked: LD_PRELOAD cannot "
				"work for it, so it cannot run over ustack", cmd, interp);
		break;
	default:
		break;
	}
}

/* ---- run: environment ---- */

static void cli_prepend_preload(const char *lib)
{
	const char *old = getenv("LD_PRELOAD");
	size_t len = strlen(lib) + (old ? strlen(old) : 0) + 2;
	char *value = malloc(len);

	if (!value)
		cli_die(1, "out of memory");
	if (old && *old)
		snprintf(value, len, "%s:%s", lib, old);
	else
		snprintf(value, len, "%s", lib);
	setenv("LD_PRELOAD", value, 1);
	free(value);
}

#ifdef USTACK_SANITIZE
/* A sanitizer build's library needs the sanitizer runtimes loaded first: take the ones this
 * binary is linked with, as /proc/self/maps names them. */
static void cli_preload_sanitizers(void)
{
	static const char *const runtimes[] = { "libubsan.so", "libasan.so" };
	char line[PATH_MAX + 128];
	FILE *maps;

	for (size_t r = 0; r < sizeof(runtimes) / sizeof(runtimes[0]); r++) {
		maps = fopen("/proc/self/maps", "re");
		if (!maps)
			return;
		while (fgets(line, sizeof(line), maps)) {
			char *path = strchr(line, '/'), *base, *nl;

			if (!path)
				continue;
			if ((nl = strchr(path, '\n')))
				*nl = '\0';
			base = strrchr(path, '/') + 1;
			if (strncmp(base, runtimes[r], strlen(runtimes[r])) == 0) {
				cli_prepend_preload(path);
				break;
			}
		}
		fclose(maps);
	}
	setenv("ASAN_OPTIONS", "detect_leaks=0", 0);
}
#endif

static void cli_set_preload(void)
{
	static const char *const rels[] = { "libustack.so", "../lib/libustack.so", NULL };
	char lib[PATH_MAX];

	if (!cli_find_beside(rels, lib, sizeof(lib))) {
		char dir[PATH_MAX];

		cli_self_dir(dir, sizeof(dir));
		cli_die(1, "cannot find libustack.so in %s or %s/../lib", dir, dir);
	}
	cli_prepend_preload(lib);
#ifdef USTACK_SANITIZE
	cli_preload_sanitizers();
#endif
}

static int cli_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "if", required_argument, NULL, 'i' },
		{ "ip", required_argument, NULL, 'a' },
		{ "gw", required_argument, NULL, 'g' },
		{ "mtu", required_argument, NULL, 'm' },
		{ "dns", required_argument, NULL, 'd' },
		{ "trace", required_argument, NULL, 't' },
		{ "pcap", required_argument, NULL, 'p' },
		{ "log", required_argument, NULL, 'l' },
		{ "time-wait", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct { int opt; const char *var; } vars[] = {
		{ 'i', "USTACK_IF" }, { 'a', "USTACK_IP" }, { 'g', "USTACK_GW" },
		{ 'm', "USTACK_MTU" }, { 'd', "USTACK_DNS" }, { 't', "USTACK_TRACE" },
		{ 'p', "USTACK_PCAP" }, { 'l', "USTACK_LOG" }, { 'w', "USTACK_TIME_WAIT" },
	};
	char path[PATH_MAX];
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (c == 'h') {
			cli_usage(stdout);
			return 0;
		}
		if (c == '?' || c == ':') {
			if (optopt && strncmp(argv[optind - 1], "--", 2) == 0)
				cli_usage_error("option '%s' needs a value", argv[optind - 1]);
			cli_usage_error("unknown option '%s' for `ustack run`", argv[optind - 1]);
		}
		for (size_t v = 0; v < sizeof(vars) / sizeof(vars[0]); v++)
			if (vars[v].opt == c)
				setenv(vars[v].var, optarg, 1);
	}
	if (optind >= argc)
		cli_usage_error("%s", "`ustack run` needs a command to run");
	cli_check_address();
	cli_check_interface();
	cli_check_packet_socket();
	cli_resolve_command(argv[optind], path, sizeof(path));
	cli_check_preloadable(argv[optind], path);
	cli_set_preload();
	execv(path, argv + optind);
	cli_die(errno == ENOENT ? EXIT_NOT_FOUND : EXIT_NOT_EXECUTABLE, "cannot run %s: %s",
		argv[optind], strerror(errno));
}

/* ---- net ---- */

static int cli_net(int argc, char **argv)
{
	static const char *const rels[] = { "../shim/ustack-net.sh", "../lib/ustack-net.sh", NULL };
	char script[PATH_MAX];
	char **args = calloc((size_t)argc + 3, sizeof(*args));

	if (!args)
		cli_die(1, "out of memory");
	if (!cli_find_beside(rels, script, sizeof(script)))
		cli_die(1, "cannot find ustack-net.sh (looked in ../shim and ../lib beside the "
			"ustack binary)");
	args[0] = (char *)"bash";
	args[1] = script;
	for (int i = 1; i < argc; i++)
		args[i + 1] = argv[i];
	execvp("bash", args);
	cli_die(1, "cannot run bash: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	if (argc < 2)
		cli_usage_error("%s", "missing command (run or net)");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		cli_usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("ustack %s\n", USTACK_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "run") == 0)
		return cli_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "net") == 0)
		return cli_net(argc - 1, argv + 1);
	if (argv[1][0] == '-')
		cli_usage_error("unknown option '%s'", argv[1]);
	cli_usage_error("unknown command '%s' (run or net)", argv[1]);
}
