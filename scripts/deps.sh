#!/bin/sh
# deps.sh: make sure what the tests need is installed; `make test` runs it
# first. When everything is there it only looks (a few milliseconds). When
# something is missing: on Debian as root it installs the packages; anywhere
# else it names them and fails, so that no test is skipped in silence.
set -eu

# What the tests need, one "command-or-path  Debian-package" a line. A path
# (starting with /) must exist; a bare name must be a command on PATH. Add a
# line here for each server a later test drives.
NEEDS='
sipp                                                               sip-tester
/usr/sbin/kamailio                                                 kamailio
/usr/share/doc/kamailio/examples/kemi/kamailio-basic-kemi-lua.lua  kamailio
'

# missing prints the packages whose checks fail, each once, on one line.
missing() {
	echo "$NEEDS" | while read -r what pkg; do
		[ -n "$what" ] || continue
		case $what in
		/*) [ -e "$what" ] && continue ;;
		*) command -v "$what" >/dev/null 2>&1 && continue ;;
		esac
		echo "$pkg"
	done | awk '!seen[$0]++' | tr '\n' ' ' | sed 's/ $//'
}

# explain names each missing check with its package, for the error message.
explain() {
	echo "$NEEDS" | while read -r what pkg; do
		[ -n "$what" ] || continue
		case $what in
		/*) [ -e "$what" ] || echo "  $what (package $pkg)" ;;
		*) command -v "$what" >/dev/null 2>&1 || echo "  $what on PATH (package $pkg)" ;;
		esac
	done
}

pkgs=$(missing)
[ -z "$pkgs" ] && exit 0

if [ "$(id -u)" != 0 ] || [ ! -f /etc/debian_version ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "deps: the tests need what is not installed here:" >&2
	explain >&2
	echo "deps: on Debian, as root: apt-get install -y $pkgs" >&2
	echo "deps: (run 'make test' as root on Debian to install them itself)" >&2
	exit 1
fi

echo "deps: installing $pkgs" >&2
# A policy-rc.d that denies every start keeps a package such as kamailio
# from starting its daemon on install; one already there is left alone.
made_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	made_policy=1
fi
status=0
{
	apt-get update -qq &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
} || status=$?
if [ -n "$made_policy" ]; then
	rm -f /usr/sbin/policy-rc.d
fi
if [ "$status" != 0 ]; then
	echo "deps: apt-get install $pkgs failed (exit $status)" >&2
	exit 1
fi

pkgs=$(missing)
if [ -n "$pkgs" ]; then
	echo "deps: still missing after apt-get install:" >&2
	explain >&2
	exit 1
fi
