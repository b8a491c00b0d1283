#!/usr/bin/env bash
# The GPU check (benchmarks/gpu_check.py) on a machine with a CUDA build of PyTorch and nothing else.
#
#   bash benchmarks/gpu_check.sh prepare   # here, where pip and the bundled corpora work: .whl/ and .gpu/
#   bash benchmarks/gpu_check.sh [ARGS]    # there: install what is missing from .whl/, then run the check
#
# prepare downloads the wheels of benchmarks/gpu_requirements.txt for Python $WHEEL_PYTHON (default 3.12,
# the device machine's) on x86-64 Linux into .whl/, and exports the jigs corpus to .gpu/jigs.abc (both
# ignored by git). With the `device` tool: carry [".whl", ".gpu"] and run
#   bash benchmarks/gpu_check.sh
# ($OUT, where the tool collects files, receives gpu_check.json and gpu_check.md).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
WHEELS=${WHEELS:-.whl}   # where the wheels are (prepare writes them there)

if [ "${1:-}" = prepare ]; then
  # tunesmith exports the corpus (music21 reads the bundled collections): the project's venv by default.
  [ -z "${PYTHON:-}" ] && [ -x .venv/bin/python ] && PY=.venv/bin/python
  rm -rf "$WHEELS" && mkdir -p "$WHEELS" .gpu
  platforms=()
  for n in 28 27 24 17 5; do platforms+=(--platform "manylinux_2_${n}_x86_64"); done
  grep -v '^#' benchmarks/gpu_requirements.txt | grep . | while read -r pin; do
    $PY -m pip download --quiet --no-deps --only-binary=:all: --python-version "${WHEEL_PYTHON:-3.12}" \
      --implementation cp "${platforms[@]}" --platform manylinux2014_x86_64 -d "$WHEELS" "$pin"
  done
  PYTHONPATH=$PWD/src $PY -m tunesmith corpus export jigs -o .gpu/jigs.abc
  du -sh "$WHEELS" .gpu
  exit 0
fi

# Install, from the carried wheels, every distribution this python lacks (not the ones it has: a second
# copy of numpy or pydantic beside the machine's own would shadow it). ALL_WHEELS=1 installs every one,
# ahead of the machine's own (the pinned versions, should one there not suit tunesmith).
missing=$(WHEELS=$WHEELS ALL_WHEELS=${ALL_WHEELS:-} $PY - <<'PYTHON'
import importlib.metadata as metadata
import os
from pathlib import Path

for wheel in sorted(Path(os.environ["WHEELS"]).glob("*.whl")):
    try:
        metadata.version(wheel.name.split("-")[0])
        if os.environ["ALL_WHEELS"]:
            print(wheel)
    except metadata.PackageNotFoundError:
        print(wheel)
PYTHON
)
if [ -n "$missing" ]; then
  echo "installing from $WHEELS: $(echo $missing | xargs -n1 basename | tr '\n' ' ')"
  # shellcheck disable=SC2086
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/gpu_check_site $missing
  export PYTHONPATH=/tmp/gpu_check_site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
exec $PY benchmarks/gpu_check.py "$@"
