#!/usr/bin/env bash
# Set up and run the whole test suite (lint, unit, functional, end-to-end).
# Uses an embedded PostgreSQL and an embedded Redis unless TEST_DATABASE_URL / TEST_REDIS_URL are set.
source "$(dirname "$0")/setup.sh" requirements-dev.txt
ruff check .
python -m pytest "$@"
