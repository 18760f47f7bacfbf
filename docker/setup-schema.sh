#!/bin/sh
# Creates Temporal's two databases in PostgreSQL and applies their schemas with temporal-sql-tool
# (the admin-tools image carries the schema files), as `npm run stack` does (src/stack/temporal-server.ts).
# Run by the `temporal-schema` service of docker-compose.yml before the server starts; safe to run
# again: on databases that have their schema, only newer schema versions are applied.
#
# Environment: POSTGRES_HOST (default postgresql), POSTGRES_PORT (5432), POSTGRES_USER, POSTGRES_PASSWORD.
set -eu

export SQL_PLUGIN=postgres12
export SQL_HOST="${POSTGRES_HOST:-postgresql}"
export SQL_PORT="${POSTGRES_PORT:-5432}"
export SQL_USER="${POSTGRES_USER:-temporal}"
export SQL_PASSWORD="${POSTGRES_PASSWORD:-temporal}"
SCHEMA_DIR="${SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}"

for pair in temporal:temporal temporal_visibility:visibility; do
  db="${pair%%:*}"
  schema="${pair#*:}"
  if temporal-sql-tool --db "$db" update-schema -d "$SCHEMA_DIR/$schema/versioned" >/dev/null 2>&1; then
    echo "database $db: schema up to date"
  else
    temporal-sql-tool --db "$db" create-database
    temporal-sql-tool --db "$db" setup-schema -v 0.0
    temporal-sql-tool --db "$db" update-schema -d "$SCHEMA_DIR/$schema/versioned"
    echo "database $db: created, schema applied"
  fi
done
