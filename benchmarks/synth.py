"""Deterministic synthetic `terraform show -json` plans for benchmarks and equivalence tests.

`make_plan(n, seed)` returns a plan of exactly `n` resource changes. It is built from units:
every example of the catalog's real-Terraform fixtures (`tests/plans/**.json`, the real plan
output of Terraform 1.11.4 and hashicorp/aws 5.100.0 for each control's HCL examples) is one
unit, with its configuration and its references (S3 sub-resources joined to their bucket,
backup selections to plans, keys to their users) intact. Units are drawn with weights that give
realistic proportions of resource types, and placed into nested modules (`module.team.module.svc`),
some of them instantiated with `count` or `for_each`, some at the root with renamed resources.
Filler resources of types no control judges (Route 53 records, IAM attachments, SSM parameters,
some with sensitive values) make up about a third of the plan, as in real estates.

The same `n`, `seed` and fixture files give the same plan, byte for byte (`plan_bytes`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "plans"
PROVIDER = "registry.terraform.io/hashicorp/aws"
TF_VERSION = "1.11.4"

# Relative frequency of a resource type in a typical AWS estate (types not listed: 1.0).
# Sub-resources, IAM and network rules are common; clusters and domains are rare.
TYPE_WEIGHT: dict[str, float] = {
    "aws_s3_bucket": 4.0,
    "aws_s3_bucket_versioning": 3.0,
    "aws_s3_bucket_server_side_encryption_configuration": 3.0,
    "aws_s3_bucket_public_access_block": 3.0,
    "aws_s3_bucket_policy": 2.0,
    "aws_s3_bucket_logging": 1.5,
    "aws_s3_bucket_lifecycle_configuration": 1.5,
    "aws_security_group": 4.0,
    "aws_vpc_security_group_ingress_rule": 3.0,
    "aws_vpc_security_group_egress_rule": 2.0,
    "aws_security_group_rule": 3.0,
    "aws_iam_role": 4.0,
    "aws_iam_policy": 3.0,
    "aws_iam_role_policy": 2.0,
    "aws_iam_user": 1.0,
    "aws_cloudwatch_log_group": 4.0,
    "aws_cloudwatch_metric_alarm": 3.0,
    "aws_lambda_function": 3.0,
    "aws_kms_key": 2.0,
    "aws_sqs_queue": 2.0,
    "aws_sns_topic": 2.0,
    "aws_instance": 2.0,
    "aws_ebs_volume": 1.5,
    "aws_subnet": 2.0,
    "aws_dynamodb_table": 1.5,
    "aws_secretsmanager_secret": 1.5,
    "aws_ssm_parameter": 2.0,
    "aws_db_instance": 0.8,
    "aws_rds_cluster": 0.4,
    "aws_redshift_cluster": 0.2,
    "aws_opensearch_domain": 0.3,
    "aws_neptune_cluster": 0.2,
    "aws_elasticache_replication_group": 0.4,
    "aws_backup_vault": 0.4,
    "aws_backup_plan": 0.4,
    "aws_backup_selection": 0.4,
    "aws_msk_cluster": 0.2,
    "aws_emr_cluster": 0.2,
    "aws_dax_cluster": 0.1,
    "aws_fsx_lustre_file_system": 0.1,
    "aws_mq_broker": 0.2,
}
# Settings a Terraform configuration declares once per account or region (a trail with its CIS
# metric filters and alarms, the account's public access block, GuardDuty, ...). The fixtures
# hold many examples of them (every CIS alarm control has several), so drawn like other units
# they were a sixth of every plan: 616 trails and 442 metric filters in 10,000 resources, and
# joins between trails, filters and buckets grew with the square of the plan. A real estate
# declares a few; these units are drawn this much less often (about 1 per 1,000 resources).
ACCOUNT_LEVEL_TYPES = frozenset(
    {
        "aws_cloudtrail",
        "aws_s3_account_public_access_block",
        "aws_guardduty_detector",
        "aws_securityhub_account",
        "aws_config_configuration_recorder",
        "aws_iam_account_password_policy",
        "aws_ebs_encryption_by_default",
        "aws_ec2_instance_metadata_defaults",
        "aws_backup_vault_lock_configuration",
    }
)
ACCOUNT_LEVEL_FACTOR = 0.005
FILLER_SHARE = 0.35
TEAMS = ("payments", "identity", "data", "platform", "web", "ml", "ops", "edge")
ENVS = ("blue", "green", "eu-west-1", "us-east-1", "canary")


def _filler(kind: int, i: int, rnd: random.Random) -> dict[str, Any]:
    """One filler resource: type, name, after, after_unknown, after_sensitive, expressions."""
    if kind == 0:
        return {
            "type": "aws_route53_record",
            "after": {
                "name": f"svc{i}.example.internal",
                "type": "CNAME",
                "ttl": 300,
                "records": [f"lb{i}.example.internal"],
                "zone_id": "Z0123456789ABCDEFGHIJ",
                "allow_overwrite": None,
                "health_check_id": None,
                "set_identifier": None,
            },
            "after_unknown": {"fqdn": True, "id": True, "records": [False]},
            "after_sensitive": {"records": [False]},
            "expressions": {"zone_id": {"constant_value": "Z0123456789ABCDEFGHIJ"}},
        }
    if kind == 1:
        return {
            "type": "aws_iam_role_policy_attachment",
            "after": {"policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
            "after_unknown": {"id": True, "role": True},
            "after_sensitive": {},
            "expressions": {
                "policy_arn": {"constant_value": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
                "role": {"references": ["var.role_name"]},
            },
        }
    if kind == 2:
        return {
            "type": "aws_ssm_parameter",
            "after": {
                "name": f"/app/{i}/token",
                "type": "SecureString",
                "value": f"synthetic-not-a-secret-{rnd.randrange(10**6):06d}",
                "tier": "Standard",
                "tags": {"team": TEAMS[i % len(TEAMS)]},
                "description": None,
                "overwrite": None,
            },
            "after_unknown": {"arn": True, "id": True, "key_id": True, "tags_all": True},
            "after_sensitive": {"tags": {}, "tags_all": {}, "value": True},
            "expressions": {"name": {"constant_value": f"/app/{i}/token"}},
        }
    if kind == 3:
        return {
            "type": "aws_route",
            "after": {
                "destination_cidr_block": "0.0.0.0/0",
                "route_table_id": f"rtb-{i:08x}",
                "timeouts": None,
            },
            "after_unknown": {"gateway_id": True, "id": True, "state": True},
            "after_sensitive": {},
            "expressions": {"gateway_id": {"references": ["var.igw_id"]}},
        }
    return {
        "type": "aws_cloudwatch_log_resource_policy",
        "after": {
            "policy_name": f"logs-{i}",
            "policy_document": json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*"}]}
            ),
        },
        "after_unknown": {"id": True},
        "after_sensitive": {},
        "expressions": {"policy_name": {"constant_value": f"logs-{i}"}},
    }


@lru_cache(maxsize=4)
def load_units(
    fixtures: Path = FIXTURES, account_level: float = ACCOUNT_LEVEL_FACTOR
) -> tuple[tuple[float, str], ...]:
    """The fixture examples as (weight, JSON text of {resources, changes}), in a stable order.

    Units holding an account-level setting weigh account_level times their types' weight.
    """
    units: list[tuple[float, str]] = []
    for path in sorted(fixtures.rglob("*.json")):
        doc = json.loads(path.read_text())
        for name in sorted(doc.get("examples", {})):
            example = doc["examples"][name]
            calls = example["configuration"]["root_module"].get("module_calls", {})
            if len(calls) != 1:
                continue
            (call,) = calls.values()
            changes = [rc for rc in example.get("resource_changes", []) if rc.get("type")]
            if not changes or call["module"].get("module_calls"):
                continue
            for rc in changes:
                rc.pop("module_address", None)
                rc["address"] = rc["address"].split(".", 2)[2]
            types = [rc["type"] for rc in changes]
            weight = sum(TYPE_WEIGHT.get(t, 1.0) for t in types) / len(types)
            if ACCOUNT_LEVEL_TYPES.intersection(types):
                weight *= account_level
            unit = {"resources": call["module"].get("resources", []), "changes": changes}
            units.append((weight, json.dumps(unit, sort_keys=True)))
    if not units:
        raise RuntimeError(f"no fixture examples under {fixtures}")
    return tuple(units)


# Attributes that name a resource, by which other resources join to it by value (lib/refs.rego
# reads name and bucket). AWS wants these unique per account and region (S3 bucket names
# worldwide), so each placed copy of a unit gets its own: a plan that repeated one role name a
# hundred times would join each policy attachment to a hundred roles, a cross product no real
# estate has (until 26 Nov 2026 it did: every copy of a unit kept the fixture's names).
NAME_KEYS = ("name", "bucket", "identifier", "cluster_identifier", "function_name")
_PLAIN_NAME = re.compile(r"^/?[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$")
# A default security group's name and AWS-managed key aliases mean something as they are.
_KEEP_NAMES = re.compile(r"^(default|alias/aws/.*)$")
GENERATOR_VERSION = 2


def _unique_names(changes: list[dict[str, Any]], tag: str) -> None:
    """Give one placed copy of a unit its own resource names, in every value that holds them.

    The names its resources carry (NAME_KEYS; plain names and paths such as a log group's) get
    `-tag` appended wherever they occur whole (not inside a longer name, path or dotted word) in
    the copy's planned values: in the attributes that join by value
    (a policy attachment's role, a bucket's sub-resources) and inside ARNs and policy
    documents, so the copy stays consistent with itself.
    """
    names = sorted(
        {
            v
            for rc in changes
            if isinstance(rc["change"].get("after"), dict)
            for k in NAME_KEYS
            if isinstance(v := rc["change"]["after"].get(k), str)
            and _PLAIN_NAME.match(v)
            and not _KEEP_NAMES.match(v)
        },
        key=len,
        reverse=True,
    )
    if not names:
        return
    word = re.compile(
        r"(?<![A-Za-z0-9_./-])(" + "|".join(re.escape(n) for n in names) + r")(?![A-Za-z0-9_./-])"
    )

    def fix(node: Any) -> Any:
        if isinstance(node, str):
            return word.sub(lambda m: f"{m.group(1)}-{tag}", node)
        if isinstance(node, dict):
            return {k: fix(v) for k, v in node.items()}
        if isinstance(node, list):
            return [fix(v) for v in node]
        return node

    for rc in changes:
        if rc["change"].get("after") is not None:
            rc["change"]["after"] = fix(rc["change"]["after"])


def _keep_names(changes: list[dict[str, Any]], tag: str) -> None:
    """What --shared-names does instead of `_unique_names`: nothing."""


def _rename(unit: dict[str, Any], suffix: str) -> None:
    """Rename a unit's resources for placement at the root, rewriting references to them."""
    names = {f"{r['type']}.{r['name']}" for r in unit["resources"] if r.get("mode") == "managed"}
    if not names:
        return
    pattern = re.compile(
        r"^("
        + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
        + r")(?=$|[.\[])"
    )

    def fix(ref: str) -> str:
        return pattern.sub(lambda m: m.group(1) + suffix, ref)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "references" and isinstance(value, list):
                    node[key] = [fix(v) if isinstance(v, str) else v for v in value]
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for r in unit["resources"]:
        if r.get("mode") == "managed":
            r["name"] += suffix
            r["address"] = fix(r["address"])
        walk(r.get("expressions", {}))
    for rc in unit["changes"]:
        if rc.get("mode") == "managed":
            rc["name"] += suffix
            rc["address"] = fix(rc["address"])


class _Builder:
    def __init__(self) -> None:
        self.changes: list[dict[str, Any]] = []
        self.root: dict[str, Any] = {"resources": [], "module_calls": {}}
        self.planned: dict[str, Any] = {"resources": [], "child_modules": []}
        self._planned_mods: dict[str, dict[str, Any]] = {"": self.planned}

    def planned_module(self, address: str) -> dict[str, Any]:
        mod = self._planned_mods.get(address)
        if mod is None:
            parent = self.planned_module(
                address.rsplit(".module.", 1)[0] if ".module." in address else ""
            )
            mod = {"address": address, "resources": [], "child_modules": []}
            parent["child_modules"].append(mod)
            self._planned_mods[address] = mod
        return mod

    def add(self, module_address: str, changes: list[dict[str, Any]]) -> None:
        for rc in changes:
            if module_address:
                rc["address"] = f"{module_address}.{rc['address']}"
                rc["module_address"] = module_address
            rc.setdefault("provider_name", PROVIDER)
            self.changes.append(rc)
            after = rc["change"].get("after")
            if after is None:
                continue
            planned = {
                "address": rc["address"],
                "mode": rc["mode"],
                "type": rc["type"],
                "name": rc["name"],
                "provider_name": rc["provider_name"],
                "schema_version": 0,
                "values": after,
                "sensitive_values": rc["change"].get("after_sensitive") or {},
            }
            if "index" in rc:
                planned["index"] = rc["index"]
            self.planned_module(module_address)["resources"].append(planned)


def _instances(rnd: random.Random) -> tuple[dict[str, Any], list[str]]:
    """How a module call is instantiated: its configuration keys and its instance suffixes."""
    roll = rnd.random()
    if roll < 0.15:
        count = rnd.randint(2, 3)
        return {"count_expression": {"constant_value": count}}, [f"[{i}]" for i in range(count)]
    if roll < 0.3:
        keys = sorted(rnd.sample(ENVS, rnd.randint(2, 3)))
        return (
            {"for_each_expression": {"references": ["local.environments"]}},
            [f'["{k}"]' for k in keys],
        )
    return {}, [""]


def make_plan(
    n: int,
    seed: int = 0,
    fixtures: Path = FIXTURES,
    account_level: float = ACCOUNT_LEVEL_FACTOR,
    shared_names: bool = False,
) -> dict[str, Any]:
    """A plan of exactly `n` resource changes; the same arguments give the same plan.

    account_level=1.0 draws account-level settings like any other example (many trails, filters
    and alarms side by side), for tests that look for rules that break on repeated settings.
    shared_names=True keeps the fixtures' resource names in every copy (many roles called `app`,
    many buckets called `logs`), a shape that would make joins by name grow with the square of
    the plan if the policy let them.
    """
    rename = _keep_names if shared_names else _unique_names
    if n < 0:
        raise ValueError("n must be >= 0")
    rnd = random.Random(f"soc2opa-synth:{n}:{seed}")
    units = load_units(fixtures, account_level)
    weights = [w for w, _ in units]
    b = _Builder()
    target_units = round(n * (1 - FILLER_SHARE))
    serial = 0
    while len(b.changes) < target_units:
        serial += 1
        text = units[rnd.choices(range(len(units)), weights)[0]][1]
        unit = json.loads(text)
        if len(b.changes) + len(unit["changes"]) > target_units:
            break
        if rnd.random() < 0.1:
            _rename(unit, f"_r{serial}")
            rename(unit["changes"], f"u{serial}")
            b.root["resources"].extend(unit["resources"])
            b.add("", unit["changes"])
            continue
        team = TEAMS[rnd.randrange(len(TEAMS))]
        team_call = b.root["module_calls"].setdefault(
            team, {"source": f"./modules/{team}", "module": {"resources": [], "module_calls": {}}}
        )
        extra, suffixes = _instances(rnd)
        if len(b.changes) + len(unit["changes"]) * len(suffixes) > target_units:
            extra, suffixes = {}, [""]
        svc = f"svc{serial}"
        team_call["module"]["module_calls"][svc] = {
            "source": f"./modules/{svc}",
            **extra,
            "module": {"resources": unit["resources"]},
        }
        for k, suffix in enumerate(suffixes):
            changes = unit["changes"] if k == 0 else json.loads(text)["changes"]
            rename(changes, f"u{serial}" if k == 0 else f"u{serial}-{k}")
            b.add(f"module.{team}.module.{svc}{suffix}", changes)
    i = 0
    while len(b.changes) < n:
        spec = _filler(i % 5, i, rnd)
        counted = i % 7 == 3 and len(b.changes) + 2 <= n
        team = TEAMS[i % len(TEAMS)]
        in_module = i % 3 != 0
        module_address = f"module.{team}" if in_module else ""
        name = f"f{i}"
        cfg: dict[str, Any] = {
            "address": f"{spec['type']}.{name}",
            "mode": "managed",
            "type": spec["type"],
            "name": name,
            "provider_config_key": "aws",
            "schema_version": 0,
            "expressions": spec["expressions"],
        }
        if counted:
            cfg["count_expression"] = {"constant_value": 2}
        if in_module:
            team_call = b.root["module_calls"].setdefault(
                team,
                {"source": f"./modules/{team}", "module": {"resources": [], "module_calls": {}}},
            )
            team_call["module"]["resources"].append(cfg)
        else:
            b.root["resources"].append(cfg)
        for idx in (0, 1) if counted else (None,):
            rc: dict[str, Any] = {
                "address": f"{spec['type']}.{name}" + ("" if idx is None else f"[{idx}]"),
                "mode": "managed",
                "type": spec["type"],
                "name": name,
                "provider_name": PROVIDER,
                "change": {
                    "actions": ["create"],
                    "before": None,
                    "after": spec["after"],
                    "after_unknown": spec["after_unknown"],
                    "before_sensitive": False,
                    "after_sensitive": spec["after_sensitive"],
                },
            }
            if idx is not None:
                rc["index"] = idx
            b.add(module_address, [rc])
        i += 1
    return {
        "format_version": "1.2",
        "terraform_version": TF_VERSION,
        "planned_values": {"root_module": b.planned},
        "resource_changes": b.changes,
        "configuration": {
            "provider_config": {"aws": {"name": "aws", "full_name": PROVIDER}},
            "root_module": b.root,
        },
        "timestamp": "2026-01-01T00:00:00Z",
        "applyable": True,
        "complete": True,
        "errored": False,
    }


def plan_bytes(
    n: int,
    seed: int = 0,
    fixtures: Path = FIXTURES,
    account_level: float = ACCOUNT_LEVEL_FACTOR,
    shared_names: bool = False,
) -> bytes:
    """The plan as compact JSON bytes (what a file written by `write_plan` holds)."""
    plan = make_plan(n, seed, fixtures, account_level, shared_names)
    return json.dumps(plan, separators=(",", ":")).encode()


def write_plan(
    path: Path,
    n: int,
    seed: int = 0,
    fixtures: Path = FIXTURES,
    account_level: float = ACCOUNT_LEVEL_FACTOR,
    shared_names: bool = False,
) -> Path:
    """Write the plan to `path`; returns `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(plan_bytes(n, seed, fixtures, account_level, shared_names))
    return path


def fixtures_digest(fixtures: Path = FIXTURES) -> str:
    """A short hash of the fixture units and their weights: plans are identical when this and
    (n, seed) are."""
    h = hashlib.sha256(f"generator {GENERATOR_VERSION}\n".encode())
    for weight, text in load_units(fixtures):
        h.update(f"{weight!r}\n".encode())
        h.update(text.encode())
    return h.hexdigest()[:16]


def _weight(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0.0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"give a positive number, not {text!r}")
    return value


def add_shape_options(ap: argparse.ArgumentParser) -> None:
    """The plan-shape options (--account-level, --shared-names), for this and scripts/bench.py."""
    ap.add_argument(
        "--account-level",
        type=_weight,
        default=ACCOUNT_LEVEL_FACTOR,
        help="weight of account-wide settings (trails, metric filters, ...) against other "
        f"examples; 1.0 draws them like any other (default {ACCOUNT_LEVEL_FACTOR})",
    )
    ap.add_argument(
        "--shared-names",
        action="store_true",
        help="copies keep the fixtures' resource names instead of getting their own",
    )


def main() -> None:
    """Command line: write one synthetic plan."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("resources", type=int)
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=0)
    add_shape_options(ap)
    args = ap.parse_args()
    write_plan(args.out, args.resources, args.seed, FIXTURES, args.account_level, args.shared_names)


if __name__ == "__main__":
    main()
