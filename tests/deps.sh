#!/usr/bin/env bash
# tests/deps.sh — install the Debian 12 packages ustack needs to build, test and demo.
# Checks each package with dpkg-query first; runs apt-get (update + install) only for the
# missing ones, non-interactively. Quiet on success: one line.
set -euo pipefail

# Each entry is a package, or alternatives "a|b" (any one installed is enough; the first is
# installed when none is).
PACKAGES=(
    build-essential gcc make pkg-config
    libev-dev uthash-dev libcriterion-dev libpcap-dev libc-ares-dev
    iproute2 iputils-ping ethtool procps psmisc xxd
    curl wget "bind9-dnsutils|dnsutils" socat
    dnsmasq nginx tshark nftables
    python3
)

installed() {
    local status
    status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
    [[ $status == "install ok installed" ]]
}

missing=()
for entry in "${PACKAGES[@]}"; do
    IFS='|' read -r -a alternatives <<<"$entry"
    found=0
    for pkg in "${alternatives[@]}"; do
        if installed "$pkg"; then found=1; break; fi
    done
    ((found)) || missing+=("${alternatives[0]}")
done

if ((${#missing[@]} == 0)); then
    echo "deps: all present"
    exit 0
fi

if [[ $EUID -ne 0 ]]; then
    echo "deps: missing ${missing[*]}; run as root (sudo bash tests/deps.sh) or install them" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
log=$(mktemp /tmp/ustack-deps.XXXXXX.log)

# Answer tshark's question (non-root capture via a setuid dumpcap) in advance: no.
if [[ " ${missing[*]} " == *" tshark "* ]]; then
    echo "wireshark-common wireshark-common/install-setuid boolean false" |
        debconf-set-selections
fi

# Packages such as nginx and dnsmasq start their service on installation; the tests run
# their own instances in namespaces, so keep the service scripts from starting anything
# while we install (only if no policy is in place already).
policy=/usr/sbin/policy-rc.d
own_policy=0
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    own_policy=1
fi
cleanup() {
    if ((own_policy)); then rm -f "$policy"; fi
}
trap cleanup EXIT

apt_opts=(-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
if ! { apt-get update -q && apt-get install "${apt_opts[@]}" --no-install-recommends \
    "${missing[@]}"; } </dev/null >"$log" 2>&1; then
    echo "deps: installing ${missing[*]} failed; last lines of $log:" >&2
    tail -n 20 "$log" >&2
    exit 1
fi
rm -f "$log"
echo "deps: installed ${missing[*]}"
