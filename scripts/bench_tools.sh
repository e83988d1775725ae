#!/usr/bin/env bash
# The other tools of the copy benchmark: the aws CLI (pinned, in .venv-bench) and rclone
# (Debian's package). Each one that can't be installed is reported here, and its rows are
# skipped by the benchmark, saying so; nothing else depends on them.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

if [ ! -x .venv-bench/bin/aws ] || [ constraints/bench.txt -nt .venv-bench/bin/aws ]; then
  { "$PYTHON" -m venv .venv-bench && .venv-bench/bin/pip install --quiet -r constraints/bench.txt \
      && touch .venv-bench/bin/aws; } >/tmp/bench-awscli.log 2>&1 \
    || echo "the aws CLI could not be installed (see /tmp/bench-awscli.log): the curl|aws rows will be skipped"
fi

if ! command -v rclone >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo -n"
  export DEBIAN_FRONTEND=noninteractive
  { $sudo apt-get install -y -q --no-install-recommends rclone \
    || { $sudo apt-get update -q && $sudo apt-get install -y -q --no-install-recommends rclone; }
  } >/tmp/bench-rclone.log 2>&1 \
    || echo "rclone could not be installed (see /tmp/bench-rclone.log): the rclone rows will be skipped"
fi
exit 0
