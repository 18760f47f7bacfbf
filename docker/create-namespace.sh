#!/bin/sh
# Creates the app's namespace with an explicit retention (TEMPORAL_RETENTION, default 7d: delivery
# records stay readable for a week, as Cloud Elements' event logs did), or sets that retention on an
# existing one; then registers the search attributes (create-search-attributes.sh). The server
# creates no namespace of its own. Same steps as `npm run stack` (src/stack/namespace.ts).
#
# Environment: TEMPORAL_ADDRESS (default temporal:7233), TEMPORAL_NAMESPACE (default "default"),
#              TEMPORAL_RETENTION (default 7d; at least 1d), WAIT_SECONDS (default 300).
set -eu

ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
RETENTION="${TEMPORAL_RETENTION:-7d}"
WAIT_SECONDS="${WAIT_SECONDS:-300}"

waited=0
until temporal operator cluster health --address "$ADDRESS" >/dev/null 2>&1; do
  if [ "$waited" -ge "$WAIT_SECONDS" ]; then
    echo "gave up after ${WAIT_SECONDS}s waiting for Temporal at $ADDRESS" >&2
    exit 1
  fi
  sleep 3
  waited=$((waited + 3))
done

if temporal operator namespace describe --address "$ADDRESS" --namespace "$NAMESPACE" >/dev/null 2>&1; then
  temporal operator namespace update --address "$ADDRESS" --namespace "$NAMESPACE" --retention "$RETENTION"
  echo "namespace $NAMESPACE: exists, retention set to $RETENTION"
else
  temporal operator namespace create --address "$ADDRESS" --namespace "$NAMESPACE" --retention "$RETENTION"
  echo "namespace $NAMESPACE: created, retention $RETENTION"
fi

exec /bin/sh "$(dirname "$0")/create-search-attributes.sh"
