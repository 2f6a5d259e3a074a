"""The settings contract, in one place.

Users' pipelines depend on these names (Meltano exposes the nested objects as dotted
settings, e.g. ``talentsoft.client_id`` / ``TAP_HRDATA_TALENTSOFT_CLIENT_ID``), so a name
here is never renamed. Defaults of nested settings live in the schema too, and
:func:`source_settings` is the only place that reads a source's block with them applied.
"""

from __future__ import annotations

import typing as t

from singer_sdk import typing as th

GLOBAL_SETTINGS = th.PropertiesList(
    th.Property(
        "start_date",
        th.DateTimeType,
        description="Earliest record date to sync on a first run (HrFlow updated_at, YouServe "
        "upload date, Coresignal last_updated). Later runs use their bookmarks.",
    ),
    th.Property(
        "files_storage_url",
        th.StringType,
        default="output/files",
        description="Where file bytes (Talentsoft attachments, YouServe files) are written: a local "
        "path, or any fsspec URL such as s3://bucket/prefix when that fsspec backend is installed. The "
        "journal of paid Coresignal requests is kept there too (coresignal/requests/).",
    ),
    th.Property(
        "files_storage_options",
        th.ObjectType(
            th.Property(
                "endpoint_url",
                th.StringType,
                description="An S3-compatible server's URL (MinIO, Ceph, R2 ...); unset for AWS S3.",
            ),
            th.Property("region", th.StringType, description="The bucket's region (AWS: us-east-1 ...)."),
            th.Property("key", th.StringType, secret=True, description="Access key id."),
            th.Property("secret", th.StringType, secret=True, description="Secret access key."),
            th.Property("token", th.StringType, secret=True, description="Session token (temporary credentials)."),
            additional_properties=True,
        ),
        description="Options of the fsspec backend of files_storage_url (s3:// needs the s3 extra: "
        "pip install 'tap-hrdata[s3]'). Other keys go to the backend as they are. Without credentials here "
        "the backend's own chain is used (AWS_ACCESS_KEY_ID ..., an instance role).",
    ),
    th.Property(
        "inline_files_max_bytes",
        th.IntegerType(minimum=0),
        default=0,
        description="Files at or under this size also carry their bytes as content_base64 in their "
        "record (0 disables).",
    ),
    th.Property(
        "redact",
        th.ObjectType(additional_properties=th.ArrayType(th.StringType)),
        examples=[{"candidates": ["personalInformation.email", "personalInformation.phoneNumber"]}],
        description="Personal data to redact, per stream: dotted vendor field paths, each matched as the end "
        "of a field's path inside raw (and the typed columns read from those fields), or a typed column's "
        "name. Applied before a record leaves the tap, unlike a stream map, which cannot reach inside raw.",
    ),
    th.Property(
        "redact_mode",
        th.StringType(allowed_values=["hash", "drop"]),
        default="hash",
        description="hash: replace each redacted value by its HMAC-SHA256 under redact_salt (equal values "
        "stay equal, for joins); drop: remove it from raw and null its column.",
    ),
    th.Property(
        "redact_salt",
        th.StringType,
        secret=True,
        description="Secret key of the redact_mode hash (at least 16 characters); keep it stable across runs, "
        "or the same value hashes differently.",
    ),
    th.Property(
        "request_timeout_seconds",
        th.NumberType(exclusive_minimum=0),
        default=120,
        description="Read timeout: the longest wait for the next bytes of an answer's body, in seconds.",
    ),
    th.Property(
        "connect_timeout_seconds",
        th.NumberType(exclusive_minimum=0),
        default=15,
        description="The longest wait for a connection to a vendor's server, in seconds.",
    ),
    th.Property(
        "first_byte_timeout_seconds",
        th.NumberType(exclusive_minimum=0),
        default=60,
        description="The longest wait, once a request is sent, for the answer to begin (its status line), in seconds.",
    ),
    th.Property(
        "request_deadline_seconds",
        th.NumberType(exclusive_minimum=0),
        default=600,
        description="The longest one attempt of a request whose answer is read whole (a page, a token) may take, "
        "in seconds. Streamed bodies (exports, files) are held to min_bytes_per_second instead.",
    ),
    th.Property(
        "min_bytes_per_second",
        th.NumberType(exclusive_minimum=0),
        default=1024,
        description="A body slower than this (each 64 KiB piece within max(request_timeout_seconds, 64 KiB / this)) "
        "is cut and asked for again from where it stopped.",
    ),
    th.Property(
        "retry_budget_seconds",
        th.NumberType(exclusive_minimum=0),
        default=300,
        description="The longest time one request may spend in failed attempts in a row (waits between attempts "
        "not counted) before the run stops with an error.",
    ),
    th.Property(
        "partition",
        th.ObjectType(additional_properties=True),
        examples=[{"source": "youserve", "start": "2025-01-01T00:00:00Z", "end": "2025-01-31T00:00:00Z"}],
        description="Extract one slice of one source, with its own state (a Meltano state id per partition); the "
        "union of a backfill's partitions (tap-hrdata --list-partitions) equals one full run. Fields: source "
        "(required: talentsoft, hrflow, youserve or coresignal; the other sources are not synced), name (for logs), "
        "start and end (UTC date-times, the half-open slice [start, end) of Coresignal last_updated or YouServe "
        "upload date; no end: open-ended), business_types (YouServe: among youserve.business_types), source_keys / "
        "board_keys (HrFlow: among hrflow.source_keys / hrflow.board_keys), full_tables (true on one partition per "
        "source: it also emits the streams no partition can slice). A partition the source cannot honour is "
        "refused before any request. Absent: the whole of every configured source.",
    ),
    th.Property(
        "partition_days",
        th.IntegerType(minimum=1),
        default=30,
        description="Length in days of the date windows --list-partitions prints, aligned to start_date "
        "(the last one open-ended).",
    ),
)


