"""Offline tests of the policygate module's input validation.

Why this exists: `terraform init/validate/plan` of the whole module need the
AWS provider, which cannot be downloaded on the machines that run CI. The
module's `variables.tf` alone needs no provider, so it is copied into a scratch
root module and planned with a valid baseline (which must succeed) and with one
bad input at a time (which must fail with the expected message). This proves
that every validation rule parses, evaluates, accepts good input and rejects
the bad input it is written for.

Usage: python3 variable_validation.py [path/to/terraform]
Exit status 0 when every case behaved as expected.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

MODULE = pathlib.Path(__file__).resolve().parent.parent / "modules" / "policygate"

BASELINE = """
environment                        = "prod"
vpc_id                             = "vpc-0123456789abcdef0"
task_subnet_ids                    = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
alb_subnet_ids                     = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
allowed_ingress_security_group_ids = ["sg-0123456789abcdef0"]
image_tag                          = "0.1.0-2026-11-25.1"
"""

# (what the case shows, tfvars overriding the baseline, expected message
# fragment or None when the plan must succeed)
CASES: list[tuple[str, str, str | None]] = [
    ("baseline is valid", "", None),
    ("HTTPS with a certificate, public ALB", 'internal = false\ncertificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/abc"', None),
    ("CIDR callers only", 'allowed_ingress_security_group_ids = []\nallowed_ingress_cidr_blocks = ["10.0.0.0/16"]', None),
    ("largest Fargate size", "task_cpu = 16384\ntask_memory = 122880", None),
    ("existing repository", 'create_ecr_repository = false\nimage_repository_url = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/policygate"', None),
    ("name with capitals", 'name = "PolicyGate"', "name must be 2-28 characters"),
    ("name too long", 'name = "policygate-with-a-very-long-name"', "name must be 2-28 characters"),
    ("environment with a space", 'environment = "prod eu"', "environment must match"),
    ("malformed VPC id", 'vpc_id = "my-vpc"', "vpc_id must look like"),
    ("no task subnet", "task_subnet_ids = []", "task_subnet_ids must hold at least one"),
    ("ALB in one subnet", 'alb_subnet_ids = ["subnet-0123456789abcdef0"]', "alb_subnet_ids must hold at least two"),
    ("nobody may call", "allowed_ingress_security_group_ids = []", "no caller can reach PolicyGate"),
    ("bad CIDR", 'allowed_ingress_cidr_blocks = ["10.0.0.0/33"]', "must be IPv4 CIDR blocks"),
    ("IPv6 CIDR", 'allowed_ingress_cidr_blocks = ["fd00::/8"]', "must be IPv4 CIDR blocks"),
    ("bad security group id", 'allowed_ingress_security_group_ids = ["callers"]', "must be security group ids"),
    ("public ALB without TLS", "internal = false", "must use HTTPS"),
    ("certificate that is not ACM", 'certificate_arn = "arn:aws:iam::123456789012:server-certificate/x"', "certificate_arn must be an ACM certificate ARN"),
    ("weak TLS policy", 'ssl_policy = "ELBSecurityPolicy-2016-08"', "ssl_policy must be a TLS 1.2+ policy"),
    ("latest tag", 'image_tag = "latest"', "not \"latest\""),
    ("tag with a colon", 'image_tag = "1.0:x"', "image_tag must be a valid image tag"),
    ("no repository at all", "create_ecr_repository = false", "Set image_repository_url"),
    ("repository URL outside ECR", 'create_ecr_repository = false\nimage_repository_url = "docker.io/library/policygate"', "must be a private ECR repository URL"),
    ("unpinned log router", 'log_router_image = "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable"', "log_router_image must be pinned"),
    ("privileged port", "container_port = 80", "container_port must be 1024-65535"),
    ("FireLens port", "container_port = 24224", "not 24224"),
    ("CPU not a Fargate size", "task_cpu = 300", "task_cpu must be one of"),
    ("memory not valid for CPU", "task_cpu = 256\ntask_memory = 4096", "task_memory is not a valid Fargate size"),
    ("memory off the step", "task_cpu = 8192\ntask_memory = 17408", "task_memory is not a valid Fargate size"),
    ("max below min", "min_capacity = 3\nmax_capacity = 2\ndesired_count = 3", "max_capacity must be >= min_capacity"),
    ("desired above max", "desired_count = 20", "desired_count must lie between"),
    ("retention not offered by CloudWatch", "audit_log_retention_days = 100", "audit_log_retention_days must be a CloudWatch Logs retention value"),
    ("operational retention invalid", "operational_log_retention_days = 0", "operational_log_retention_days must be"),
    ("log prefix without slash", 'log_group_prefix = "policygate"', "log_group_prefix must start with /"),
    ("log prefix with trailing slash", 'log_group_prefix = "/policygate/"', "log_group_prefix must start with /"),
    ("bad KMS key", 'kms_key_arn = "alias/policygate"', "kms_key_arn must be a KMS key ARN"),
    ("bucket ARN instead of name", 'alb_access_logs_bucket = "arn:aws:s3:::logs"', "alb_access_logs_bucket must be an S3 bucket name"),
    ("bad web ACL", 'web_acl_arn = "acl-1"', "web_acl_arn must be a WAFv2 web ACL ARN"),
    ("too few images kept", "ecr_keep_images = 2", "ecr_keep_images must be"),
    ("CPU target out of range", "cpu_target_percent = 95", "cpu_target_percent must be"),
    ("request target zero", "requests_per_target = 0", "requests_per_target must be"),
]


def run(terraform: str, workdir: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1")
    # A CLI config file that does not exist only produces a warning; drop it.
    if env.get("TF_CLI_CONFIG_FILE") and not pathlib.Path(env["TF_CLI_CONFIG_FILE"]).exists():
        del env["TF_CLI_CONFIG_FILE"]
    return subprocess.run(
        [terraform, *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def main() -> int:
    terraform = sys.argv[1] if len(sys.argv) > 1 else "terraform"
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="policygate-tf-validation-") as tmp:
        root = pathlib.Path(tmp)
        shutil.copy(MODULE / "variables.tf", root / "variables.tf")
        (root / "baseline.tfvars").write_text(BASELINE)
        init = run(terraform, root, "init", "-backend=false", "-input=false", "-no-color")
        if init.returncode != 0:
            print(f"terraform init of the scratch module failed:\n{init.stdout}{init.stderr}", file=sys.stderr)
            return 1
        for what, override, expected in CASES:
            (root / "case.tfvars").write_text(override + "\n")
            plan = run(
                terraform, root, "plan", "-input=false", "-no-color", "-lock=false",
                "-var-file=baseline.tfvars", "-var-file=case.tfvars",
            )
            # Terraform wraps long messages; compare with whitespace collapsed.
            output = " ".join((plan.stdout + plan.stderr).split())
            if expected is None:
                good = plan.returncode == 0
                why = "" if good else f"plan failed:\n{plan.stderr}"
            else:
                good = plan.returncode != 0 and " ".join(expected.split()) in output
                why = "" if good else (
                    "plan succeeded" if plan.returncode == 0 else f"message not found; output:\n{plan.stderr}"
                )
            if good:
                passed += 1
                print(f"ok   {what}")
            else:
                failed += 1
                print(f"FAIL {what}: expected {'success' if expected is None else repr(expected)}; {why}", file=sys.stderr)
    print(f"terraform validation: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
