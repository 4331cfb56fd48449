/* USTACK_* environment → struct us_config. Every bad value is one line naming the variable
 * and the fix. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ustack/ustack.h"

static int config_fail(char *err, size_t errlen, const char *fmt, const char *value)
{
	snprintf(err, errlen, fmt, value);
	return -EINVAL;
}

static int parse_ipv4(const char *text, uint32_t *out)
{
	struct in_addr a;

	if (inet_pton(AF_INET, text, &a) != 1)
		return -EINVAL;
	*out = ntohl(a.s_addr);
	return 0;
}

static int parse_uint(const char *text, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!*text)
		return -EINVAL;
	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || *end || v > max || text[0] == '-')
		return -EINVAL;
	*out = v;
	return 0;
}

static int config_ip(struct us_config *cfg, const char *v, char *err, size_t errlen)
{
	char addr[64];
	const char *slash;
	unsigned long prefix = 24;

	if (!v || !*v)
		return config_fail(err, errlen, "USTACK_IP is not set%s: give ustack an address of its "
				   "own, e.g. `ustack run --ip 192.0.2.2/24 -- CMD`", "");
	slash = strchr(v, '/');
	if (strlen(v) >= sizeof(addr))
		return config_fail(err, errlen, "USTACK_IP='%s' is not an IPv4 address/prefix like "
				   "192.0.2.2/24", v);
	snprintf(addr, sizeof(addr), "%.*s", slash ? (int)(slash - v) : (int)strlen(v), v);
	if (parse_ipv4(addr, &cfg->ip) < 0 || (slash && parse_uint(slash + 1, 32, &prefix) < 0) ||
	    prefix == 0 || cfg->ip == 0)
		return config_fail(err, errlen, "USTACK_IP='%s' is not an IPv4 address/prefix like "
				   "192.0.2.2/24", v);
	cfg->prefix_len = (uint8_t)prefix;
	return 0;
}

/* The only interface that is up and not loopback, if there is exactly one. */
static int config_default_if(struct us_config *cfg, char *err, size_t errlen)
{
	struct ifaddrs *list, *ifa;
	char found[IF_NAMESIZE] = "";
	int count = 0;

	if (getifaddrs(&list) < 0)
		return config_fail(err, errlen, "cannot list interfaces%s: set USTACK_IF / --if", "");
	for (ifa = list; ifa; ifa = ifa->ifa_next) {
		if (!ifa->ifa_addr || ifa->ifa_addr->sa_family != AF_PACKET)
			continue;
		if (!(ifa->ifa_flags & IFF_UP) || (ifa->ifa_flags & IFF_LOOPBACK))
			continue;
		if (count++ == 0)
			snprintf(found, sizeof(found), "%s", ifa->ifa_name);
	}
	freeifaddrs(list);
	if (count != 1)
		return config_fail(err, errlen, "USTACK_IF is not set and %s: name the interface with "
				   "USTACK_IF or --if (see `ip link`)",
				   count ? "several interfaces are up" : "no interface is up");
	snprintf(cfg->ifname, sizeof(cfg->ifname), "%s", found);
	return 0;
}

static int config_optional_ip(const char *name, uint32_t *out, char *err, size_t errlen)
{
	const char *v = getenv(name);
	char msg[160];

	if (!v || !*v)
		return 0;
	if (parse_ipv4(v, out) == 0)
		return 0;
	snprintf(msg, sizeof(msg), "%s='%%s' is not an IPv4 address like 192.0.2.1", name);
	return config_fail(err, errlen, msg, v);
}

static int config_optional_uint(const char *name, unsigned long max, unsigned long *out,
				char *err, size_t errlen)
{
	const char *v = getenv(name);
	char msg[160];

	if (!v || !*v)
		return 0;
	if (parse_uint(v, max, out) == 0)
		return 0;
	snprintf(msg, sizeof(msg), "%s='%%s' is not a whole number from 0 to %lu", name, max);
	return config_fail(err, errlen, msg, v);
}

static int config_log_level(struct us_config *cfg, char *err, size_t errlen)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	const char *v = getenv("USTACK_LOG");

	cfg->log_level = US_LOG_WARN;
	if (!v || !*v)
		return 0;
	for (int i = 0; i < 4; i++) {
		if (strcmp(v, names[i]) == 0) {
			cfg->log_level = (enum us_log_level)i;
			return 0;
		}
	}
	return config_fail(err, errlen, "USTACK_LOG='%s' is not one of error, warn, info, debug", v);
}

static void config_copy_path(char *dst, size_t len, const char *name)
{
	const char *v = getenv(name);

	snprintf(dst, len, "%s", v ? v : "");
}

int us_config_from_env(struct us_config *cfg, char *err, size_t errlen)
{
	const char *ifname = getenv("USTACK_IF");
	unsigned long mtu = 0, time_wait = 60000, syn_retries = 6;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	if ((rc = config_log_level(cfg, err, errlen)) < 0)
		return rc;
	if ((rc = config_ip(cfg, getenv("USTACK_IP"), err, errlen)) < 0)
		return rc;
	if (ifname && *ifname) {
		if (strlen(ifname) >= IF_NAMESIZE)
			return config_fail(err, errlen, "USTACK_IF='%s' is too long for an interface "
					   "name (see `ip link`)", ifname);
		snprintf(cfg->ifname, sizeof(cfg->ifname), "%s", ifname);
	} else if ((rc = config_default_if(cfg, err, errlen)) < 0) {
		return rc;
	}
	if ((rc = config_optional_ip("USTACK_GW", &cfg->gateway, err, errlen)) < 0 ||
	    (rc = config_optional_ip("USTACK_DNS", &cfg->dns, err, errlen)) < 0 ||
	    (rc = config_optional_uint("USTACK_MTU", 65535, &mtu, err, errlen)) < 0 ||
	    (rc = config_optional_uint("USTACK_TIME_WAIT", 3600000, &time_wait, err, errlen)) < 0 ||
	    (rc = config_optional_uint("USTACK_SYN_RETRIES", 127, &syn_retries, err, errlen)) < 0)
		return rc;
	if (mtu != 0 && mtu < 576)
		return config_fail(err, errlen, "USTACK_MTU='%s' is below the IPv4 minimum of 576",
				   getenv("USTACK_MTU"));
	cfg->mtu = (int)mtu;
	cfg->time_wait_ms = (uint32_t)time_wait;
	cfg->syn_retries = (uint32_t)syn_retries;
	config_copy_path(cfg->trace_dir, sizeof(cfg->trace_dir), "USTACK_TRACE");
	config_copy_path(cfg->pcap_path, sizeof(cfg->pcap_path), "USTACK_PCAP");
	return 0;
}
