#!/usr/bin/env bash
# Fetch Pebble (ACME test CA) and pebble-challtestsrv into .cache/pebble/.
# Pebble 2.10 comes from Debian sid via a private apt state (scratch dir), so the
# system's sources, lists and package cache are never touched. Falls back to
# `apt-get install pebble` (Debian stable, 2.4.0) if that fails.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/.cache/pebble"
BIN="$DEST/usr/bin"
export DEBIAN_FRONTEND=noninteractive

# Debian's build prints "Pebble version: dev", so the package version is kept in
# $DEST/VERSION (read by tests/servers/pebble.py too).
pebble_version() { sed -E 's/^([0-9.]+).*/\1/' "$DEST/VERSION" 2>/dev/null || true; }

# Fast path: already fetched (VERSION is written last, so it marks a complete fetch).
# Delete .cache/pebble to fetch again, e.g. to replace a stable-fallback install.
if [ -s "$DEST/VERSION" ] && [ -x "$BIN/pebble" ] && [ -x "$BIN/pebble-challtestsrv" ]; then
    echo "pebble $(pebble_version) already in $BIN"
    exit 0
fi

# Debian mirror already configured on this machine (deb822 and one-line formats);
# security/updates and third-party repos are skipped by requiring a path ending in /debian.
find_mirror() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        awk 'tolower($1)=="uris:" { for (i = 2; i <= NF; i++) print $i }' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -r "$f" ] || continue
        # One-line form: deb [options] URI suite components
        sed -E -n 's/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/\2/p' "$f"
    done
}
MIRROR="$(find_mirror | grep -E '^https?://[^ ]*/debian/?$' | head -n1 || true)"
# PEBBLE_MIRROR overrides the detected mirror.
MIRROR="${PEBBLE_MIRROR:-${MIRROR:-http://deb.debian.org/debian}}"
MIRROR="${MIRROR%/}"

fetch_sid() {
    local s opts keyring=""
    s="$(mktemp -d)"
    trap 'rm -rf "$s"' RETURN
    mkdir -p "$s/lists/partial" "$s/cache/archives/partial"
    if [ -r /usr/share/keyrings/debian-archive-keyring.gpg ]; then
        keyring="[signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
    fi
    echo "deb ${keyring}${MIRROR} sid main" >"$s/sources.list"
    # Private sources, lists and cache: the system apt state stays as it was.
    opts=(-o "Dir::Etc::SourceList=$s/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$s/lists" -o "Dir::Cache=$s/cache")
    # The private scratch dir is not writable by the _apt sandbox user; as root skip the
    # sandbox instead of printing a warning on every fetch.
    [ "$(id -u)" -ne 0 ] || opts+=(-o APT::Sandbox::User=root)
    echo "fetching pebble from $MIRROR sid"
    apt-get -q "${opts[@]}" update >"$s/update.log" 2>&1 || { cat "$s/update.log" >&2; return 1; }
    (cd "$s" && apt-get -q "${opts[@]}" download pebble) || return 1
    rm -rf "$DEST"
    mkdir -p "$DEST"
    dpkg -x "$s"/pebble_*.deb "$DEST"
    dpkg-deb -f "$s"/pebble_*.deb Version >"$DEST/VERSION"
}

if fetch_sid && [ -x "$BIN/pebble" ] && [ -x "$BIN/pebble-challtestsrv" ]; then
    echo "pebble $(pebble_version) installed in $BIN"
    exit 0
fi

echo "WARNING: could not fetch pebble from Debian sid; falling back to Debian stable's package" >&2
echo "WARNING: (Pebble 2.4: no ARI, no profiles; challtestsrv takes -dns01)" >&2
if ! apt-cache show pebble >/dev/null 2>&1; then
    apt-get -q update
fi
apt-get -q install -y --no-install-recommends pebble
# Link the system binaries into the cache folder so callers have one location.
mkdir -p "$BIN"
ln -sf "$(command -v pebble)" "$BIN/pebble"
ln -sf "$(command -v pebble-challtestsrv)" "$BIN/pebble-challtestsrv"
dpkg-query -W -f='${Version}\n' pebble >"$DEST/VERSION"
echo "pebble $(pebble_version) (fallback) linked in $BIN"
