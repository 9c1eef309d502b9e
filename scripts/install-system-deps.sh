#!/usr/bin/env bash
# Install the Debian/Ubuntu packages the test-suite needs, and only those that are
# missing. The README ("System packages") says what each one is for.
#
# * Each package is checked with dpkg-query; one already installed is never
#   upgraded or reinstalled (only missing names reach apt-get, with --no-upgrade).
# * Debian starts and enables a service when its package is installed. The tests
#   start private Dovecot and PostgreSQL instances themselves, so while apt-get
#   runs, a temporary /usr/sbin/policy-rc.d forbids starting any service (an
#   existing one is put back afterwards), and every service unit or init script
#   that arrived with a package installed here is then disabled. Services that
#   were on the machine before are left exactly as they were.
# * Works as root or through sudo, with or without systemd (e.g. in a container).
# * Idempotent: does nothing, and prints nothing, when everything is present.
#
# Usage: scripts/install-system-deps.sh          install what is missing
#        scripts/install-system-deps.sh --check  list what is missing; exit 1 if any
set -euo pipefail

PACKAGES=(
    dovecot-core    # the IMAP server the tests run privately (tests/servers.py)
    dovecot-imapd   # its IMAP protocol binary (/usr/lib/dovecot/imap)
    postgresql      # initdb/postgres for the storage tests on PostgreSQL (tests/pg.py)
    openssl         # throw-away TLS certificates for those servers
    swaks           # an independent SMTP client, to test responder's SMTP ingress
    chromium        # the headless browser the web page's tests drive (tests/test_web_browser.py)
    chromium-driver # its WebDriver (/usr/bin/chromedriver), used by Selenium
)

# dovecot and update-rc.d live in /usr/sbin, which an ordinary user's PATH may lack.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

is_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "install-system-deps: not a Debian-based system (no dpkg-query)." >&2
    echo "Install by hand the equivalents of: ${PACKAGES[*]}" >&2
    exit 1
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
done

if [ "${1:-}" = "--check" ]; then
    if [ "${#missing[@]}" -eq 0 ]; then
        exit 0
    fi
    echo "missing: ${missing[*]}"
    exit 1
fi
if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        echo "install-system-deps: not root and sudo is unavailable; as root, run:" >&2
        echo "  apt-get install --no-install-recommends ${missing[*]}" >&2
        exit 1
    fi
fi
as_root() {
    if [ "${#SUDO[@]}" -eq 0 ]; then "$@"; else "${SUDO[@]}" "$@"; fi
}

# Forbid service starts for the length of the install (exit 101: "action
# forbidden", honoured by invoke-rc.d and deb-systemd-invoke).
POLICY=/usr/sbin/policy-rc.d
POLICY_SAVED=""
MARK="from responder scripts/install-system-deps.sh"
restore_policy() {
    if [ -n "$POLICY_SAVED" ]; then
        as_root mv -f "$POLICY_SAVED" "$POLICY"
    else
        as_root rm -f "$POLICY"
    fi
}
if [ -e "$POLICY" ] && grep -qF "$MARK" "$POLICY"; then
    # Left behind by a run that was killed: the machine's own file, if it had
    # one, is still in the saved copy.
    if [ -e "$POLICY.responder-saved" ]; then POLICY_SAVED="$POLICY.responder-saved"; fi
elif [ -e "$POLICY" ]; then
    POLICY_SAVED="$POLICY.responder-saved"
    as_root cp -p "$POLICY" "$POLICY_SAVED"
fi
trap restore_policy EXIT
printf '#!/bin/sh\n# Temporary, %s: no service starts.\nexit 101\n' "$MARK" \
    | as_root tee "$POLICY" >/dev/null
as_root chmod 755 "$POLICY"

installed_packages() {
    dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' | awk '$1 == "ii" {print $2}' | LC_ALL=C sort
}
installed_before=$(installed_packages)

echo "install-system-deps: installing ${missing[*]}" >&2
apt_install() {
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends --no-upgrade "${missing[@]}"
}
# Refresh the package lists only when the install cannot go ahead without it
# (a fresh machine has none; old ones may name files the mirror no longer has).
if ! apt_install; then
    as_root apt-get update
    apt_install
fi

new_packages=$(LC_ALL=C comm -13 <(echo "$installed_before") <(installed_packages))

# Disable the services that came with the packages installed just now. Template
# units (name@.service) only run as instances, which are disabled with their parent.
systemd_running=0
[ -d /run/systemd/system ] && systemd_running=1
for pkg in $new_packages; do
    while IFS= read -r file; do
        name=$(basename "$file")
        case "$file" in
            /lib/systemd/system/*|/usr/lib/systemd/system/*)
                case "$name" in *@*) continue ;; esac
                command -v systemctl >/dev/null 2>&1 || continue
                if [ "$systemd_running" -eq 1 ] && systemctl is-active --quiet "$name"; then
                    as_root systemctl stop "$name"
                fi
                if systemctl is-enabled --quiet "$name" 2>/dev/null; then
                    echo "install-system-deps: disabling $name (start it by hand if you want it)" >&2
                    as_root systemctl disable --quiet "$name"
                fi
                ;;
            /etc/init.d/*)
                command -v update-rc.d >/dev/null 2>&1 || continue
                if compgen -G "/etc/rc[2-5].d/S??$name" >/dev/null; then
                    echo "install-system-deps: disabling init script $name" >&2
                    as_root update-rc.d "$name" disable >/dev/null
                fi
                ;;
        esac
    done < <(dpkg-query -L "$pkg" 2>/dev/null \
             | grep -E '^(/usr)?/lib/systemd/system/[^/]+\.(service|socket|timer)$|^/etc/init\.d/[^/]+$' || true)
done