def source_block(name: str, description: str, *settings: th.Property) -> th.Property:
    """A source's settings block: an object setting (``talentsoft.client_id`` ...)."""
    return th.Property(name, th.ObjectType(*settings), description=description)


def concurrency(default: int, what: str) -> th.Property:
    """A source's ``max_concurrent_requests``: calls in flight side by side (1: one at a time)."""
    return th.Property(
        "max_concurrent_requests",
        th.IntegerType(minimum=1, maximum=64),
        default=default,
        description=f"Requests of this source in flight at once ({what}); records keep their order. "
        "1 sends one request at a time.",
    )


TALENTSOFT = source_block(
    "talentsoft",
    "Cegid Talentsoft Recruiting exports: streams vacancies, candidates, applications, attachments, referentials, "
    "referential_translations, talentsoft_events.",
    th.Property(
        "base_url",
        th.StringType,
        description="Site URL of the Talentsoft Recruiting instance, e.g. https://customer.talent-soft.com "
        "(may carry a path prefix). Required for the source.",
    ),
    th.Property("client_id", th.StringType, description="OAuth2 client id (from Cegid)."),
    th.Property("client_secret", th.StringType, secret=True, description="OAuth2 client secret."),
    th.Property("scope", th.StringType, default="MatchingIndexation", description="OAuth2 scope."),
    th.Property(
        "webhook_secret",
        th.StringType,
        secret=True,
        description="Secret of the webhook receiver (tap-hrdata-webhooks serve): the token callbacks must carry in "
        "their URL (/talentsoft/{secret}) or in an X-Webhook-Token header. At least 16 characters of "
        "A-Z a-z 0-9 . _ ~ -.",
    ),
    th.Property("page_size", th.IntegerType(minimum=1), default=100, description="Records per export request (limit)."),
    th.Property(
        "replication",
        th.StringType(allowed_values=["modified", "offset"]),
        default="modified",
        description="How vacancies and candidates are read incrementally: `modified` (the default: on their "
        "modification date, filter updateDate:ge:<bookmark>, so edits to old records reach the target) or "
        "`offset` (after the export position of the last record emitted: only records appended to the export, "
        "never edits to earlier ones).",
    ),
    th.Property(
        "report_indexing",
        th.BooleanType,
        default=False,
        description="Report the vacancies and candidates a target has committed back to Talentsoft "
        "(POST /api/exports/v1/reports, status success), each version once, on the run after the one that "
        "emitted them: only records the state the run started with covers are reported.",
    ),
    th.Property(
        "filter",
        th.StringType,
        description="Vendor filter passed as the export `filter` query parameter, e.g. "
        "updateDate:gt:2026-01-01. Bookmarks are kept per filter value.",
    ),
    th.Property(
        "query",
        th.StringType,
        description="Search text passed to the vacancies export as the `q` query parameter. Bookmarks are kept "
        "per value.",
    ),
    th.Property(
        "attachment_type",
        th.StringType,
        examples=["resume"],
        description="Only attachments of this type in the candidate export (`attachmenttype`, e.g. resume): "
        "other files never leave Talentsoft.",
    ),
    th.Property(
        "referential_categories",
        th.ArrayType(th.StringType),
        default=["countries"],
        description="Referential categories to export (GET /api/v1/referentials/{category}).",
    ),
    th.Property(
        "max_frame_bytes",
        th.IntegerType(minimum=1),
        default=268435456,
        description="Largest accepted export frame, and largest uncompressed zip entry (zip-bomb guard).",
    ),
    concurrency(2, "the page being read and the next page, fetched ahead"),
)

