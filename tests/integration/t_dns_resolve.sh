#!/usr/bin/env bash
# t_dns_resolve: the getaddrinfo family over ustack (shim/hooks_dns.c: c-ares on stack sockets)
# against dnsmasq in the peer namespace. Each lookup's output must equal what glibc's own
# resolver prints for it over the kernel stack (same program, same namespace, resolv.conf
# pointing at dnsmasq in a private mount namespace): addresses, socket types, canonical names,
# aliases and the EAI_*/h_errno codes. Then what only ustack does: the query reached dnsmasq
# from ustack's address, /etc/hosts names are answered without the stack, AF_INET6 and passive
# policy, concurrent threads, and bounded failures with the server stopped or silent.
# timeout: 180
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh" "$@"
source "$(dirname "$0")/../lib/net.sh"
need_root
need_cmd ip dnsmasq getent unshare mount
need_build
RESOLVE=$BUILD/tests/tools/resolve
PYTHON=/usr/bin/python3
[[ -x $RESOLVE ]] || die "$RESOLVE missing (make BUILD=${BUILD#"$REPO"/})"
[[ -x $PYTHON ]] || die "$PYTHON missing (Debian's python3)"

# glibc_ref CMD...: CMD in the us namespace over the kernel, glibc resolving through dnsmasq
# (resolv.conf bind-mounted in a private mount namespace). over_ustack CMD...: CMD over ustack
# with USTACK_DNS=dnsmasq. with_hosts FILE CMD...: the same with FILE as /etc/hosts. All bounded.
# shellcheck disable=SC2016  # the single-quoted scripts get their arguments as $0 and $@
glibc_ref() {
    run_timeout 30 ip netns exec "$NS_US" unshare -m --propagation private sh -c \
        'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$T_TMP/resolv.conf" "$@"
}
over_ustack() {
    run_timeout 30 ip netns exec "$NS_US" "$USTACK" run --if "$US_IF" \
        --ip "$US_IP/$NET_PREFIX" --dns "$PEER_IP" -- "$@"
}
# shellcheck disable=SC2016
with_hosts() {
    local hosts=$1
    shift
    run_timeout 30 ip netns exec "$NS_US" unshare -m --propagation private sh -c \
        'mount --bind "$0" /etc/hosts && exec "$@"' "$hosts" \
        "$USTACK" run --if "$US_IF" --ip "$US_IP/$NET_PREFIX" --dns "$PEER_IP" -- "$@"
}
now_ms() { date +%s%3N; }
dns_log() { cat "$(bg_log dnsmasq)"; }

net_setup
# --local makes dnsmasq authoritative for test. and 192.0.2.0/24's reverse zone: unknown names
# are NXDOMAIN (it has no upstream servers).
start_peer_bg dnsmasq dnsmasq --no-daemon --no-resolv --no-hosts --conf-file=/dev/null \
    --listen-address="$PEER_IP" --bind-interfaces --address=/web.test/"$PEER_IP" \
    --local=/test/ --host-record=real.test,192.0.2.1 --cname=alias.test,real.test \
    --host-record=two.test,192.0.2.21 --host-record=two.test,192.0.2.22 \
    --txt-record=txtonly.test,hello --ptr-record=1.2.0.192.in-addr.arpa,web.test \
    --local=/2.0.192.in-addr.arpa/ --pid-file="$T_TMP/dnsmasq.pid" --user=root --group=root \
    --log-queries --log-facility=-
wait_port_peer 53 udp 10 || die "dnsmasq did not start: $(dns_log)"
echo "nameserver $PEER_IP" >"$T_TMP/resolv.conf"

