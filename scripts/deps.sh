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
luacheck                                                           lua-check
chromium                                                           chromium
npm                                                                npm
/usr/bin/rtpengine                                                 rtpengine-daemon
kamcli                                                             kamcli
promtool                                                           prometheus
redis-server                                                       redis-server
/usr/lib/postgresql                                                postgresql
psql                                                               postgresql-client
mariadbd                                                           mariadb-server
mariadb-install-db                                                 mariadb-server
mariadb                                                            mariadb-client
/usr/share/kamailio/postgres/standard-create.sql                   kamailio-postgres-modules
/usr/share/kamailio/mysql/standard-create.sql                      kamailio-mysql-modules
/usr/lib/x86_64-linux-gnu/kamailio/modules/app_lua.so              kamailio-lua-modules
/usr/lib/x86_64-linux-gnu/kamailio/modules/db_redis.so             kamailio-redis-modules
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

# npm_dir DIR PACKAGE [FILE] installs the npm packages pinned in DIR's
# package-lock.json into DIR/node_modules with npm ci, unless PACKAGE is
# already there at the version DIR/package.json pins and FILE (under
# node_modules) exists (then it only looks).
npm_dir() {
	dir=$(dirname "$0")/../$1 pkg=$2 file=${3:-$2/package.json}
	want=$(sed -n 's/.*"'"$pkg"'": *"\([^"]*\)".*/\1/p' "$dir/package.json")
	have=$(sed -n 's/^[[:space:]]*"version": *"\([^"]*\)".*/\1/p' "$dir/node_modules/$pkg/package.json" 2>/dev/null | head -n 1)
	if [ -n "$want" ] && [ "$want" = "$have" ] && [ -e "$dir/node_modules/$file" ]; then
		return 0
	fi
	if ! command -v npm >/dev/null 2>&1; then
		echo "deps: npm is needed to install $pkg into $1 (package npm)" >&2
		return 1
	fi
	echo "deps: installing $pkg $want into $1/node_modules (npm ci)" >&2
	if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null); then
		echo "deps: npm ci in $1 failed" >&2
		return 1
	fi
}

# npm_deps installs npm's packages the tests run: typescript, for the
# KSR.d.ts check in test/stubs, and JsSIP, the SIP-over-WebSocket library
# of the browser test's pages (test/browser).
npm_deps() {
	npm_dir test/stubs typescript .bin/tsc && npm_dir test/browser jssip
}

pkgs=$(missing)
if [ -z "$pkgs" ]; then
	npm_deps
	exit
fi

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
npm_deps