HRFLOW = source_block(
    "hrflow",
    "HrFlow.ai: streams hrflow_profiles, hrflow_profile_attachments, hrflow_jobs, hrflow_sources, hrflow_boards, "
    "hrflow_trackings, hrflow_ratings, hrflow_events.",
    th.Property("base_url", th.StringType, default="https://api.hrflow.ai/v1", description="API URL."),
    th.Property("api_key", th.StringType, secret=True, description="API key (X-API-KEY)."),
    th.Property("user_email", th.StringType, description="User email (X-USER-EMAIL)."),
    th.Property(
        "listing",
        th.StringType(allowed_values=["storing", "searching"]),
        default="storing",
        description="How profiles and jobs are listed: `storing` (GET /storing/profiles and /storing/jobs: "
        "every object, no Searching subscription needed) or `searching` (GET /profiles/searching and "
        "/jobs/searching, the seed docs' way: only indexed objects).",
    ),
    th.Property("source_keys", th.ArrayType(th.StringType), description="Sources whose profiles to sync."),
    th.Property("board_keys", th.ArrayType(th.StringType), description="Boards whose jobs to sync."),
    th.Property(
        "webhook_secret",
        th.StringType,
        secret=True,
        description="The workspace's webhook secret (the key HrFlow signs webhooks with): the webhook receiver "
        "(tap-hrdata-webhooks serve, route /hrflow) journals only deliveries whose HTTP-HRFLOW-SIGNATURE it "
        "verifies with it; the tap reads them as stream hrflow_events. At least 16 characters of "
        "A-Z a-z 0-9 . _ ~ -.",
    ),
    th.Property(
        "page_size",
        th.IntegerType(minimum=1, maximum=100),
        default=30,
        description="Items per page (limit; the API refuses more than 100).",
    ),
    th.Property(
        "attachment_max_bytes",
        th.IntegerType(minimum=1),
        default=104857600,
        description="Largest profile attachment downloaded (stream hrflow_profile_attachments): a larger "
        "one stops the run with an error naming the profile, before its bytes are stored.",
    ),
    concurrency(8, "pages fetched ahead once the number of pages is known"),
)

YOUSERVE = source_block(
    "youserve",
    "Visma YouServe File API (subscriber): stream delivered_files.",
    th.Property(
        "sign_in",
        th.StringType(allowed_values=["youserve", "visma_connect"]),
        default="youserve",
        description="How the tap signs in: `youserve` (token at token_url, tenant in the x-raet-tenant-id header; "
        "the seed docs' accounts) or `visma_connect` (Visma Developer Portal apps: token from "
        "https://connect.visma.com/connect/token for tenant_id, File API at https://fileapi.youforce.com/v1.0).",
    ),
    th.Property(
        "base_url",
        th.StringType,
        default="https://api.youserve.nl",
        description="API URL (sign_in youserve): the token and File API URLs default from it.",
    ),
    th.Property(
        "token_url",
        th.StringType,
        description="OAuth2 token URL. Default: {base_url}/authentication/token (youserve), "
        "https://connect.visma.com/connect/token (visma_connect).",
    ),
    th.Property(
        "file_api_url",
        th.StringType,
        description="File API root, the part before /files. Default: {base_url}/fileapi/v1.0 (youserve), "
        "https://fileapi.youforce.com/v1.0 (visma_connect).",
    ),
    th.Property("client_id", th.StringType, description="OAuth2 client id."),
    th.Property("client_secret", th.StringType, secret=True, description="OAuth2 client secret."),
    th.Property(
        "tenant_id",
        th.StringType,
        description="Tenant: the x-raet-tenant-id header (youserve) or the token's tenant (visma_connect).",
    ),
    th.Property(
        "business_types",
        th.ArrayType(th.IntegerType(minimum=0, maximum=2**63 - 1)),
        description="Business type ids to download (all subscribed types when empty).",
    ),
    th.Property(
        "page_size",
        th.IntegerType(minimum=1, maximum=1000),
        default=100,
        description="Listing page size (the API takes 1 to 1000).",
    ),
    th.Property(
        "chunk_size_bytes",
        th.IntegerType(minimum=1, maximum=2**40),
        default=4194304,
        description="Files larger than this are downloaded in Range requests of this size.",
    ),
    th.Property(
        "delete_after_download",
        th.BooleanType,
        default=False,
        description="Delete files on the server once a target has confirmed them (see README).",
    ),
    concurrency(8, "files and Range chunks downloaded side by side, the listing paged ahead"),
)

