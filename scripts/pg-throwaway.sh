# Sourced by scripts/test and scripts/bench: start a throwaway PostgreSQL on a free loopback port
# (as the postgres user: initdb refuses root), export GATEHOUSE_TEST_PG, stop it on exit.
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PGWORK=$(mktemp -d /tmp/gatehouse-pg.XXXXXX)
chown postgres "$PGWORK"
PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
runuser -u postgres -- "$PGBIN/initdb" -D "$PGWORK/data" -U app --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGWORK/data" -l "$PGWORK/log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PGWORK -c fsync=off -c max_connections=300" start >/dev/null
pg_cleanup() {
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGWORK/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PGWORK"
}
trap pg_cleanup EXIT
export GATEHOUSE_TEST_PG="postgres://app@127.0.0.1:$PGPORT/postgres"
