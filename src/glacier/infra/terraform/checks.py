"""The checkov checks Glacier's Terraform skips on purpose, each with the reason it is true.

This table is the single source: the renderers write ``#checkov:skip=ID:reason`` from it, and
``docs/security.md`` lists the same IDs and reasons (a test keeps the two in step).
"""

from __future__ import annotations

from glacier.infra.hcl import Block, Comment

SKIPS: dict[str, str] = {
    # --- AWS ---
    "CKV_AWS_18": (
        "S3 server access logs need a separate log bucket chosen by the account owner; "
        "CloudTrail data events are the alternative"
    ),
    "CKV_AWS_144": (
        "cross-region replication needs a second region and doubles storage cost; S3 already "
        "stores objects across at least three availability zones"
    ),
    "CKV2_AWS_62": (
        "Glacier tasks are started by the pipeline scheduler, not by bucket event notifications"
    ),
    "CKV_AWS_116": (
        "Glacier invokes functions synchronously and retries failed tasks itself; a dead-letter "
        "queue only applies to asynchronous invocations"
    ),
    "CKV_AWS_117": (
        "the function only calls S3, KMS and CloudWatch over AWS endpoints; attaching it to a VPC "
        "needs NAT or VPC endpoints from the user's network"
    ),
    "CKV_AWS_272": (
        "the code zip is built locally by glacier package; code signing needs an AWS Signer "
        "profile that Glacier cannot create for the user"
    ),
    # --- GCP ---
    "CKV_GCP_62": (
        "GCS usage logs need a separate log bucket chosen by the project owner; Cloud Audit "
        "Logs record data access instead"
    ),
    "CKV_GCP_38": (
        "customer-supplied encryption keys must be held by the caller on every API call; disks "
        "are encrypted with Google-managed keys"
    ),
    "CKV_GCP_91": (
        "customer-supplied encryption keys must be held by the caller on every API call; disks "
        "are encrypted with Google-managed keys"
    ),
    # --- Azure ---
    "CKV2_AZURE_1": (
        "data is encrypted at rest with Microsoft-managed keys plus infrastructure encryption; "
        "customer-managed keys need a Key Vault the user owns"
    ),
    "CKV2_AZURE_33": (
        "a private endpoint needs a private DNS zone and network the user owns; access is "
        "restricted by Entra ID role assignments and shared keys are disabled"
    ),
    "CKV_AZURE_33": "Glacier creates no storage queues, so there is no queue service to log",
    "CKV2_AZURE_21": (
        "blob read logging needs a diagnostic setting to a Log Analytics workspace the user "
        "owns; Entra ID sign-in and role assignment logs record access"
    ),
    "CKV_AZURE_59": (
        "public network access is needed by the Functions host and callers outside Azure; "
        "shared keys are disabled and every request needs an Entra ID role"
    ),
    "CKV_AZURE_206": (
        "ZRS keeps three synchronous copies across availability zones; geo-replication doubles "
        "the cost and is one setting away (AzureBlobConfig(replication='GZRS'))"
    ),
    "CKV_AZURE_212": (
        "a Flex Consumption plan scales from zero on demand; a minimum instance count means "
        "always-ready instances billed while idle, and the scheduler retries failed tasks"
    ),
    "CKV_AZURE_225": (
        "Glacier functions are stateless and retried by the scheduler; zone redundancy of Flex "
        "Consumption plans exists only in some regions"
    ),
}


def skip(block: Block, *ids: str) -> Block:
    """Put checkov skip comments for ``ids`` at the top of ``block`` (checkov reads them there)."""
    block.body[0:0] = [Comment(f"checkov:skip={i}:{SKIPS[i]}") for i in ids]
    return block
