"""A real S3-compatible server for the tests: moto's standalone server, in a subprocess on 127.0.0.1.

Not a mock of fsspec or boto: the tap's s3fs talks HTTP to it exactly as to AWS S3 or MinIO,
multipart uploads included. A subprocess (not moto's in-process thread) so that taps run by
Meltano or Dagster in other processes reach it too, and its work does not share our GIL.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

REGION = "eu-west-1"
KEY = "AKIATESTTAPHRDATA000"
SECRET = "tap-hrdata-test-secret-key-0123456789abcd"  # moto accepts any credentials


@dataclass(frozen=True)
class S3Server:
    """A running server: its endpoint, and the storage options that reach it."""

    endpoint_url: str

    def options(self) -> dict[str, Any]:
        """``files_storage_options`` for this server."""
        return {"endpoint_url": self.endpoint_url, "region": REGION, "key": KEY, "secret": SECRET}

    def client(self) -> Any:  # boto3's client is untyped here
        """A boto3 S3 client, to look at what the tap stored."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=KEY,
            aws_secret_access_key=SECRET,
        )

    def new_bucket(self) -> str:
        """A fresh, empty bucket."""
        name = f"hrdata-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
        return name

    def objects(self, bucket: str, prefix: str = "") -> dict[str, bytes]:
        """Every object under ``prefix``: key -> bytes."""
        client = self.client()
        found = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                found[item["Key"]] = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        return found

    def pending_uploads(self, bucket: str) -> list[str]:
        """Keys of multipart uploads started and neither completed nor aborted."""
        answer = self.client().list_multipart_uploads(Bucket=bucket)
        return [upload["Key"] for upload in answer.get("Uploads", [])]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto_server on 127.0.0.1, for the whole session."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{endpoint}/moto-api/", timeout=2)
                break
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("moto_server did not start") from None
                time.sleep(0.1)
        yield S3Server(endpoint)
    finally:
        process.terminate()
        process.wait(timeout=30)
