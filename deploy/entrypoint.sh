#!/bin/sh
# The image's entrypoint: `serve` (the default), `worker`, `smtp`, or any other `saveit`
# command (`db upgrade`, `seed FILE`, `token create ...`).
#   serve   listens on $HOST:$PORT (0.0.0.0:8000) with $WEB_CONCURRENCY processes (1)
#   smtp    listens on $HOST:$SMTP_PORT (0.0.0.0:2525)
# Set SAVEIT_MIGRATE_ON_START=true to run `saveit db upgrade` before serving (one-container
# setups; with several API containers run the migration once, as compose's `migrate` does).
set -eu
cmd="${1:-serve}"
[ "$#" -gt 0 ] && shift
case "$cmd" in
  serve)
    if [ "${SAVEIT_MIGRATE_ON_START:-false}" = "true" ]; then saveit db upgrade; fi
    exec saveit serve --host "${HOST:-0.0.0.0}" --port "${PORT:-8000}" \
      --workers "${WEB_CONCURRENCY:-1}" "$@" ;;
  worker)
    exec saveit worker "$@" ;;
  smtp)
    exec saveit smtp --host "${HOST:-0.0.0.0}" --port "${SMTP_PORT:-2525}" "$@" ;;
  *)
    exec saveit "$cmd" "$@" ;;
esac
