#!/usr/bin/env bash
# Install the system packages the test-suite needs (real Dovecot IMAP server,
# PostgreSQL for the storage tests, openssl for throw-away certificates, swaks as
# an external SMTP client).
# Idempotent: does nothing (and prints nothing) when everything is present.
set -euo pipefail

# Debian package names; add more here as the test-suite grows.
PACKAGES=(dovecot-core dovecot-imapd postgresql openssl swaks)

# dovecot lives in /usr/sbin, which an ordinary user's PATH may lack.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

missing=0
for cmd in dovecot openssl swaks; do
    command -v "$cmd" >/dev/null 2>&1 || missing=1
done
# dovecot-core alone has no IMAP binary; dovecot-imapd provides it.
[ -x /usr/lib/dovecot/imap ] || missing=1
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing=1

if [ "$missing" -eq 0 ]; then
    exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        echo "install-system-deps: not root and sudo is unavailable; install: ${PACKAGES[*]}" >&2
        exit 1
    fi
fi

echo "install-system-deps: installing ${PACKAGES[*]}" >&2
"${SUDO[@]}" apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${PACKAGES[@]}"
