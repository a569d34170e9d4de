#!/usr/bin/env bash
# Starts (or stops) the real services the tests use, on loopback, with no systemd:
#   eval "$(scripts/services.sh start)"   # prints the ONCELY_* variables to export
#   scripts/services.sh stop
# Installs the Debian packages first when they are missing (needs root, as on CI).
set -euo pipefail
state=${ONCELY_SERVICES_DIR:-/tmp/oncely-services}
redis_port=${ONCELY_REDIS_PORT:-56379}
pg_port=${ONCELY_PG_PORT:-55432}

install_missing() {
  local need=()
  command -v redis-server >/dev/null || need+=(redis-server)
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
  [ -x /usr/bin/chromium ] || need+=(chromium)
  if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]}" >&2
    mkdir -p "$state"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${need[@]}"; } >"$state/apt.log" 2>&1 \
      || { cat "$state/apt.log" >&2; exit 1; }
  fi
}

pg_bin() { dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)"; }

start() {
  install_missing
  mkdir -p "$state"
  if ! redis-cli -p "$redis_port" ping >/dev/null 2>&1; then
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
      --daemonize yes --logfile "$state/redis.log" >&2
    touch "$state/redis.started"
  fi
  local bin; bin=$(pg_bin)
  if ! "$bin/pg_isready" -h 127.0.0.1 -p "$pg_port" >/dev/null 2>&1; then
    rm -rf "$state/pg"; mkdir -p "$state/pg"; chown postgres "$state" "$state/pg"
    su postgres -c "$bin/initdb -D $state/pg/data -A trust -U postgres" >/dev/null
    su postgres -c "$bin/pg_ctl -D $state/pg/data -l $state/pg/log -w start \
      -o '-p $pg_port -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200'" >&2
    touch "$state/pg.started"
  fi
  for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  echo "export ONCELY_REDIS_URL=redis://127.0.0.1:$redis_port"
  echo "export ONCELY_POSTGRES_URL=postgres://postgres@127.0.0.1:$pg_port/postgres"
  echo "export ONCELY_CHROMIUM=/usr/bin/chromium"
}

# Stops only what `start` started, so a second run on a machine whose services were already up
# (a developer's, or another checkout's) leaves them running for whoever started them.
stop() {
  if [ -f "$state/redis.started" ]; then
    redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
    rm -f "$state/redis.started"
  fi
  if [ -f "$state/pg.started" ] && [ -d "$state/pg/data" ]; then
    su postgres -c "$(pg_bin)/pg_ctl -D $state/pg/data -m fast stop" >/dev/null 2>&1 || true
    rm -f "$state/pg.started"
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
