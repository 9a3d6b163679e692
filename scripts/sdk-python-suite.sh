#!/usr/bin/env bash
# Runs the Python SDK's own test suite (a release tag; tests/ without nexus/ and contrib/)
# against a fresh `sundial start-dev` given the dev-server settings the suite's conftest passes
# to Temporal's dev server, and prints passed/failed per file from a JUnit report.
#
#   bash scripts/sdk-python-suite.sh [TAG] [SUNDIAL_BIN]     # e.g. 1.31.0 target/release/sundial
#
# SDK_GIT=DIR takes the sources from a local clone (or bare mirror) of sdk-python instead of
# GitHub; TESTS=PATH… runs part of the suite (TESTS=tests/nexus: the Nexus files). Needs PyPI;
# works in /tmp/sdk-python-suite.
set -euo pipefail
TAG=${1:-1.31.0}
BIN=$(realpath "${2:-target/release/sundial}")
WORK=/tmp/sdk-python-suite
PORT=${PORT:-27233}
mkdir -p "$WORK" && cd "$WORK"
if [[ ! -d src ]]; then
  if [[ -n "${SDK_GIT:-}" ]]; then
    mkdir src && git -C "$SDK_GIT" archive "$TAG" tests pyproject.toml | tar x -C src
  else
    git clone -q --depth 1 --branch "$TAG" https://github.com/temporalio/sdk-python.git src
  fi
fi
if [[ ! -x venv/bin/python ]]; then
  python3 -m venv venv
  # pytest 9 breaks the pytest-asyncio 0.21 the suite pins.
  # protobuf 7 dropped FieldDescriptor.label, which the suite's proto tests read.
  venv/bin/pip install -q "temporalio[grpc,opentelemetry,pydantic]==$TAG" "pytest==8.4.2" \
    "pytest-asyncio>=0.21,<0.22" "pytest-timeout~=2.2" "psutil>=5.9.3,<6" cryptography httpx \
    googleapis-common-protos "protobuf<7" toml "pytest-rerunfailures>=16.1"
fi
ARGS=()
for v in system.forceSearchAttributesCacheRefreshOnRead=true limit.historyCount.suggestContinueAsNew=50 \
  system.enableEagerWorkflowStart=true frontend.enableExecuteMultiOperation=true \
  frontend.workerVersioningWorkflowAPIs=true frontend.workerVersioningDataAPIs=true \
  system.enableDeploymentVersions=true frontend.activityAPIsEnabled=true \
  frontend.enableCancelWorkerPollsOnShutdown=true activity.enableStandalone=true \
  history.enableSignalWithStartFromWorkflow=true history.enableUpdateCallbacks=true; do
  ARGS+=(--dynamic-config-value "$v")
done
"$BIN" start-dev --ip 127.0.0.1 --port "$PORT" "${ARGS[@]}" > server.out 2> server.err &
SRV=$!
trap 'kill $SRV 2>/dev/null; wait $SRV 2>/dev/null' EXIT
for _ in $(seq 1 100); do grep -q "Ready." server.out && break; sleep 0.2; done
IGNORE=(--ignore=tests/contrib --ignore=tests/test_prepare_release.py)
[[ "${TESTS:-tests}" == tests/nexus* ]] || IGNORE+=(--ignore=tests/nexus)
(cd src && ../venv/bin/python -m pytest ${TESTS:-tests} "${IGNORE[@]}" \
  -E "127.0.0.1:$PORT" -p no:cacheprovider -q -rfE \
  --junitxml="$WORK/report.xml") > pytest.out 2>&1 || true
venv/bin/python - "$WORK/report.xml" <<'PY'
import collections, sys, xml.etree.ElementTree as ET
files = collections.defaultdict(collections.Counter)
for case in ET.parse(sys.argv[1]).iter("testcase"):
    name = case.get("classname", "").split(".")
    path = "/".join(p for p in name if not p[:1].isupper()) + ".py"
    outcome = "passed"
    for child in case:
        if child.tag in ("failure", "error", "skipped"):
            outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[child.tag]
    files[path][outcome] += 1
total = collections.Counter()
for path in sorted(files):
    c = files[path]
    total.update(c)
    print(f"{path:<55} {c['passed']:>4} passed {c['failed']:>4} failed {c['error']:>3} error {c['skipped']:>3} skipped")
print(f"{'total':<55} {total['passed']:>4} passed {total['failed']:>4} failed {total['error']:>3} error {total['skipped']:>3} skipped")
PY
