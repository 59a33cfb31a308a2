#!/usr/bin/env bash
# Opens, or updates, the one open GitHub issue of failing nightly runs: its body becomes the
# night's job summary (new failure signatures with replay commands) and a comment links the run.
# Usage (needs the gh CLI with GH_TOKEN and GH_REPO set, as in the nightly workflow):
#   ci/nightly-issue.sh SUMMARY.md
set -euo pipefail
summary="$1"
title="Resilience nightly is failing"
body="$(cat "$summary")

Run: ${RUN_URL:-unknown}. Copy a candidate from the artifact's candidates/ into scenarios/regressions/ to make its signature known."
number="$(gh issue list --state open --search "\"$title\" in:title" --json number,title \
  --jq "map(select(.title == \"$title\")) | .[0].number // empty")"
if [ -n "$number" ]; then
  gh issue edit "$number" --body "$body"
  gh issue comment "$number" --body "Failing again: ${RUN_URL:-unknown}"
else
  gh issue create --title "$title" --body "$body"
fi