# Lookups compared with glibc. One per line: the resolve arguments (or "getent …", "python").
# dnsmasq rotates two.test's two addresses from one answer to the next, so for the cases marked
# "sort:" the lines are compared in sorted order.
CASES=(
    "web.test"
    "-F canonname,addrconfig -s http alias.test"
    "sort:-t stream -s 8080 two.test"
    "-t dgram -F canonname web.test"
    "nosuch.test"
    "-F canonname web.test. WEB.TEST a..b 127.1"
    "-t stream 1.2.3.4x"
    "-f inet txtonly.test"
    "-s no-such-service web.test"
    "-t raw -s 80 web.test"
    "-F numerichost web.test"
    "-F numericserv -s http web.test"
    "-m ghbn alias.test"
    "-m ghbn web.test nosuch.test"
    "-m ghbn2_r web.test txtonly.test"
    "-m ghbn_r -b 16 web.test"
    "-m ghba 192.0.2.1"
    "-m ghba_r 192.0.2.99"
    "-m gni -s 80 192.0.2.1"
    "-m gni -F namereqd 192.0.2.99"
    "-m gni -F numericserv -s 53 192.0.2.99"
    "localhost"
    "-m ghbn localhost"
    "getent ahosts web.test"
    "getent ahostsv4 alias.test"
    "getent hosts web.test"
    "getent hosts alias.test"
    "getent hosts 192.0.2.1"
    "python"
)
PY_PROG='
import socket
for f in (lambda: socket.gethostbyname("web.test"),
          lambda: socket.gethostbyname_ex("alias.test"),
          lambda: sorted(socket.getaddrinfo("two.test", 80, type=socket.SOCK_STREAM)),
          lambda: socket.getaddrinfo("web.test", "http", socket.AF_INET, socket.SOCK_DGRAM, 0,
                                     socket.AI_CANONNAME),
          lambda: socket.gethostbyaddr("192.0.2.1"),
          lambda: socket.getnameinfo(("192.0.2.1", 80), 0),
          lambda: socket.getaddrinfo("nosuch.test", 80),
          lambda: socket.gethostbyname("nosuch.test")):
    try:
        print(f())
    except OSError as e:
        print(type(e).__name__, e.errno)
'
run_case() {
    local runner=$1 args=$2
    if [[ $args == sort:* ]]; then
        run_case "$runner" "${args#sort:}" | sort
        return
    fi
    if [[ $args == python ]]; then
        "$runner" "$PYTHON" -c "$PY_PROG" 2>&1
    elif [[ $args == getent* ]]; then
        # shellcheck disable=SC2086
        "$runner" $args 2>&1
    else
        # shellcheck disable=SC2086
        "$runner" "$RESOLVE" $args 2>&1
    fi
    echo "exit $?"
}

# 1. The reference: glibc over the kernel (kernel address on us0 for this phase only).
kernel_addr_on
declare -a REF=()
for i in "${!CASES[@]}"; do
    REF[i]=$(run_case glibc_ref "${CASES[i]}" || true)
done
kernel_addr_off
grep -q 'web.test: 192.0.2.1 port 0 STREAM' <<<"${REF[0]}" ||
    die "glibc over the kernel could not resolve web.test: ${REF[0]}"
pass kernel_reference

# 2. The same lookups over ustack.
for i in "${!CASES[@]}"; do
    got=$(run_case over_ustack "${CASES[i]}" || true)
    if [[ $got == "${REF[i]}" ]]; then
        pass "same_as_glibc: ${CASES[i]}"
    else
        fail "same_as_glibc: ${CASES[i]}" "over ustack:
$got
glibc over the kernel:
${REF[i]}" || true
    fi
done

# 3. The queries went over ustack (from its address, not the kernel's).
n=$(dns_log | grep -c 'query\[A\] web\.test from 192\.0\.2\.2' || true)
((n >= 1)) && pass dnsmasq_saw_ustack_queries ||
    fail dnsmasq_saw_ustack_queries "no A query for web.test from $US_IP in the dnsmasq log" || true

