#!/usr/bin/env bash
# Runs every test of Tranche on a fresh machine of this kind (Debian 12, the Rust toolchain,
# root): it installs what the tests need and is missing, then checks formatting and lints and
# runs the whole test suite. CI (.ci/run) calls exactly this.
#
# Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "toolchain"
cargo --version
rustc --version
if ! cargo fmt --version >/dev/null 2>&1; then rustup component add rustfmt; fi
if ! cargo clippy --version >/dev/null 2>&1; then rustup component add clippy; fi

step "system packages"
# Browser tests drive Debian's Chromium through its ChromeDriver (tranche-tests' browser module);
# PDF tests read text with pdftotext; every pain.008 a test writes is validated by xmllint
# against the XSDs shipped in the sepa crate's package. Install whichever is missing, as root.
missing=()
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
[[ -x /usr/bin/chromedriver ]] || missing+=(chromium-driver)
command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
command -v xmllint >/dev/null 2>&1 || missing+=(libxml2-utils)
if ((${#missing[@]})); then
  echo "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
/usr/bin/chromium --version 2>/dev/null
/usr/bin/chromedriver --version
pdftotext -v 2>&1 | sed -n 1p
xmllint --version 2>&1 | sed -n 1p

# ---- SAM template lint (template.yaml) --------------------------------------------------
# cfn-lint 1.53.3 is the last release that runs the real SAM transform: later ones pass SAM
# templates with wrong runtimes, attributes or event properties. SAM CLI 1.170.0's
# `sam validate --lint` uses the cfn-lint in its own virtualenv, so both are pinned together.
# The virtualenv is kept under ~/.cache/tranche and reused; both tools run offline and without
# AWS credentials.
step "SAM template lint"
sam_venv="${TRANCHE_TOOLS_VENV:-$HOME/.cache/tranche/venv-sam}"
if ! "$sam_venv/bin/cfn-lint" --version 2>/dev/null | grep -q '1\.53\.3' \
  || ! "$sam_venv/bin/sam" --version 2>/dev/null | grep -q '1\.170\.0'; then
  if ! python3 -c 'import ensurepip' 2>/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv
  fi
  python3 -m venv "$sam_venv"
  "$sam_venv/bin/pip" install --quiet --disable-pip-version-check \
    'cfn-lint==1.53.3' 'aws-sam-cli==1.170.0'
fi
"$sam_venv/bin/cfn-lint" --version
"$sam_venv/bin/sam" --version
"$sam_venv/bin/cfn-lint" template.yaml
env -u AWS_PROFILE SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=eu-central-1 \
  "$sam_venv/bin/sam" validate --lint --template-file template.yaml --region eu-central-1
# ---- end of SAM template lint ------------------------------------------------------------

step "moto (local AWS)"
# The AWS adapters (infra/aws) are tested against a real moto server on loopback. Its venv is
# kept under ~/.cache/tranche and reused; the server gets a free port, is stopped on exit, and
# its endpoint reaches the tests as TRANCHE_MOTO_ENDPOINT (tests needing it fail without it
# under CI=true).
moto_venv="${TRANCHE_MOTO_VENV:-$HOME/.cache/tranche/moto-5.2.5}"
if [[ ! -x "$moto_venv/bin/moto_server" ]]; then
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends python3-venv
  fi
  python3 -m venv "$moto_venv"
  "$moto_venv/bin/pip" install --quiet 'moto[server]==5.2.5'
fi
moto_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p target
# moto's own moto_server serves requests on parallel threads, and its transactions are not atomic
# under that (a failed TransactWriteItems rolls back by restoring table copies): it is run through
# scripts/moto_serial.py, which answers one request at a time, as DynamoDB isolates transactions.
"$moto_venv/bin/python" scripts/moto_serial.py 127.0.0.1 "$moto_port" >target/moto.log 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$moto_port/moto-api/data.json', timeout=1)" 2>/dev/null; then
    break
  fi
  sleep 0.2
done
export TRANCHE_MOTO_ENDPOINT="http://127.0.0.1:$moto_port"
echo "moto $("$moto_venv/bin/pip" show moto 2>/dev/null | sed -n 's/^Version: //p') on $TRANCHE_MOTO_ENDPOINT (pid $moto_pid)"

step "format"
cargo fmt --all --check

step "lint"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
cargo test --workspace --locked --no-fail-fast 2>&1 | tee target/test-output.txt

passed=$(grep -Eo 'test result: ok\. [0-9]+ passed' target/test-output.txt | awk '{s += $4} END {print s + 0}')
failed=$(grep -Eo '[0-9]+ failed' target/test-output.txt | awk '{s += $1} END {print s + 0}')
printf '\n%s passed, %s failed\n' "$passed" "$failed"
