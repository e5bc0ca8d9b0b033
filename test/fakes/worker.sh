#!/bin/sh
# A MASS analysis-system worker as mass_api_client 0.2's process_analyses behaves (docs/mass-api.md,
# "How workers really behave"), for busybox sh (wget, sleep, awk, sed, grep, nc; wget without -T,
# which crashes busybox 1.35's wget). The twin runs it as the replicas of Swarm services.
# Settings, from the environment:
#   MASS_URL          base URL of the API, ending in /api/                               (required)
#   MASS_KEY          API key                                                            (required)
#   SYSTEM            identifier_name of the analysis system                             (required)
#   SERVICE_TIME      seconds one analysis takes                                         (default 30)
#   JITTER            each analysis takes SERVICE_TIME * (1 +- JITTER), uniform          (default 0)
#   SLEEP_TIME        seconds to sleep after a poll that brought no work                 (default 1)
#   DELETE_ON_EXIT    1: delete the instance on SIGTERM/SIGINT (delete_instance_on_exit)  (default 0)
#   UUID_FILE         where the instance's uuid is kept; reused if present  (default /tmp/mass-uuid)
# The loop: fetch ALL scheduled analyses (every page), work through them one after another, report
# each, and only then poll again. SIGTERM/SIGINT: exit at once; the analysis in progress is lost.
# Each analysis ends SERVICE_TIME after the previous one (or the poll), by the clock in /proc/uptime,
# so the worker's own overhead (awk, wget) does not lengthen it.
# Exit 3: cannot register; exit 4: cannot poll (Swarm restarts the task).
set -u
: "${MASS_URL:?}" "${MASS_KEY:?}" "${SYSTEM:?}"
SERVICE_TIME="${SERVICE_TIME:-30}"
JITTER="${JITTER:-0}"
SLEEP_TIME="${SLEEP_TIME:-1}"
DELETE_ON_EXIT="${DELETE_ON_EXIT:-0}"
UUID_FILE="${UUID_FILE:-/tmp/mass-uuid}"
AUTH="Authorization: APIKEY $MASS_KEY"
UUID=""
NAP=""

say() { echo "worker: $*"; }

# DELETE with nc: busybox wget only sends GET and POST.
delete_instance() {
  hostport=$(echo "$MASS_URL" | sed 's#^http://\([^/]*\)/.*#\1#')
  path=$(echo "$MASS_URL" | sed 's#^http://[^/]*##')
  printf 'DELETE %sanalysis_system_instance/%s/ HTTP/1.0\r\nHost: %s\r\nAuthorization: APIKEY %s\r\n\r\n' \
    "$path" "$UUID" "$hostport" "$MASS_KEY" | nc -w 2 "${hostport%:*}" "${hostport##*:}" >/dev/null 2>&1
}

on_signal() {
  [ -n "$NAP" ] && kill "$NAP" 2>/dev/null
  if [ -n "$UUID" ]; then
    # Not MASS: tells the twin that this worker exits now (the analysis in progress is lost).
    wget -q -O /dev/null --header "$AUTH" --post-data '' "${MASS_URL}twin/exit/$UUID/" 2>/dev/null
    [ "$DELETE_ON_EXIT" = 1 ] && delete_instance
  fi
  say "exiting on signal"
  exit 0
}
trap on_signal TERM INT

uptime() { awk '{ print $1 }' /proc/uptime; }

# Sleeps in the background so that a signal ends the wait at once.
nap() {
  sleep "$1" &
  NAP=$!
  wait "$NAP"
  NAP=""
}

if [ -s "$UUID_FILE" ]; then
  UUID=$(cat "$UUID_FILE")
  say "reusing instance $UUID"
else
  body=$(wget -q -O - --header "$AUTH" --header 'Content-Type: application/json' \
    --post-data "{\"analysis_system\": \"${MASS_URL}analysis_system/$SYSTEM/\"}" \
    "${MASS_URL}analysis_system_instance/") || { say "cannot register at $MASS_URL"; exit 3; }
  UUID=$(echo "$body" | sed -n 's/.*"uuid": *"\([^"]*\)".*/\1/p')
  [ -n "$UUID" ] || { say "no uuid in the registration answer"; exit 3; }
  echo "$UUID" >"$UUID_FILE"
  say "registered instance $UUID"
fi

while :; do
  ids=""
  page=1
  while :; do
    out=$(wget -q -O - --header "$AUTH" \
      "${MASS_URL}analysis_system_instance/$UUID/scheduled_analyses/?page=$page&per_page=100") || {
      [ "$page" -gt 1 ] && break # the older server: 404 after the last page
      say "cannot poll $MASS_URL"
      exit 4
    }
    got=$(echo "$out" | grep -o '/scheduled_analysis/[^/"]*/' | sed 's#/scheduled_analysis/##; s#/##')
    ids="$ids $got"
    echo "$out" | grep -q '"next": *null' && break
    [ -z "$got" ] && break
    page=$((page + 1))
  done
  mark=$(uptime)
  set -- $ids
  if [ "$#" -eq 0 ]; then
    nap "$SLEEP_TIME"
    continue
  fi
  for id in "$@"; do
    deadline=$(awk -v m="$mark" -v s="$SERVICE_TIME" -v j="$JITTER" -v r="$RANDOM" \
      'BEGIN { srand(r); printf "%.3f", m + s * (1 + j * (2 * rand() - 1)) }')
    nap "$(awk -v d="$deadline" '{ r = d - $1; if (r < 0) r = 0; printf "%.3f", r }' /proc/uptime)"
    wget -q -O /dev/null --header "$AUTH" --post-data '{}' "${MASS_URL}scheduled_analysis/$id/submit_report/" ||
      say "report of $id failed"
    # The next analysis starts at this one's deadline, unless the worker fell far behind it.
    mark=$(awk -v d="$deadline" -v s="$SERVICE_TIME" '{ m = d; if ($1 > d + s) m = $1; print m }' /proc/uptime)
  done
done