# 4. /etc/hosts first: localhost and a name only in a (test-private) hosts file resolve with no
# DNS query and without starting the stack (no start-up banner at USTACK_LOG=info).
printf '127.0.0.1 localhost\n192.0.2.77 hostsonly.test hostsalias.test\n' >"$T_TMP/hosts"
before=$(dns_log | wc -l)
out=$(USTACK_LOG=info with_hosts "$T_TMP/hosts" "$RESOLVE" -F canonname -t stream \
    hostsalias.test localhost 2>&1) || true
expect_eq hosts_file_lookup "$out" "hostsalias.test: 192.0.2.77 port 0 STREAM proto 6 canon hostsonly.test
localhost: 127.0.0.1 port 0 STREAM proto 6 canon localhost" || true
after=$(dns_log | wc -l)
expect_eq hosts_file_no_dns_traffic "$((after - before))" 0 || true

# 5. Policy: AF_INET6 names are not found (IPv4-only stack); a passive NULL host is 0.0.0.0 only.
out=$(over_ustack "$RESOLVE" -f inet6 web.test 2>&1 || true)
expect_eq inet6_name_is_eai_noname "$out" "web.test: EAI_NONAME" || true
out=$(over_ustack "$RESOLVE" -m ghbn2 -f inet6 web.test 2>&1 || true)
expect_eq inet6_gethostbyname2_not_found "$out" "web.test: HOST_NOT_FOUND" || true
out=$(over_ustack "$RESOLVE" -F passive -t stream -s 8080 - 2>&1 || true)
expect_eq passive_null_host_ipv4_only "$out" "-: 0.0.0.0 port 8080 STREAM proto 6" || true
out=$(over_ustack "$RESOLVE" -t stream 192.0.2.5 2>&1 || true)
expect_eq numeric_host "$out" "192.0.2.5: 192.0.2.5 port 0 STREAM proto 6" || true

# 6. Threads: 8 threads resolving at once all get the single-thread answer (names with one
# address: two.test rotates).
single=$(over_ustack "$RESOLVE" web.test alias.test nosuch.test real.test txtonly.test 2>&1 || true)
status=0
multi=$(over_ustack "$RESOLVE" -j 8 web.test alias.test nosuch.test real.test txtonly.test 2>&1) ||
    status=$?
if ((status == 2)) && [[ $multi == "$single" ]]; then
    pass threads_agree
else
    fail threads_agree "exit $status (want 2: nosuch.test fails):
$multi
single thread:
$single" || true
fi

# 7. A silent nameserver (no host at 192.0.2.9): EAI_AGAIN after c-ares's bounded retries
# (2 s + 4 s), not glibc's 10 s and never hanging.
start=$(now_ms)
out=$(run_timeout 30 ip netns exec "$NS_US" "$USTACK" run --if "$US_IF" --ip "$US_IP/$NET_PREFIX" \
    --dns 192.0.2.9 -- "$RESOLVE" web.test 2>&1 || true)
secs=$((($(now_ms) - start) / 1000))
expect_eq silent_server_eai_again "$out" "web.test: EAI_AGAIN" || true
((secs <= 9)) && pass "silent_server_bounded (${secs}s)" ||
    fail silent_server_bounded "took ${secs}s" || true

# 8. dnsmasq stopped: the peer answers ICMP port unreachable, so EAI_AGAIN comes quickly, as
# from glibc.
stop_bg dnsmasq
start=$(now_ms)
out=$(over_ustack "$RESOLVE" web.test 2>&1 || true)
secs=$((($(now_ms) - start) / 1000))
expect_eq stopped_server_eai_again "$out" "web.test: EAI_AGAIN" || true
((secs <= 9)) && pass "stopped_server_bounded (${secs}s)" ||
    fail stopped_server_bounded "took ${secs}s" || true
kernel_addr_on
ref=$(glibc_ref "$RESOLVE" web.test 2>&1 || true)
kernel_addr_off
expect_eq stopped_server_same_as_glibc "$out" "$ref" || true

# (Every output above is compared exactly, so a sanitizer report would show as a failure.)
finish
