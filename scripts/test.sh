#!/usr/bin/env bash
# The test command (`deno task test`): fmt check, lint, type check, then every test,
# with a throwaway PostgreSQL server for the destination tests and headless Chromium for
# the dashboard's.
#
# PostgreSQL: uses `initdb` from PATH or /usr/lib/postgresql/*/bin; when it is missing
# and we run as root (CI), installs Debian's `postgresql` package with apt-get. The
# cluster lives in a temporary folder, listens on 127.0.0.1 on a free port with a
# password, and is stopped and removed at the end. RESTPIPE_TEST_POSTGRES_URL, when
# already set, names a server to use instead.
set -uo pipefail
cd "$(dirname "$0")/.."

# every npm package and its registry entry in Deno's cache first: on an empty cache the
# processes the tests start would each fetch the registry entries at once and print
# "Download …" lines into the output that the CLI tests compare
# The tests take their packages from tests/imports.json and tests/deno.lock (the CLI's
# packages and the test tools: json-server, playwright-core, public OpenAPI descriptions);
# deno.json and deno.lock hold only what restpipe itself runs with, so that `deno task demo`
# and `deno task run` download nothing a test alone needs.
T=(--import-map=tests/imports.json --lock=tests/deno.lock)
deno install >&2 && deno cache "${T[@]}" tests/*.ts testing/fake_asana/mod.ts >&2 || exit 1

deno fmt --check && deno lint && deno check "${T[@]}" mod.ts src scripts tests testing &&
  deno check --doc "${T[@]}" mod.ts src testing && deno doc --lint mod.ts || exit 1

# Chromium for the dashboard's browser tests: RESTPIPE_TEST_CHROMIUM, else /usr/bin/chromium;
# when it is missing and we run as root (CI), installs Debian's `chromium` package.
chromium="${RESTPIPE_TEST_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's chromium package (no browser at $chromium)" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >&2
  fi
  if [ ! -x "$chromium" ]; then
    echo "Chromium is needed for the dashboard tests: install it (Debian: apt-get install chromium)" >&2
    echo "or set RESTPIPE_TEST_CHROMIUM=/path/to/chromium" >&2
    exit 1
  fi
fi

find_bin() {
  if command -v initdb >/dev/null 2>&1; then dirname "$(readlink -f "$(command -v initdb)")"; return; fi
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

cleanup() { :; }
if [ -z "${RESTPIPE_TEST_POSTGRES_URL:-}" ]; then
  bin="$(find_bin)"
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
      echo "installing Debian's postgresql package (initdb not found)" >&2
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2
      bin="$(find_bin)"
    fi
  fi
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "PostgreSQL is needed for the destination tests: install it (Debian: apt-get install postgresql)" >&2
    echo "or set RESTPIPE_TEST_POSTGRES_URL=postgresql://USER:PASS@HOST:PORT/DB" >&2
    exit 1
  fi
  dir="$(mktemp -d /tmp/restpipe-pg-XXXXXX)"
  port="$(deno eval 'const l = Deno.listen({ hostname: "127.0.0.1", port: 0 }); console.log(l.addr.port); l.close()')"
  password="pw-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  as_pg=()
  if [ "$(id -u)" = "0" ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home "$dir" postgres
    chown postgres "$dir"
    as_pg=(runuser -u postgres --)
  fi
  echo "$password" > "$dir/pwfile" && chmod 600 "$dir/pwfile"
  [ "$(id -u)" = "0" ] && chown postgres "$dir/pwfile"
  "${as_pg[@]}" "$bin/initdb" -D "$dir/data" -U restpipe --pwfile="$dir/pwfile" -A scram-sha-256 >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  "${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" start >/dev/null ||
    { cat "$dir/server.log" >&2; exit 1; }
  cleanup() {
    "${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1
    rm -rf "$dir"
  }
  export RESTPIPE_TEST_POSTGRES_URL="postgresql://restpipe:${password}@127.0.0.1:${port}/postgres"
  echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port for the tests" >&2
fi
trap cleanup EXIT

# The main tests and the browser tests run side by side, the main ones three files at a
# time (DENO_JOBS; most tests wait on HTTP, a child process or a timer, so three keep two
# cores busy), with the network limited to 127.0.0.1: no test can reach a real API. The
# browser tests need --allow-all, because playwright-core reads /proc/sys at import (a WSL
# check), which Deno grants only to --allow-all; Chromium runs as a child process anyway.
# Their output follows the main tests'. The last line adds both summaries up, in deno
# test's own format.
summary() { sed 's/\x1b\[[0-9;]*m//g' "$1" | grep -aE '^(ok|FAILED) \| [0-9]+ passed' | tail -n 1; }
count() { echo "$1" | sed -E "s/.*\| ([0-9]+) $2.*/\1/"; }
main_log="$(mktemp)" web_log="$(mktemp)"
deno test "${T[@]}" --allow-all tests/web_test.ts >"$web_log" 2>&1 &
web_pid=$!
# --doc runs the @examples of mod.ts, src/ and testing/ too; the test files of tests/ are
# named one by one, as --doc would also load their helpers (browser.ts needs --allow-all)
# The files that wait longest (on a rate limit, on signals, on the CLI) start first, so
# that the quick ones fill the gaps instead of leaving one long file alone at the end.
slow=(tests/resilience_test.ts tests/safety_test.ts tests/cli_test.ts tests/asana_e2e_test.ts
  tests/incremental_test.ts tests/openapi_test.ts tests/evidence_test.ts tests/openapi_public_test.ts tests/contract_test.ts tests/fleet_test.ts tests/resume_test.ts)
main_tests=("${slow[@]}")
for f in tests/*_test.ts; do
  case " ${slow[*]} tests/web_test.ts " in *" $f "*) ;; *) main_tests+=("$f") ;; esac
done
# the docs' examples were type-checked above (deno check --doc): the tests need no second check
DENO_JOBS="${DENO_JOBS:-3}" deno test "${T[@]}" --no-check --doc --parallel --allow-read --allow-write \
  --allow-env --allow-net=127.0.0.1 --allow-run --allow-sys "${main_tests[@]}" mod.ts src/ \
  testing/ 2>&1 | tee "$main_log"
main_status=${PIPESTATUS[0]}
wait "$web_pid"
web_status=$?
cat "$web_log"
a="$(summary "$main_log")" b="$(summary "$web_log")"
rm -f "$main_log" "$web_log"
if [ -z "$a" ] || [ -z "$b" ]; then exit 1; fi
passed=$(($(count "$a" passed) + $(count "$b" passed)))
failed=$(($(count "$a" failed) + $(count "$b" failed)))
if [ "$main_status" -eq 0 ] && [ "$web_status" -eq 0 ]; then word=ok; else word=FAILED; fi
echo
echo "$word | $passed passed | $failed failed (both runs above)"
[ "$word" = ok ]
