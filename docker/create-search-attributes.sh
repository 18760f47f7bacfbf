#!/bin/sh
# Registers the custom search attributes element-events' workflows set, in the app's namespace.
# Run once by the `temporal-admin-tools` service of docker-compose.yml before the app starts;
# safe to run again at any time (an attribute that already exists is left as it is).
#
# Environment: TEMPORAL_ADDRESS (host:port, default temporal:7233),
#              TEMPORAL_NAMESPACE (default "default"),
#              WAIT_SECONDS (how long to wait for the server and namespace, default 300).
set -eu

ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
WAIT_SECONDS="${WAIT_SECONDS:-300}"

# Keep in step with src/temporal/search-attributes.ts.
SEARCH_ATTRIBUTES="
ElementKey Keyword
ElementInstanceId Int
ElementsAccount Keyword
ElementsTokenHash Keyword
EventsEnabled Bool
DeliveryStatus Keyword
DeliveryEventIds KeywordList
"

waited=0
wait_for() {
  # wait_for DESCRIPTION COMMAND...: retries COMMAND every 3 s until it succeeds or WAIT_SECONDS pass.
  what="$1"
  shift
  until "$@" >/dev/null 2>&1; do
    if [ "$waited" -ge "$WAIT_SECONDS" ]; then
      echo "gave up after ${WAIT_SECONDS}s waiting for $what" >&2
      "$@" || true
      exit 1
    fi
    sleep 3
    waited=$((waited + 3))
  done
  echo "$what: ready"
}

wait_for "Temporal at $ADDRESS" temporal operator cluster health --address "$ADDRESS"
# auto-setup registers the namespace a little after the frontend answers.
wait_for "namespace $NAMESPACE" temporal operator namespace describe --address "$ADDRESS" --namespace "$NAMESPACE"

list_attributes() {
  temporal operator search-attribute list --address "$ADDRESS" --namespace "$NAMESPACE"
}

# Prints the type NAME is listed with, normalised (KEYWORD, Keyword, INDEXED_VALUE_TYPE_KEYWORD -> keyword),
# or nothing. The list is a table of one attribute per line: name, then type.
listed_type() {
  list_attributes 2>/dev/null | awk -v n="$1" '$1 == n {
    t = tolower($2); sub(/^indexed_value_type_/, "", t); gsub(/_/, "", t); print t; exit
  }'
}

normalise() {
  echo "$1" | tr 'A-Z' 'a-z' | tr -d '_'
}

# register NAME TYPE: creates the attribute unless it already exists with that type.
register() {
  name="$1"
  want=$(normalise "$2")
  have=$(listed_type "$name")
  if [ "$have" = "$want" ]; then
    echo "search attribute $name ($2): already exists"
    return 0
  fi
  if [ -n "$have" ]; then
    echo "search attribute $name exists with type $have, but element-events needs $2" >&2
    return 1
  fi
  if output=$(temporal operator search-attribute create --address "$ADDRESS" --namespace "$NAMESPACE" \
    --name "$name" --type "$2" 2>&1); then
    echo "search attribute $name ($2): created"
  elif echo "$output" | grep -qi 'already exists'; then
    echo "search attribute $name ($2): already exists"
  else
    echo "search attribute $name ($2): FAILED: $output" >&2
    return 1
  fi
}

is_listed() {
  [ -n "$(listed_type "$1")" ]
}

while read -r name type; do
  [ -z "$name" ] || register "$name" "$type" || exit 1
done <<EOF
$SEARCH_ATTRIBUTES
EOF

# Visibility reads the attribute list through a cache; wait until every attribute is listed.
while read -r name type; do
  [ -z "$name" ] || wait_for "search attribute $name listed" is_listed "$name" || exit 1
done <<EOF
$SEARCH_ATTRIBUTES
EOF

echo "search attributes of namespace $NAMESPACE:"
list_attributes
