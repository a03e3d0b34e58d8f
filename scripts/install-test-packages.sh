#!/usr/bin/env bash
# Debian packages the tests run for real: DNS servers (BIND 9 for RFC 2136, PowerDNS with its HTTP
# API for the lexicon adapter), nginx (deployment), OpenSSH's server (the SFTP deployment task) and openssl
# (a private CA, its CRL and OCSP responder for the revocation check). Idempotent and quick once installed.
# Services are never started by the packages: the tests start their own copies on loopback ports.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

PACKAGES=(bind9 bind9-utils bind9-dnsutils pdns-server pdns-backend-sqlite3 sqlite3 nginx-light openssh-server openssl)

missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "test packages already installed"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "need root to install: ${missing[*]}" >&2
    exit 1
fi

# Keep maintainer scripts from starting system-wide daemons (no init system here, and the tests
# run their own instances): policy-rc.d exit 101 means "not allowed".
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    created_policy=1
fi
trap '[ "$created_policy" = 1 ] && rm -f "$policy"' EXIT

apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Stop anything that started anyway, so the packages' own daemons do not hold ports.
for svc in named pdns_server nginx sshd; do
    pkill -x "$svc" 2>/dev/null || true
done
echo "installed: ${missing[*]}"
