#!/usr/bin/env bash
# Regenerate the guides' pictures: the persona journeys and the links walk-through in Chromium
# on a local campus, writing their screenshots into docs/students, docs/instructors and
# docs/operators (CAMPUSHUB_SCREENSHOTS=1). Sets up what it needs first, as the tests do.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
export VENV
bash scripts/setup.sh test
CAMPUSHUB_SCREENSHOTS=1 PATH="$PWD/$VENV/bin:$PATH" "$VENV/bin/python" -m pytest -m browser \
  tests/test_journeys.py tests/test_grading_browser.py tests/test_lti.py \
  "tests/test_links_service.py::test_instructor_makes_a_link_in_a_browser_and_a_student_clicks_it" \
  "$@"
ls -1 docs/students/*.png docs/instructors/*.png docs/operators/*.png
