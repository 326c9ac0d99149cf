#!/usr/bin/env bash
# Every benchmark in its --smoke mode (tiny data, seconds each), timed; the first failure
# fails the run. .ci/run calls this so that no benchmark rots unseen.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
export PYTHONUNBUFFERED=1
for bench in active dynamics fold_variants iob_agreement labelstudio_backend labelstudio_roundtrip loop neighbours noise noise_estimate real_noise repair_candidates report_screenshot scale scoring select_pool train_speed; do
    started=$SECONDS
    echo "== bench/$bench.py --smoke"
    "$python" "bench/$bench.py" --smoke
    echo "== bench/$bench.py --smoke: ok in $((SECONDS - started)) s"
done
