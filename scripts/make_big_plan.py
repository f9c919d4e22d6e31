"""Writes a synthetic `terraform show -json` plan of N resources for benchmarks."""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

PAD = {f"tag_{i}": f"value-{i:04d}-" + "x" * 40 for i in range(8)}


def _change(
    address: str,
    rtype: str,
    name: str,
    after: dict[str, Any],
    unknown: dict[str, Any],
    module: str = "",
    index: int | None = None,
) -> dict[str, Any]:
    rc: dict[str, Any] = {
        "address": address,
        "mode": "managed",
        "type": rtype,
        "name": name,
        "provider_name": "registry.terraform.io/hashicorp/aws",
        "change": {
            "actions": ["create"],
            "before": None,
            "after": after,
            "after_unknown": unknown,
            "before_sensitive": False,
            "after_sensitive": {"tags": {}, "tags_all": {}},
        },
    }
    if module:
        rc["module_address"] = module
    if index is not None:
        rc["index"] = index
    return rc


def make_plan(n: int, seed: int = 7) -> dict[str, Any]:
    rnd = random.Random(seed)
    changes: list[dict[str, Any]] = []
    modules: dict[str, Any] = {}
    per_module = 50
    i = 0
    while len(changes) < n:
        mod = f"svc{i // per_module}"
        maddr = f"module.{mod}"
        cfg = modules.setdefault(mod, {"source": "./modules/svc", "module": {"resources": []}})
        k = i % per_module
        kind = k % 5
        tags = dict(PAD, Name=f"{mod}-{k}")
        if kind == 0:
            changes.append(
                _change(
                    f"{maddr}.aws_s3_bucket.b{k}",
                    "aws_s3_bucket",
                    f"b{k}",
                    {
                        "bucket": f"{mod}-b{k}",
                        "tags": tags,
                        "force_destroy": False,
                        "server_side_encryption_configuration": [],
                    },
                    {"id": True, "arn": True, "tags_all": True},
                    maddr,
                )
            )
            cfg["module"]["resources"].append(
                {
                    "address": f"aws_s3_bucket.b{k}",
                    "mode": "managed",
                    "type": "aws_s3_bucket",
                    "name": f"b{k}",
                    "expressions": {"bucket": {"constant_value": "x"}},
                }
            )
        elif kind == 1:
            b = k - 1
            changes.append(
                _change(
                    f"{maddr}.aws_s3_bucket_server_side_encryption_configuration.b{b}",
                    "aws_s3_bucket_server_side_encryption_configuration",
                    f"b{b}",
                    {
                        "rule": [
                            {
                                "apply_server_side_encryption_by_default": [
                                    {"sse_algorithm": rnd.choice(["AES256", "aws:kms"])}
                                ]
                            }
                        ]
                    },
                    {"bucket": True, "id": True},
                    maddr,
                )
            )
            cfg["module"]["resources"].append(
                {
                    "address": f"aws_s3_bucket_server_side_encryption_configuration.b{b}",
                    "mode": "managed",
                    "type": "aws_s3_bucket_server_side_encryption_configuration",
                    "name": f"b{b}",
                    "expressions": {
                        "bucket": {"references": [f"aws_s3_bucket.b{b}.id", f"aws_s3_bucket.b{b}"]}
                    },
                }
            )
        elif kind == 2:
            enc = rnd.choice([True, False, None])
            after = {"size": 100, "type": "gp3", "availability_zone": "eu-west-1a", "tags": tags}
            unknown: dict[str, Any] = {"id": True, "arn": True}
            if enc is None:
                unknown["encrypted"] = True
            else:
                after["encrypted"] = enc
            changes.append(
                _change(
                    f"{maddr}.aws_ebs_volume.v{k}", "aws_ebs_volume", f"v{k}", after, unknown, maddr
                )
            )
        elif kind == 3:
            changes.append(
                _change(
                    f"{maddr}.aws_db_instance.db{k}",
                    "aws_db_instance",
                    f"db{k}",
                    {
                        "engine": "postgres",
                        "instance_class": "db.t3.micro",
                        "storage_encrypted": rnd.choice([True, False, None]),
                        "backup_retention_period": 7,
                        "tags": tags,
                        "password": "not-a-real-secret",
                    },
                    {"id": True, "arn": True, "endpoint": True},
                    maddr,
                )
            )
        else:
            changes.append(
                _change(
                    f"{maddr}.aws_security_group.sg{k}",
                    "aws_security_group",
                    f"sg{k}",
                    {
                        "name": f"sg-{k}",
                        "description": "bench",
                        "tags": tags,
                        "ingress": [
                            {
                                "from_port": 443,
                                "to_port": 443,
                                "protocol": "tcp",
                                "cidr_blocks": ["10.0.0.0/8"],
                            }
                        ],
                    },
                    {"id": True, "arn": True},
                    maddr,
                )
            )
        i += 1
    return {
        "format_version": "1.2",
        "terraform_version": "1.9.5",
        "planned_values": {"root_module": {}},
        "resource_changes": changes,
        "configuration": {"root_module": {"module_calls": modules}},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--resources", type=int, default=10_000)
    ap.add_argument("out", type=Path)
    args = ap.parse_args()
    args.out.write_text(json.dumps(make_plan(args.resources), indent=2))


if __name__ == "__main__":
    main()
