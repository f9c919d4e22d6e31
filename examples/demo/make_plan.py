"""Writes plan.json: a small but realistic `terraform show -json` plan for `make demo`.

It mimics Terraform 1.9 / AWS provider 5.x output for a SaaS stack: buckets with the separate
encryption resource (one module instance per bucket via for_each), an unencrypted database,
a CloudFront distribution, load balancer listeners, a trail, backups and a certificate.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CHANGES: list[dict[str, Any]] = []
ROOT_RES: list[dict[str, Any]] = []
MODULES: dict[str, Any] = {}


def res(address: str, after: dict[str, Any], unknown: dict[str, Any] | None = None, *,
        refs: dict[str, Any] | None = None, sensitive: dict[str, Any] | None = None,
        actions: list[str] | None = None, module: str = "", index: Any = None) -> None:
    rtype, name = address.split(".")[-2:] if index is None else address.rsplit("[", 1)[0].split(".")[-2:]
    full = f"{module}.{address}" if module else address
    rc: dict[str, Any] = {
        "address": full, "mode": "managed", "type": rtype, "name": name,
        "provider_name": "registry.terraform.io/hashicorp/aws",
        "change": {"actions": actions or ["create"],
                   "before": after if actions == ["delete"] else None,
                   "after": None if actions == ["delete"] else after,
                   "after_unknown": {"id": True, "arn": True, "tags_all": True, **(unknown or {})},
                   "before_sensitive": False, "after_sensitive": sensitive or {}},
    }
    if module:
        rc["module_address"] = module
    if index is not None:
        rc["index"] = index
    CHANGES.append(rc)
    cfg = {"address": f"{rtype}.{name}", "mode": "managed", "type": rtype, "name": name,
           "provider_config_key": "aws", "expressions": refs or {}, "schema_version": 0}
    if module:
        call = module.split(".")[1].split("[")[0]
        resources = MODULES.setdefault(call, {"source": f"./modules/{call}", "module": {"resources": []}})
        if not any(r["address"] == cfg["address"] for r in resources["module"]["resources"]):
            resources["module"]["resources"].append(cfg)
    else:
        ROOT_RES.append(cfg)


def ref(*targets: str) -> dict[str, Any]:
    return {"references": list(targets)}


def build() -> dict[str, Any]:
    kms = {"kms_key_id": True, "kms_key_arn": True}
    res("aws_kms_key.data", {"enable_key_rotation": True, "deletion_window_in_days": 30}, {"key_id": True})
    for bucket in ("invoices", "exports"):
        mod = f'module.bucket["{bucket}"]'
        res("aws_s3_bucket.this", {"bucket": f"acme-{bucket}", "force_destroy": False},
            {"server_side_encryption_configuration": True, "versioning": True, "logging": True},
            module=mod, refs={"bucket": ref("var.name")})
        res("aws_s3_bucket_server_side_encryption_configuration.this",
            {"expected_bucket_owner": None,
             "rule": [{"apply_server_side_encryption_by_default": [{"sse_algorithm": "aws:kms"}],
                       "bucket_key_enabled": True}]},
            {"bucket": True, "rule": [{"apply_server_side_encryption_by_default": [{"kms_master_key_id": True}]}]},
            module=mod, refs={"bucket": ref("aws_s3_bucket.this.id", "aws_s3_bucket.this"),
                              "rule": [{"apply_server_side_encryption_by_default": [{"kms_master_key_id": ref("var.kms_key_arn")}]}]})
    res("aws_s3_bucket.scratch", {"bucket": "acme-scratch", "force_destroy": True},
        {"server_side_encryption_configuration": True})
    res("aws_s3_bucket.old_reports", {"bucket": "acme-old-reports"}, actions=["delete"])
    res("aws_db_instance.main",
        {"engine": "postgres", "engine_version": "16.3", "instance_class": "db.t4g.medium",
         "allocated_storage": 100, "storage_encrypted": False, "username": "app",
         "password": "correct-horse-battery-staple", "backup_retention_period": 7, "multi_az": True},
        {"endpoint": True, "address": True}, sensitive={"password": True}, module="module.db")
    res("aws_rds_cluster.analytics", {"engine": "aurora-postgresql", "storage_encrypted": True,
                                      "master_username": "analytics"}, {**kms, "endpoint": True}, module="module.db")
    res("aws_ebs_volume.build_cache", {"availability_zone": "eu-west-1a", "size": 200, "type": "gp3"},
        {"encrypted": True, "iops": True, "throughput": True, "snapshot_id": True, **kms})
    res("aws_ebs_volume.ci_artifacts", {"availability_zone": "eu-west-1a", "size": 50, "type": "gp3",
                                        "encrypted": True}, kms)
    res("aws_dynamodb_table.sessions", {"name": "sessions", "billing_mode": "PAY_PER_REQUEST", "hash_key": "id",
                                        "server_side_encryption": []}, {"stream_arn": True})
    res("aws_cloudfront_distribution.web",
        {"enabled": True, "default_root_object": "index.html", "logging_config": [],
         "default_cache_behavior": [{"viewer_protocol_policy": "allow-all", "target_origin_id": "web",
                                     "allowed_methods": ["GET", "HEAD"], "cached_methods": ["GET", "HEAD"],
                                     "field_level_encryption_id": ""}],
         "ordered_cache_behavior": [],
         "viewer_certificate": [{"cloudfront_default_certificate": False, "acm_certificate_arn": None,
                                 "minimum_protocol_version": "TLSv1.2_2021", "ssl_support_method": "sni-only"}]},
        {"domain_name": True, "viewer_certificate": [{"acm_certificate_arn": True}]},
        refs={"viewer_certificate": [{"acm_certificate_arn": ref("aws_acm_certificate.web.arn", "aws_acm_certificate.web")}]})
    res("aws_lb_listener.https", {"port": 443, "protocol": "HTTPS", "ssl_policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
                                  "default_action": [{"type": "forward"}]}, {"load_balancer_arn": True, "certificate_arn": True})
    res("aws_lb_listener.http_redirect", {"port": 80, "protocol": "HTTP", "default_action": [
        {"type": "redirect", "redirect": [{"protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"}]}]},
        {"load_balancer_arn": True})
    res("aws_lb_listener.admin", {"port": 8080, "protocol": "HTTP", "default_action": [{"type": "forward", "redirect": []}]},
        {"load_balancer_arn": True})
    res("aws_cloudtrail.main", {"name": "main", "is_multi_region_trail": False, "enable_logging": True,
                                "enable_log_file_validation": False, "include_global_service_events": True,
                                "event_selector": [], "advanced_event_selector": []}, {"kms_key_id": True})
    res("aws_backup_vault.main", {"name": "main", "force_destroy": False}, {"kms_key_arn": True},
        refs={"kms_key_arn": ref("aws_kms_key.data.arn", "aws_kms_key.data")})
    res("aws_backup_plan.daily", {"name": "daily", "rule": [{"rule_name": "daily", "target_vault_name": "main",
                                                             "schedule": "cron(0 3 * * ? *)",
                                                             "lifecycle": [{"delete_after": 14, "cold_storage_after": None}],
                                                             "copy_action": []}]}, {"version": True})
    res("aws_acm_certificate.web", {"domain_name": "www.acme.example", "validation_method": "DNS",
                                    "certificate_body": None, "private_key": None},
        {"not_after": True, "not_before": True, "domain_validation_options": True}, sensitive={"private_key": True})
    res("aws_acm_certificate_validation.web", {}, {"certificate_arn": True},
        refs={"certificate_arn": ref("aws_acm_certificate.web.arn", "aws_acm_certificate.web")})
    return {
        "format_version": "1.2",
        "terraform_version": "1.9.5",
        "planned_values": {"root_module": {}},
        "resource_changes": CHANGES,
        "configuration": {"provider_config": {"aws": {"name": "aws", "full_name": "registry.terraform.io/hashicorp/aws"}},
                          "root_module": {"resources": ROOT_RES, "module_calls": {
                              **MODULES,
                              "bucket": {**MODULES["bucket"], "for_each_expression": ref("local.buckets")},
                          }}},
        "timestamp": "2026-11-23T09:00:00Z",
        "applyable": True,
        "complete": True,
        "errored": False,
    }


if __name__ == "__main__":
    Path(__file__).with_name("plan.json").write_text(json.dumps(build(), indent=2) + "\n")