CORESIGNAL = source_block(
    "coresignal",
    "Coresignal Jobs Data API Bulk Collect: stream bulk_jobs.",
    th.Property("base_url", th.StringType, default="https://api.coresignal.com/cdapi", description="API URL."),
    th.Property(
        "api_key",
        th.StringType,
        secret=True,
        description="API key of the current API (header apikey; /v2/data_requests/...). Set this or api_token.",
    ),
    th.Property(
        "api_token",
        th.StringType,
        secret=True,
        description="API token (JWT) of the v1 API (Authorization: Bearer; /v1/.../bulk_collect). Set this or api_key.",
    ),
    th.Property("filters", th.ObjectType(), description="Bulk Collect search filters (paid request)."),
    th.Property(
        "job_ids", th.ArrayType(th.IntegerType(minimum=0)), description="Job ids to collect instead of filters."
    ),
    th.Property(
        "limit",
        th.IntegerType(minimum=1, maximum=10000),
        description="Most records one data request may return (Bulk Collect's cap is 10,000). Without it, an "
        "incremental pull is split into last_updated windows that each stay under the cap.",
    ),
    th.Property(
        "webhook_url",
        th.StringType,
        description="Webhook notified when a request is ready, sent with each data request. {secret} in it stands "
        "for coresignal.webhook_secret (e.g. https://hooks.example.com/coresignal/{secret}, the webhook "
        "receiver's route).",
    ),
    th.Property(
        "webhook_secret",
        th.StringType,
        secret=True,
        description="Secret of the webhook receiver's Coresignal route (tap-hrdata-webhooks serve): the token "
        "ready notifications must carry in their URL (/coresignal/{secret}); written into webhook_url where it "
        "holds {secret}. At least 16 characters of A-Z a-z 0-9 . _ ~ -.",
    ),
    th.Property(
        "poll_interval_seconds",
        th.NumberType(exclusive_minimum=0),
        default=30,
        description="Seconds between polls.",
    ),
    th.Property(
        "poll_timeout_seconds",
        th.NumberType(minimum=0),
        default=3600,
        description="Give up polling after this.",
    ),
    th.Property(
        "max_requests_per_second",
        th.NumberType(exclusive_minimum=0),
        default=27,
        description="Client-side rate limit shared by every Coresignal call.",
    ),
    concurrency(8, "a data request's files downloaded side by side, within the rate limit"),
)

SOURCE_SETTINGS: dict[str, th.Property] = {prop.name: prop for prop in (TALENTSOFT, HRFLOW, YOUSERVE, CORESIGNAL)}

CONFIG_SCHEMA: dict[str, t.Any] = th.PropertiesList(
    *GLOBAL_SETTINGS.wrapped.values(), *SOURCE_SETTINGS.values()
).to_dict()


def _defaults(schema: dict[str, t.Any]) -> dict[str, t.Any]:
    return {name: prop["default"] for name, prop in schema.get("properties", {}).items() if "default" in prop}


def source_settings(config: t.Mapping[str, t.Any], source: str) -> dict[str, t.Any]:
    """The ``source`` block of ``config`` with the contract's defaults filled in (null counts as unset)."""
    schema = CONFIG_SCHEMA["properties"][source]
    given = {name: value for name, value in (config.get(source) or {}).items() if value is not None}
    return {**_defaults(schema), **given}


def secret_settings(source: str) -> tuple[str, ...]:
    """Names of the secret settings of ``source``'s block."""
    schema = CONFIG_SCHEMA["properties"][source]
    return tuple(name for name, prop in schema.get("properties", {}).items() if prop.get("secret"))


def global_settings(config: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The top-level settings of ``config`` with the contract's defaults filled in."""
    top = {name: prop for name, prop in CONFIG_SCHEMA["properties"].items() if name not in SOURCE_SETTINGS}
    return {**_defaults({"properties": top}), **{k: v for k, v in config.items() if k in top and v is not None}}
