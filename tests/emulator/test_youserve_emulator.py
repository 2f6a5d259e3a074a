"""The YouServe File API emulator behaves like the vendor documentation says, strictly."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.contracts.shapes import shape_mismatches
from tests.emulator.server import Emulator, Fault, Request, Response
from tests.emulator.youserve import (
    DEFAULT_CONNECT_CLIENT_ID,
    DEFAULT_CONNECT_CLIENT_SECRET,
    DEFAULT_CONNECT_TENANT,
    VismaConnectEmulator,
    YouforceFileApi,
    YouserveEmulator,
    parse_datetime,
)

FILES = "/fileapi/v1.0/files"
OCTET = {"Accept": "application/octet-stream"}
CONNECT = "/visma-connect"  # connect.visma.com
YOUFORCE = "/youforce"  # fileapi.youforce.com
YF_FILES = "/v1.0/files"


class Client:
    """A minimal, correct YouServe subscriber client."""

    files = FILES

    def __init__(self, emulator: Emulator, vendor: YouserveEmulator) -> None:
        self.base = emulator.url("/youserve")
        self.vendor = vendor
        self.session = requests.Session()
        self.token = self.get_token()

    def get_token(self) -> str:
        response = self.session.post(
            self.base + "/authentication/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "ys-client",
                "client_secret": "ys-secret-0123456789",
            },
            timeout=5,
        )
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "x-raet-tenant-id": "sandbox", **extra}

    def call(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        query = {"role": "subscriber", **(params or {})}
        return self.session.request(
            method,
            self.base + path,
            params=query,
            headers=self.headers(**(headers or {})),
            timeout=5,
            **kwargs,
        )

    def list(self, **params: Any) -> dict[str, Any]:
        response = self.call("GET", self.files, params)
        assert response.status_code == 200, response.text
        return response.json()

    def names(self, filter_: str | None = None, **params: Any) -> list[str]:
        if filter_ is not None:
            params["$filter"] = filter_
        params.setdefault("pageSize", 1000)
        return [entry["fileName"] for entry in self.list(**params)["data"]]

    def download(self, file_id: str, range_: str | None = None) -> requests.Response:
        headers = dict(OCTET)
        if range_ is not None:
            headers["Range"] = range_
        return self.call("GET", f"{self.files}/{file_id}", headers=headers)


class Mount:
    """One server for the module (stopping one costs ~0.5 s); each test mounts a fresh vendor."""

    prefix = "/youserve"

    def __init__(self) -> None:
        self.vendor = YouserveEmulator()

    def handle(self, request: Request) -> Response:
        return self.vendor.handle(request)


class Forward:
    """Mounts one host facade (``connect``, ``youforce``) of whatever vendor ``Mount`` holds now."""

    def __init__(self, mount: Mount, prefix: str, host: str) -> None:
        self.mount, self.prefix, self.host = mount, prefix, host

    def handle(self, request: Request) -> Response:
        return getattr(self.mount.vendor, self.host).handle(request)


@pytest.fixture(scope="module")
def mount():
    mount = Mount()
    hosts = [mount, Forward(mount, CONNECT, "connect"), Forward(mount, YOUFORCE, "youforce")]
    with Emulator(hosts) as running:
        yield mount, running


@pytest.fixture
def vendor(mount: tuple[Mount, Emulator]) -> YouserveEmulator:
    mount[0].vendor = YouserveEmulator()
    return mount[0].vendor


@pytest.fixture
def emulator(mount: tuple[Mount, Emulator], vendor: YouserveEmulator) -> Emulator:
    return mount[1]


@pytest.fixture
def client(emulator: Emulator, vendor: YouserveEmulator) -> Client:
    return Client(emulator, vendor)


@pytest.fixture(scope="module")
def read_only():
    """A client for tests that change nothing (filters, bad parameters): one token for all."""
    vendor = YouserveEmulator()
    with Emulator([vendor]) as running:
        yield Client(running, vendor)


def by_name(vendor: YouserveEmulator, name: str) -> dict[str, Any]:
    return next(e for e in vendor.entries() if e["fileName"] == name)


# --------------------------------------------------------------------------- token


def test_token_ok(emulator: Emulator, vendor: YouserveEmulator) -> None:
    response = requests.post(
        emulator.url("/youserve") + "/authentication/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "ys-client",
            "client_secret": "ys-secret-0123456789",
        },
        timeout=5,
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert vendor.issued_tokens == [body["access_token"]]
    assert vendor.token_requests == 1


@pytest.mark.parametrize(
    ("kwargs", "status", "error"),
    [
        (
            {"data": {"grant_type": "client_credentials", "client_id": "ys-client", "client_secret": "no"}},
            401,
            "invalid_client",
        ),
        (
            {
                "data": {
                    "grant_type": "client_credentials",
                    "client_id": "x",
                    "client_secret": "ys-secret-0123456789",
                }
            },
            401,
            "invalid_client",
        ),
        (
            {
                "json": {
                    "grant_type": "client_credentials",
                    "client_id": "ys-client",
                    "client_secret": "ys-secret-0123456789",
                }
            },
            400,
            "invalid_request",
        ),
        (
            {
                "data": {
                    "grant_type": "password",
                    "client_id": "ys-client",
                    "client_secret": "ys-secret-0123456789",
                }
            },
            400,
            "unsupported_grant_type",
        ),
        (
            {"data": {"client_id": "ys-client", "client_secret": "ys-secret-0123456789"}},
            400,
            "invalid_request",
        ),
    ],
)
def test_token_rejections(emulator: Emulator, vendor: YouserveEmulator, kwargs: dict, status: int, error: str) -> None:
    response = requests.post(emulator.url("/youserve") + "/authentication/token", timeout=5, **kwargs)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert vendor.issued_tokens == []


def test_token_needs_post(emulator: Emulator) -> None:
    response = requests.get(emulator.url("/youserve") + "/authentication/token", timeout=5)
    assert response.status_code == 405


# --------------------------------------------------------------------------- auth, tenant, role


def test_auth_tenant_and_role_enforced(client: Client, vendor: YouserveEmulator) -> None:
    url = client.base + FILES
    good = client.headers()
    params = {"role": "subscriber"}
    assert requests.get(url, params=params, headers=good, timeout=5).status_code == 200
    no_auth = {"x-raet-tenant-id": "sandbox"}
    assert requests.get(url, params=params, headers=no_auth, timeout=5).status_code == 401
    bogus = {**good, "Authorization": "Bearer nope"}
    assert requests.get(url, params=params, headers=bogus, timeout=5).status_code == 401
    basic = {**good, "Authorization": "Basic eXM6eXM="}
    assert requests.get(url, params=params, headers=basic, timeout=5).status_code == 401
    wrong_tenant = {**good, "x-raet-tenant-id": "other"}
    assert requests.get(url, params=params, headers=wrong_tenant, timeout=5).status_code == 403
    no_tenant = {"Authorization": good["Authorization"]}
    assert requests.get(url, params=params, headers=no_tenant, timeout=5).status_code == 403
    assert requests.get(url, headers=good, timeout=5).status_code == 400
    assert requests.get(url, params={"role": "publisher"}, headers=good, timeout=5).status_code == 400
    file_id = vendor.entries()[0]["fileId"]
    assert requests.head(f"{url}/{file_id}", headers=good, timeout=5).status_code == 400
    assert requests.get(f"{url}/{file_id}", params=params, headers=no_auth, timeout=5).status_code == 401


def test_expired_and_revoked_tokens(client: Client, vendor: YouserveEmulator) -> None:
    vendor.expire_all_tokens()
    response = client.call("GET", FILES)
    assert response.status_code == 401
    assert "expired" in response.headers["WWW-Authenticate"]
    client.token = client.get_token()
    assert client.call("GET", FILES).status_code == 200
    vendor.revoke_all_tokens()
    assert client.call("GET", FILES).status_code == 401
    client.token = client.get_token()
    assert client.call("GET", FILES).status_code == 200
    assert len(vendor.issued_tokens) == 3


def test_short_lived_token_expires(mount: tuple[Mount, Emulator]) -> None:
    vendor = mount[0].vendor = YouserveEmulator(expires_in=0)
    client = Client(mount[1], vendor)
    assert client.call("GET", FILES).status_code == 401


def test_one_server_serves_the_emulator_directly() -> None:
    vendor = YouserveEmulator(files=[])
    with Emulator([vendor]) as emulator:
        client = Client(emulator, vendor)
        assert client.list() == {"data": [], "pageIndex": 0, "pageSize": 20, "count": 0}


# --------------------------------------------------------------------------- listing


def test_list_shape_default_order_and_paging(client: Client, vendor: YouserveEmulator) -> None:
    body = client.list()
    assert set(body) == {"data", "pageIndex", "pageSize", "count"}
    assert (body["pageIndex"], body["pageSize"], body["count"]) == (0, 20, 13)
    entry = body["data"][0]
    assert set(entry) == {
        "downloaded",
        "fileId",
        "fileName",
        "fileSize",
        "tenantId",
        "businessType",
        "publisherId",
        "uploadDate",
    }
    assert entry["businessType"] == {
        "id": entry["businessType"]["id"],
        "name": str(entry["businessType"]["id"]),
    }
    assert entry["tenantId"] == "sandbox"
    assert entry["downloaded"] is False
    dates = [(e["uploadDate"], e["fileId"]) for e in body["data"]]
    # uploadDate desc, ties broken by fileId ascending
    assert dates == sorted(dates, key=lambda d: (-parse_datetime(d[0]), d[1]))
    assert [e["fileId"] for e in body["data"]] == [e["fileId"] for e in vendor.entries()]
    shared = [e for e in body["data"] if e["uploadDate"] == "2026-01-05T07:30:23.657Z"]
    assert len(shared) == 3

    pages = [client.list(pageSize=5, pageIndex=i) for i in range(4)]
    assert [len(p["data"]) for p in pages] == [5, 5, 3, 0]
    assert all(p["count"] == 13 and p["pageSize"] == 5 for p in pages)
    assert [e["fileId"] for p in pages for e in p["data"]] == [e["fileId"] for e in body["data"]]
    assert client.list(pageSize=1000)["count"] == 13


@pytest.mark.parametrize(
    "params",
    [
        {"pageSize": 0},
        {"pageSize": 1001},
        {"pageSize": "abc"},
        {"pageSize": "-1"},
        {"pageSize": "2.0"},
        {"pageIndex": "-1"},
        {"pageIndex": "x"},
        {"pageSize": "\u0663"},
        {"$orderBy": "size asc"},
        {"$orderBy": "uploadDate up"},
        {"$orderBy": "uploadDate asc, fileName asc"},
        {"$orderBy": ""},
        {"$filter": ""},
    ],
)
def test_list_rejects_bad_parameters(read_only: Client, params: dict[str, Any]) -> None:
    assert read_only.call("GET", FILES, params).status_code == 400


def test_order_by(client: Client, vendor: YouserveEmulator) -> None:
    names = client.names(**{"$orderBy": "fileName asc"})
    assert names == sorted(names, key=str.casefold)
    assert client.names(**{"$orderBy": "fileName desc"}) == names[::-1]
    asc = client.list(pageSize=100, **{"$orderBy": "uploadDate asc"})["data"]
    keys = [(parse_datetime(e["uploadDate"]), e["fileId"]) for e in asc]
    assert keys == sorted(keys)
    by_type = client.list(pageSize=100, **{"$orderBy": "businessType desc"})["data"]
    keys = [(-e["businessType"]["id"], e["fileId"]) for e in by_type]
    assert keys == sorted(keys)
    assert client.list(pageSize=100, **{"$orderBy": "status asc", "$filter": "status eq 'all'"})["count"] == 13


# --------------------------------------------------------------------------- $filter


BT_7101 = {
    "sandbox_test_file.xml",
    "sandbox_test_file.txt",
    "sandbox_test_file.csv",
    "payroll_2026_01.xml",
    "payroll_2026_02.xml",
}
BT_8000 = {"empty_export.csv", "absence_holidays", "employees_full.csv", "it's a 'test' file.txt"}
BT_101100 = {
    "bint_mutations_0001.xml",
    "bint_mutations_0002.xml",
    "bint_mutations_0003.xml",
    "../../etc/passwd",
}
ALL = BT_7101 | BT_8000 | BT_101100


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        # the documentation's examples
        ("uploadDate gt 2020-05-19T08:42:47.400Z", ALL),
        ("uploadDate gt 2020-05-19T08:42:47.400Z and uploadDate lt 2020-05-19T16:42:47.400Z", set()),
        ("status eq 'all'", ALL),
        ("status eq 'downloaded'", set()),
        ("status eq 'available'", ALL),
        ("businessType eq 7101", BT_7101),
        ("businessType eq 7100 or businessType eq 7101", BT_7101),
        ("status eq 'downloaded' and (businessType eq 7100 or businessType eq 7101)", set()),
        ("uploadDate gt 2020-05-19T08:42:47.400Z and businessType eq 7101 and status eq 'all'", BT_7101),
        ("startsWith(FileName, 'payroll')", {"payroll_2026_01.xml", "payroll_2026_02.xml"}),
        ("endsWith(FileName, 'holidays')", {"absence_holidays"}),
        (
            "contains(fileName, 'test')",
            {
                "sandbox_test_file.xml",
                "sandbox_test_file.txt",
                "sandbox_test_file.csv",
                "it's a 'test' file.txt",
            },
        ),
        (
            "startsWith(FileName, 'payroll') and businessType eq 7101",
            {"payroll_2026_01.xml", "payroll_2026_02.xml"},
        ),
        ("businessType eq 101002", set()),
        # dates: shared upload dates, ge/le/ne, the datetime'...' form, offsets
        ("uploadDate eq 2026-02-20T05:04:03.210Z", {"bint_mutations_0002.xml", "bint_mutations_0003.xml"}),
        (
            "uploadDate ge 2026-02-20T05:04:03.210Z",
            {"bint_mutations_0002.xml", "bint_mutations_0003.xml", "../../etc/passwd", "payroll_2026_02.xml"},
        ),
        ("uploadDate gt 2026-02-20T05:04:03.210Z", {"../../etc/passwd", "payroll_2026_02.xml"}),
        (
            "uploadDate gt 2026-02-20T05:04:03.2099999Z",
            {"bint_mutations_0002.xml", "bint_mutations_0003.xml", "../../etc/passwd", "payroll_2026_02.xml"},
        ),
        ("uploadDate gt datetime'2026-02-20T05:04:03.210'", {"../../etc/passwd", "payroll_2026_02.xml"}),
        ("uploadDate gt 2026-02-20T06:04:03.210+01:00", {"../../etc/passwd", "payroll_2026_02.xml"}),
        (
            "uploadDate le 2026-01-05T07:30:23.657Z",
            {"sandbox_test_file.xml", "sandbox_test_file.txt", "sandbox_test_file.csv"},
        ),
        ("uploadDate lt 2026-01-05T07:30:23.657Z", set()),
        ("businessType ne 7101 and businessType ne 8000", BT_101100),
        ("businessType ge 8000 and businessType le 8000", BT_8000),
        # precedence: and binds tighter than or
        (
            "businessType eq 7101 or businessType eq 8000 and fileName eq 'empty_export.csv'",
            BT_7101 | {"empty_export.csv"},
        ),
        (
            "(businessType eq 7101 or businessType eq 8000) and fileName eq 'empty_export.csv'",
            {"empty_export.csv"},
        ),
        (
            "fileName eq 'empty_export.csv' and businessType eq 8000 or businessType eq 101100",
            BT_101100 | {"empty_export.csv"},
        ),
        ("((businessType eq 7101))", BT_7101),
        # quotes, '' escaping, case-insensitive names
        ("fileName eq 'it''s a ''test'' file.txt'", {"it's a 'test' file.txt"}),
        ("contains(fileName, '''test''')", {"it's a 'test' file.txt"}),
        ("fileName eq '../../etc/passwd'", {"../../etc/passwd"}),
        ("fileName ne '../../etc/passwd' and businessType eq 101100", BT_101100 - {"../../etc/passwd"}),
        ("FILENAME eq 'EMPTY_EXPORT.CSV'", {"empty_export.csv"}),
        ("STARTSWITH(filename,'bint_')", BT_101100 - {"../../etc/passwd"}),
        ("contains(fileName, ' and ') or contains(fileName, ' or ')", set()),
        ("contains(fileName, '(')", set()),
    ],
)
def test_filter(read_only: Client, filter_: str, expected: set[str]) -> None:
    names = read_only.names(filter_)
    assert set(names) == expected
    assert len(names) == len(expected)


@pytest.mark.parametrize(
    "filter_",
    [
        "businessType eq '7101'",
        "businessType eq 7101.5",
        "businessType eq",
        "businessType 7101",
        "businessType eq 7101 and",
        "and businessType eq 7101",
        "businessType eq 7101 or or businessType eq 8000",
        "businessType EQ 7101",
        "businessType eq 7101 AND businessType eq 8000",
        "businessType == 7101",
        "size eq 10",
        "fileName eq payroll",
        "fileName eq 'payroll",
        "fileName eq 'it's'",
        "fileName gt 'a'",
        "status eq 'new'",
        "status eq all",
        "status ne 'all'",
        "status eq 'ALL'",
        "uploadDate gt '2020-05-19T08:42:47.400Z'",
        "uploadDate gt 2020-05-19T08:42:47.400",
        "uploadDate gt 2020-05-19",
        "uploadDate gt 2020-13-19T08:42:47.400Z",
        "uploadDate gt 2020-05-19T08:42:47 01:00",  # a '+' that was not percent-encoded
        "uploadDate gt 7101",
        "(businessType eq 7101",
        "businessType eq 7101)",
        "startsWith(businessType, '7')",
        "startsWith(fileName)",
        "startsWith('payroll', fileName)",
        "startsWith(fileName, payroll)",
        "beginsWith(fileName, 'payroll')",
        "startsWith(fileName, 'payroll') eq true",
        "not businessType eq 7101",
        "businessType eq 7101; drop table files",
        "   ",
        "businessType eq \u0663",
        "fileName eq \u2019x\u2019",
        "businessType eq -",
        "uploadDate gt datetime'\uff12020-05-19T08:42:47'",
    ],
)
def test_invalid_filters(read_only: Client, filter_: str) -> None:
    response = read_only.call("GET", FILES, {"$filter": filter_})
    assert response.status_code == 400, filter_
    assert response.json()["message"].startswith("Invalid filter")


# --------------------------------------------------------------------------- downloads change the listing


def test_listing_shrinks_after_download(client: Client, vendor: YouserveEmulator) -> None:
    xml = by_name(vendor, "sandbox_test_file.xml")
    assert client.list()["count"] == 13
    response = client.download(xml["fileId"])
    assert response.status_code == 200
    assert response.content == vendor.file_bytes(xml["fileId"])
    assert client.list()["count"] == 12
    assert xml["fileName"] not in client.names()
    assert client.list(**{"$filter": "status eq 'all'"})["count"] == 13
    assert client.names("status eq 'downloaded'") == ["sandbox_test_file.xml"]
    assert client.list(**{"$filter": "businessType eq 7101"})["count"] == 4
    assert client.list(**{"$filter": "businessType eq 7101 or status eq 'all'"})["count"] == 13
    downloaded = next(e for e in client.list(**{"$filter": "status eq 'downloaded'"})["data"])
    assert downloaded["downloaded"] is True
    # a downloaded file can still be fetched by id
    assert client.download(xml["fileId"]).status_code == 200
    # status asc puts available (false) first
    ordered = client.list(pageSize=100, **{"$filter": "status eq 'all'", "$orderBy": "status asc"})["data"]
    assert ordered[-1]["fileId"] == xml["fileId"]


def test_ranged_download_marks_downloaded_only_with_last_byte(client: Client, vendor: YouserveEmulator) -> None:
    csv = by_name(vendor, "sandbox_test_file.csv")  # 76 bytes
    assert client.download(csv["fileId"], "bytes=0-49").status_code == 206
    assert client.list()["count"] == 13
    assert client.download(csv["fileId"], "bytes=50-75").status_code == 206
    assert client.list()["count"] == 12
    txt = by_name(vendor, "sandbox_test_file.txt")
    assert client.download(txt["fileId"], "bytes=30-").status_code == 206
    assert client.list()["count"] == 11
    # HEAD and 416 do not download anything
    xml = by_name(vendor, "sandbox_test_file.xml")
    assert client.call("HEAD", f"{FILES}/{xml['fileId']}").status_code == 200
    assert client.download(xml["fileId"], "bytes=107-110").status_code == 416
    assert client.list()["count"] == 11


def test_paging_while_downloading_skips_files(client: Client, vendor: YouserveEmulator) -> None:
    """The trap the real API sets: page 1 after downloading page 0 is the old page 2."""
    first = client.list(pageSize=5, pageIndex=0)["data"]
    for entry in first:
        assert client.download(entry["fileId"]).status_code == 200
    second = client.list(pageSize=5, pageIndex=1)
    assert second["count"] == 8
    assert [e["fileId"] for e in second["data"]] == [e["fileId"] for e in vendor.entries()[10:13]]


# --------------------------------------------------------------------------- HEAD and ranges


def test_head(client: Client, vendor: YouserveEmulator) -> None:
    xml = by_name(vendor, "sandbox_test_file.xml")
    response = client.call("HEAD", f"{FILES}/{xml['fileId']}")
    assert response.status_code == 200
    assert response.headers["Content-Length"] == "107"
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.content == b""
    empty = by_name(vendor, "empty_export.csv")
    assert client.call("HEAD", f"{FILES}/{empty['fileId']}").headers["Content-Length"] == "0"
    assert client.call("HEAD", f"{FILES}/00000000-0000-4000-8000-000000000000").status_code == 404
    assert vendor.calls[("HEAD", "file")] == 3


def test_ranges(client: Client, vendor: YouserveEmulator) -> None:
    xml = by_name(vendor, "sandbox_test_file.xml")
    data = vendor.file_bytes(xml["fileId"])
    assert len(data) == 107
    response = client.download(xml["fileId"], "bytes=0-49")
    assert response.status_code == 206
    assert response.headers["Content-Length"] == "50"
    assert response.headers["Content-Range"] == "bytes 0-49/107"
    assert response.headers["Content-Disposition"] == "attachment; filename=sandbox_test_file.xml"
    assert response.content == data[:50]
    # the last chunk: lastByte beyond the end is clamped
    response = client.download(xml["fileId"], "bytes=100-199")
    assert response.status_code == 206
    assert response.headers["Content-Range"] == "bytes 100-106/107"
    assert response.content == data[100:]
    response = client.download(xml["fileId"], "bytes=106-106")
    assert response.content == data[106:]
    response = client.download(xml["fileId"], "bytes=50-")
    assert response.headers["Content-Range"] == "bytes 50-106/107"
    assert response.content == data[50:]
    # not satisfiable
    response = client.download(xml["fileId"], "bytes=107-110")
    assert response.status_code == 416
    assert response.headers["Content-Range"] == "bytes */107"
    assert response.json() == {
        "correlationId": None,
        "message": "Range not satisfiable.",
        "errorCode": "416",
        "exception": None,
    }
    assert vendor.range_requests == [
        (xml["fileId"], 0, 49),
        (xml["fileId"], 100, 199),
        (xml["fileId"], 106, 106),
        (xml["fileId"], 50, None),
        (xml["fileId"], 107, 110),
    ]
    assert vendor.calls[("GET", "range")] == 5


@pytest.mark.parametrize(
    "range_",
    ["bytes=-10", "bytes=5-2", "bytes=0-1,5-6", "items=0-9", "bytes 0-9", "bytes=a-b", "bytes=", "0-9"],
)
def test_malformed_range(read_only: Client, range_: str) -> None:
    xml = by_name(read_only.vendor, "sandbox_test_file.xml")
    assert read_only.download(xml["fileId"], range_).status_code == 400


def test_full_download_and_accept(client: Client, vendor: YouserveEmulator) -> None:
    big = by_name(vendor, "employees_full.csv")
    response = client.download(big["fileId"])
    assert response.status_code == 200
    assert response.headers["Content-Length"] == "307200"
    assert "Content-Range" not in response.headers
    assert hashlib.sha256(response.content).hexdigest() == vendor.file_sha256(big["fileId"])
    assert response.content == vendor.file_bytes(big["fileId"])
    # chunks assemble to the whole file, across block boundaries
    parts = [client.download(big["fileId"], f"bytes={a}-{a + 65535}").content for a in range(0, 307200, 65536)]
    assert b"".join(parts) == response.content
    # Accept is required on GET
    other = by_name(vendor, "payroll_2026_01.xml")["fileId"]
    assert client.call("GET", f"{FILES}/{other}").status_code == 406
    assert client.call("GET", f"{FILES}/{other}", headers={"Accept": "*/*"}).status_code == 406
    assert client.call("GET", f"{FILES}/{other}", headers={"Accept": "application/json"}).status_code == 406
    assert client.list()["count"] == 12


def test_empty_file_and_odd_names(client: Client, vendor: YouserveEmulator) -> None:
    empty = by_name(vendor, "empty_export.csv")
    response = client.download(empty["fileId"])
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["Content-Length"] == "0"
    assert client.download(empty["fileId"], "bytes=0-").status_code == 416
    assert "empty_export.csv" not in client.names()
    passwd = by_name(vendor, "../../etc/passwd")
    response = client.download(passwd["fileId"], "bytes=0-9")
    assert response.headers["Content-Disposition"] == 'attachment; filename="../../etc/passwd"'
    quoted = by_name(vendor, "it's a 'test' file.txt")
    response = client.download(quoted["fileId"])
    assert response.headers["Content-Disposition"] == "attachment; filename=\"it's a 'test' file.txt\""
    assert len(response.content) == 4096


def test_bytes_are_deterministic_and_position_dependent() -> None:
    one, two = YouserveEmulator(), YouserveEmulator()
    other_seed = YouserveEmulator(seed=2)
    ids = [e["fileId"] for e in one.entries()]
    assert ids == [e["fileId"] for e in two.entries()]
    assert ids != [e["fileId"] for e in other_seed.entries()]
    big = by_name(one, "employees_full.csv")["fileId"]
    data = one.file_bytes(big)
    assert data == two.file_bytes(big)
    blocks = {data[i : i + 4096] for i in range(0, len(data), 4096)}
    assert len(blocks) == len(data) // 4096  # every block differs: an offset error shows
    assert len(set(ids)) == len(ids)


def test_add_large_file_lazily(client: Client, vendor: YouserveEmulator) -> None:
    entry = vendor.add_file("huge.bin", 101100, 1_000_000_000)
    assert parse_datetime(entry["uploadDate"]) > max(parse_datetime(e["uploadDate"]) for e in vendor.entries()[1:])
    assert client.list()["data"][0]["fileId"] == entry["fileId"]
    head = client.call("HEAD", f"{FILES}/{entry['fileId']}")
    assert head.headers["Content-Length"] == "1000000000"
    response = client.download(entry["fileId"], "bytes=999999000-")
    assert response.status_code == 206
    assert response.headers["Content-Range"] == "bytes 999999000-999999999/1000000000"
    assert len(response.content) == 1000
    assert client.list()["count"] == 13  # its last byte was served
    mid = client.download(entry["fileId"], "bytes=500000000-500004999").content
    assert len(mid) == 5000
    assert mid[:96] != response.content[:96]
    # a multi-MiB file: the streamed body equals the streaming hash
    five = vendor.add_file("five.bin", 8000, 5 * 1024 * 1024 + 3, upload_date="2026-03-01T00:00:00Z")
    body = client.download(five["fileId"]).content
    assert len(body) == 5 * 1024 * 1024 + 3
    assert hashlib.sha256(body).hexdigest() == vendor.file_sha256(five["fileId"])


def test_other_tenants_files_are_invisible(client: Client, vendor: YouserveEmulator) -> None:
    foreign = vendor.add_file("foreign.csv", 7101, 10, tenant_id="acme")
    assert "foreign.csv" not in client.names("status eq 'all'")
    assert client.download(foreign["fileId"]).status_code == 404


# --------------------------------------------------------------------------- delete


def test_delete(client: Client, vendor: YouserveEmulator) -> None:
    xml = by_name(vendor, "sandbox_test_file.xml")
    path = f"{FILES}/{xml['fileId']}"
    response = client.call("DELETE", path)
    assert response.status_code == 204
    assert response.content == b""
    assert vendor.deleted == [xml["fileId"]]
    assert client.call("DELETE", path).status_code == 404
    assert client.call("HEAD", path).status_code == 404
    assert client.download(xml["fileId"]).status_code == 404
    assert client.list(**{"$filter": "status eq 'all'"})["count"] == 12
    assert xml["fileName"] not in client.names("status eq 'all'")
    assert client.call("DELETE", f"{FILES}/no-such-file").status_code == 404
    assert client.call("PUT", path).status_code == 405
    assert client.call("POST", FILES).status_code == 405
    assert vendor.calls[("DELETE", "file")] == 3


# --------------------------------------------------------------------------- faults


def test_status_fault(client: Client, vendor: YouserveEmulator) -> None:
    vendor.faults.add(Fault(path_regex=r"/files$", status=503, retry_after="1"))
    response = client.call("GET", FILES)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert client.call("GET", FILES).status_code == 200
    assert vendor.calls[("GET", "list")] == 2


def test_short_body_fault(client: Client, vendor: YouserveEmulator) -> None:
    xml = by_name(vendor, "sandbox_test_file.xml")
    vendor.faults.add(Fault(path_regex=r"/files/", method="GET", kind="short_body", params={"missing": 7}))
    response = client.download(xml["fileId"], "bytes=0-99")
    assert response.status_code == 206
    assert response.headers["Content-Range"] == "bytes 0-99/107"
    assert "Content-Length" not in response.headers
    assert response.content == vendor.file_bytes(xml["fileId"])[:93]
    assert client.download(xml["fileId"], "bytes=0-99").content == vendor.file_bytes(xml["fileId"])[:100]


def test_wrong_total_and_ignore_range_faults(client: Client, vendor: YouserveEmulator) -> None:
    xml = by_name(vendor, "sandbox_test_file.xml")
    data = vendor.file_bytes(xml["fileId"])
    vendor.faults.add(Fault(path_regex=r"/files/", method="GET", kind="wrong_total", params={"total": 500}))
    response = client.download(xml["fileId"], "bytes=0-9")
    assert response.headers["Content-Range"] == "bytes 0-9/500"
    assert response.content == data[:10]
    vendor.faults.add(Fault(path_regex=r"/files/", method="GET", kind="ignore_range"))
    response = client.download(xml["fileId"], "bytes=0-9")
    assert response.status_code == 200
    assert "Content-Range" not in response.headers
    assert response.content == data
    assert vendor.faults.fired == {"wrong_total": 1, "ignore_range": 1}
    assert client.list()["count"] == 12  # the whole file went out


def test_reset_mid_body_does_not_mark_downloaded(client: Client, vendor: YouserveEmulator) -> None:
    big = by_name(vendor, "employees_full.csv")
    vendor.faults.add(Fault(path_regex=r"/files/", method="GET", abort_after=1000))
    with pytest.raises(requests.exceptions.RequestException):
        client.download(big["fileId"]).content  # noqa: B018
    client.session = requests.Session()
    assert client.list()["count"] == 13
    assert client.download(big["fileId"]).status_code == 200
    assert client.list()["count"] == 12


# =========================================================================== the current sign-in
#
# Visma Connect (https://connect.visma.com/connect/token, mounted at /visma-connect) and the
# Youforce File API host (https://fileapi.youforce.com/v1.0, mounted at /youforce), as Visma's
# own PowerShell example (powershell/VismaDeveloperPortal/download) talks to them.


def connect_form(**changes: str | None) -> dict[str, str]:
    """The example's token form (grant_type, client_id, client_secret, tenant_id); None drops a field."""
    form = {
        "grant_type": "client_credentials",
        "client_id": DEFAULT_CONNECT_CLIENT_ID,
        "client_secret": DEFAULT_CONNECT_CLIENT_SECRET,
        "tenant_id": DEFAULT_CONNECT_TENANT,
    }
    form.update(changes)  # type: ignore[arg-type]
    return {k: v for k, v in form.items() if v is not None}


def connect_token(emulator: Emulator, **changes: str | None) -> requests.Response:
    return requests.post(
        emulator.url(CONNECT) + "/connect/token",
        data=connect_form(**changes),
        headers={"Cache-Control": "no-cache"},
        timeout=5,
    )


class ConnectClient(Client):
    """A minimal, correct client of the current sign-in: no tenant header, role=subscriber."""

    files = YF_FILES

    def __init__(self, emulator: Emulator, vendor: YouserveEmulator, tenant: str = DEFAULT_CONNECT_TENANT) -> None:
        self.emulator = emulator
        self.tenant = tenant
        self.base = emulator.url(YOUFORCE)
        self.vendor = vendor
        self.session = requests.Session()
        self.token = self.get_token()

    def get_token(self) -> str:
        response = connect_token(self.emulator, tenant_id=self.tenant)
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **extra}


@pytest.fixture
def connect_client(emulator: Emulator, vendor: YouserveEmulator) -> ConnectClient:
    return ConnectClient(emulator, vendor)


@pytest.fixture(params=["youserve", "visma_connect"])
def any_client(request: pytest.FixtureRequest, emulator: Emulator, vendor: YouserveEmulator) -> Client:
    """The same behaviour, asked of either host with its own sign-in."""
    return ConnectClient(emulator, vendor) if request.param == "visma_connect" else Client(emulator, vendor)


def jwt_payload(token: str) -> dict[str, Any]:
    header, payload, signature = token.split(".")
    assert header
    assert signature
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


# --------------------------------------------------------------------------- 1. Visma Connect sign-in


def test_connect_token_ok(emulator: Emulator, vendor: YouserveEmulator) -> None:
    response = connect_token(emulator)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "token_type", "scope"}
    assert body["expires_in"] == 3600
    assert isinstance(body["expires_in"], int)
    assert body["token_type"] == "Bearer"
    assert body["scope"] == vendor.connect_scope
    claims = jwt_payload(body["access_token"])
    assert claims["tenant_id"] == DEFAULT_CONNECT_TENANT
    assert claims["client_id"] == DEFAULT_CONNECT_CLIENT_ID
    assert vendor.issued_tokens == [body["access_token"]]
    assert vendor.token_requests == 1
    assert vendor.token_requests_by_sign_in == {"visma_connect": 1}
    assert vendor.calls[("POST", "token")] == 1
    assert vendor.host_calls[("visma_connect", "POST", "token")] == 1
    # what the client sent is kept, its secret is not
    assert vendor.connect_token_forms == [{**connect_form(), "client_secret": "<redacted>"}]
    assert DEFAULT_CONNECT_CLIENT_SECRET not in json.dumps(vendor.connect_token_forms)


@pytest.mark.parametrize(
    ("changes", "status", "error"),
    [
        ({"client_secret": "nope"}, 401, "invalid_client"),
        ({"client_id": "isv_someone_else"}, 401, "invalid_client"),
        ({"client_id": "ys-client", "client_secret": "ys-secret-0123456789"}, 401, "invalid_client"),
        ({"client_secret": None}, 400, "invalid_request"),
        ({"client_id": None}, 400, "invalid_request"),
        ({"tenant_id": None}, 400, "invalid_request"),
        ({"tenant_id": ""}, 400, "invalid_request"),
        ({"tenant_id": "sandbox"}, 400, "invalid_tenant"),
        ({"tenant_id": "22222222-2222-2222-2222-222222222222"}, 400, "invalid_tenant"),
        ({"grant_type": None}, 400, "invalid_request"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"scope": "youforce-fileapi:files:upload"}, 400, "invalid_scope"),
        ({"scope": ""}, 400, "invalid_scope"),
    ],
)
def test_connect_token_rejections(
    emulator: Emulator, vendor: YouserveEmulator, changes: dict[str, str | None], status: int, error: str
) -> None:
    response = connect_token(emulator, **changes)
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert vendor.issued_tokens == []


def test_connect_token_refuses_other_encodings_and_methods(emulator: Emulator, vendor: YouserveEmulator) -> None:
    url = emulator.url(CONNECT) + "/connect/token"
    as_json = requests.post(url, json=connect_form(), timeout=5)
    assert (as_json.status_code, as_json.json()["error"]) == (400, "invalid_request")
    repeated = requests.post(url, data=[*connect_form().items(), ("tenant_id", DEFAULT_CONNECT_TENANT)], timeout=5)
    assert (repeated.status_code, repeated.json()["error"]) == (400, "invalid_request")
    as_get = requests.get(url, data=connect_form(), timeout=5)  # even with the form as its body
    assert (as_get.status_code, as_get.json()["error"]) == (400, "invalid_request")
    assert (
        requests.post(emulator.url(CONNECT) + "/connect/authorize", data=connect_form(), timeout=5).status_code == 404
    )
    # the seed-doc token path is not Visma Connect's
    assert (
        requests.post(emulator.url(CONNECT) + "/authentication/token", data=connect_form(), timeout=5).status_code
        == 404
    )
    assert vendor.issued_tokens == []


def test_connect_token_scope_is_optional_and_narrows(emulator: Emulator, vendor: YouserveEmulator) -> None:
    response = connect_token(emulator, scope="youforce-fileapi:files:list")
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "youforce-fileapi:files:list"
    assert jwt_payload(response.json()["access_token"])["scope"] == ["youforce-fileapi:files:list"]


def test_connect_invalid_client_status_is_an_option(mount: tuple[Mount, Emulator]) -> None:
    mount[0].vendor = YouserveEmulator(connect_invalid_client_status=400)  # IdentityServer answers 400
    response = connect_token(mount[1], client_secret="nope")
    assert (response.status_code, response.json()["error"]) == (400, "invalid_client")


def test_connect_credentials_are_options(mount: tuple[Mount, Emulator]) -> None:
    vendor = mount[0].vendor = YouserveEmulator(
        connect_client_id="isv_other", connect_client_secret="other-secret", connect_tenants={"t-1": "sandbox"}
    )
    assert connect_token(mount[1]).status_code == 401
    ok = connect_token(mount[1], client_id="isv_other", client_secret="other-secret", tenant_id="t-1")
    assert ok.status_code == 200, ok.text
    assert vendor.connect.client_secret == "other-secret"
    assert vendor.connect_tenant_id == "t-1"


# --------------------------------------------------------------------------- 2. the Youforce File API host


def test_youforce_host_needs_no_tenant_header(connect_client: ConnectClient, vendor: YouserveEmulator) -> None:
    url = connect_client.base + YF_FILES
    auth = {"Authorization": f"Bearer {connect_client.token}"}
    response = requests.get(url, params={"role": "subscriber"}, headers=auth, timeout=5)
    assert response.status_code == 200, response.text
    assert response.json()["count"] == 13
    assert {e["tenantId"] for e in response.json()["data"]} == {"sandbox"}
    # a tenant header is not needed, and a stray one is ignored (and recorded)
    stray = requests.get(url, params={"role": "subscriber"}, headers={**auth, "x-raet-tenant-id": "other"}, timeout=5)
    assert stray.status_code == 200
    assert stray.json()["count"] == 13
    assert vendor.youforce_tenant_headers == ["other"]
    assert vendor.host_calls[("youforce", "GET", "list")] == 2
    assert vendor.host_calls[("youserve", "GET", "list")] == 0


def test_youforce_host_still_wants_role_subscriber(connect_client: ConnectClient, vendor: YouserveEmulator) -> None:
    url = connect_client.base + YF_FILES
    auth = connect_client.headers()
    assert requests.get(url, headers=auth, timeout=5).status_code == 400
    assert requests.get(url, params={"role": "publisher"}, headers=auth, timeout=5).status_code == 400
    file_id = vendor.entries()[0]["fileId"]
    assert requests.head(f"{url}/{file_id}", headers=auth, timeout=5).status_code == 400
    assert requests.head(f"{url}/{file_id}", params={"role": "subscriber"}, headers=auth, timeout=5).status_code == 200
    no_auth = requests.get(url, params={"role": "subscriber"}, timeout=5)
    assert no_auth.status_code == 401
    # the seed host's paths are not the Youforce host's
    assert connect_client.call("GET", FILES).status_code == 404
    assert connect_client.call("GET", "/v2.0/files").status_code == 404


def test_tokens_do_not_cross_hosts(emulator: Emulator, vendor: YouserveEmulator) -> None:
    seed = Client(emulator, vendor)
    current = ConnectClient(emulator, vendor)
    # a seed-doc token on the Youforce host: 401, with or without a tenant header
    for headers in ({}, {"x-raet-tenant-id": "sandbox"}):
        response = requests.get(
            current.base + YF_FILES,
            params={"role": "subscriber"},
            headers={"Authorization": f"Bearer {seed.token}", **headers},
            timeout=5,
        )
        assert response.status_code == 401
        assert "invalid_token" in response.headers["WWW-Authenticate"]
    # a Visma Connect token on the seed-doc host: 401, even with the right tenant header
    response = requests.get(
        seed.base + FILES,
        params={"role": "subscriber"},
        headers={"Authorization": f"Bearer {current.token}", "x-raet-tenant-id": "sandbox"},
        timeout=5,
    )
    assert response.status_code == 401
    # each on its own host is fine
    assert seed.list()["count"] == 13
    assert current.list()["count"] == 13


def test_youforce_can_accept_youserve_tokens_with_the_tenant_header(mount: tuple[Mount, Emulator]) -> None:
    """The YouforceDeveloperPortal example: an api.raet.com token plus x-raet-tenant-id on fileapi.youforce.com."""
    vendor = mount[0].vendor = YouserveEmulator(youforce_accepts_youserve_tokens=True)
    seed = Client(mount[1], vendor)
    url = mount[1].url(YOUFORCE) + YF_FILES
    ok = requests.get(url, params={"role": "subscriber"}, headers=seed.headers(), timeout=5)
    assert ok.status_code == 200, ok.text
    assert ok.json()["count"] == 13
    no_tenant = {"Authorization": f"Bearer {seed.token}"}
    assert requests.get(url, params={"role": "subscriber"}, headers=no_tenant, timeout=5).status_code == 403
    # Visma Connect tokens still only work on the Youforce host
    current = ConnectClient(mount[1], vendor)
    wrong_host = requests.get(
        seed.base + FILES,
        params={"role": "subscriber"},
        headers={**current.headers(), "x-raet-tenant-id": "sandbox"},
        timeout=5,
    )
    assert wrong_host.status_code == 401


def test_connect_token_is_bound_to_its_tenant(mount: tuple[Mount, Emulator]) -> None:
    tenants = {"aaaaaaaa-0000-4000-8000-000000000001": "sandbox", "bbbbbbbb-0000-4000-8000-000000000002": "acme"}
    vendor = mount[0].vendor = YouserveEmulator(connect_tenants=tenants)
    foreign = vendor.add_file("acme_payroll.xml", 7101, 10, tenant_id="acme")
    sandbox_client = ConnectClient(mount[1], vendor, tenant="aaaaaaaa-0000-4000-8000-000000000001")
    acme_client = ConnectClient(mount[1], vendor, tenant="bbbbbbbb-0000-4000-8000-000000000002")
    assert acme_client.names("status eq 'all'") == ["acme_payroll.xml"]
    assert acme_client.list()["data"][0]["tenantId"] == "acme"
    assert "acme_payroll.xml" not in sandbox_client.names("status eq 'all'")
    assert sandbox_client.download(foreign["fileId"]).status_code == 404
    sandbox_file = by_name(vendor, "sandbox_test_file.xml")["fileId"]
    assert acme_client.call("DELETE", f"{YF_FILES}/{sandbox_file}").status_code == 404
    assert acme_client.call("HEAD", f"{YF_FILES}/{sandbox_file}").status_code == 404
    assert acme_client.download(foreign["fileId"]).status_code == 200
    # a header naming the other tenant changes nothing: the tenant is the token's
    response = acme_client.call(
        "GET", YF_FILES, {"$filter": "status eq 'all'"}, headers={"x-raet-tenant-id": "sandbox"}
    )
    assert [e["fileName"] for e in response.json()["data"]] == ["acme_payroll.xml"]
    assert vendor.deleted == []


# --------------------------------------------------------------------------- 3. an empty $filter


def test_empty_filter_on_youforce_means_available(connect_client: ConnectClient, vendor: YouserveEmulator) -> None:
    # the example's query string, as PowerShell sends it with <Filter></Filter>
    url = connect_client.base + YF_FILES + "?role=subscriber&pageIndex=0&pageSize=21&$filter=&$orderBy=uploadDate%20asc"
    response = connect_client.session.get(url, headers=connect_client.headers(), timeout=5)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["count"], body["pageSize"]) == (13, 21)
    available = connect_client.list(pageSize=21, **{"$filter": "status eq 'available'", "$orderBy": "uploadDate asc"})
    assert body == available
    xml = by_name(vendor, "sandbox_test_file.xml")
    assert connect_client.download(xml["fileId"]).status_code == 200
    after = connect_client.session.get(url, headers=connect_client.headers(), timeout=5).json()
    assert after["count"] == 12
    assert xml["fileId"] not in {e["fileId"] for e in after["data"]}
    # only the empty filter: blanks are still a malformed filter
    assert connect_client.call("GET", YF_FILES, {"$filter": "   "}).status_code == 400


def test_empty_filter_on_the_seed_host_is_still_a_400(client: Client) -> None:
    response = client.call("GET", FILES, {"$filter": ""})
    assert response.status_code == 400
    assert response.json()["message"].startswith("Invalid filter")


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ("startsWith(FileName, 'payroll') eq false", ALL - {"payroll_2026_01.xml", "payroll_2026_02.xml"}),
        ("startsWith(FileName, 'payroll') eq true", {"payroll_2026_01.xml", "payroll_2026_02.xml"}),
        (
            "endsWith(FileName, '.xml') ne true and businessType eq 7101",
            {"sandbox_test_file.txt", "sandbox_test_file.csv"},
        ),
        ("contains(FileName, 'test') eq false and businessType eq 8000", BT_8000 - {"it's a 'test' file.txt"}),
    ],
)
def test_youforce_filters_compare_functions_with_booleans(
    emulator: Emulator, vendor: YouserveEmulator, filter_: str, expected: set[str]
) -> None:
    """config.xml: 'Files with names that don't start with ...': startsWith(FileName, '...') eq false."""
    names = ConnectClient(emulator, vendor).names(filter_)
    assert set(names) == expected
    assert len(names) == len(expected)
    # the seed host keeps its stricter grammar
    assert Client(emulator, vendor).call("GET", FILES, {"$filter": filter_}).status_code == 400


@pytest.mark.parametrize(
    "filter_",
    ["startsWith(FileName, 'a') eq 1", "startsWith(FileName, 'a') eq False", "startsWith(FileName, 'a') gt true"],
)
def test_youforce_boolean_comparison_is_strict(connect_client: ConnectClient, filter_: str) -> None:
    assert connect_client.call("GET", YF_FILES, {"$filter": filter_}).status_code == 400


# --------------------------------------------------------------------------- 4. spike arrest


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_spike_arrest_answers_429_without_retry_after(mount: tuple[Mount, Emulator]) -> None:
    clock = Clock()
    vendor = mount[0].vendor = YouserveEmulator(spike_arrest_per_minute=60, spike_arrest_clock=clock)
    client = ConnectClient(mount[1], vendor)  # the token endpoint is not behind the spike arrest
    assert client.call("GET", YF_FILES).status_code == 200
    arrested = client.call("GET", YF_FILES)
    assert arrested.status_code == 429
    assert "Retry-After" not in arrested.headers
    assert arrested.json()["fault"]["detail"]["errorcode"] == "policies.ratelimit.SpikeArrestViolation"
    clock.now += 0.5  # 60 per minute: one call a second
    assert client.call("GET", YF_FILES).status_code == 429
    clock.now += 0.5
    assert client.call("GET", YF_FILES).status_code == 200
    assert vendor.spike_arrests == 2
    assert vendor.spike_arrests_by_host == {"youforce": 2}
    assert vendor.calls[("GET", "list")] == 4  # refused calls are counted too
    # a refused call does not consume an armed fault
    vendor.faults.add(Fault(path_regex=r"/files$", status=503))
    assert client.call("GET", YF_FILES).status_code == 429
    clock.now += 1
    assert client.call("GET", YF_FILES).status_code == 503


def test_spike_arrest_burst_and_hosts_are_options(mount: tuple[Mount, Emulator]) -> None:
    clock = Clock()
    vendor = mount[0].vendor = YouserveEmulator(
        spike_arrest_per_minute=6, spike_arrest_burst=3, spike_arrest_hosts=["youforce"], spike_arrest_clock=clock
    )
    current, seed = ConnectClient(mount[1], vendor), Client(mount[1], vendor)
    assert [current.call("GET", YF_FILES).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert [seed.call("GET", FILES).status_code for _ in range(5)] == [200] * 5  # not behind it
    assert [connect_token(mount[1]).status_code for _ in range(3)] == [200] * 3
    clock.now += 10  # 6 per minute: one more call after 10 s
    assert [current.call("GET", YF_FILES).status_code for _ in range(2)] == [200, 429]
    assert vendor.spike_arrests == 2


def test_spike_arrest_on_the_seed_host_with_the_real_clock(mount: tuple[Mount, Emulator]) -> None:
    vendor = mount[0].vendor = YouserveEmulator(spike_arrest_per_minute=1)
    client = Client(mount[1], vendor)
    assert client.call("GET", FILES).status_code == 200
    assert client.call("GET", FILES).status_code == 429
    assert client.get_token()  # sign-in is not behind the spike arrest
    assert vendor.spike_arrests == 1


def test_spike_arrest_is_off_by_default(connect_client: ConnectClient, vendor: YouserveEmulator) -> None:
    assert {connect_client.call("GET", YF_FILES).status_code for _ in range(30)} == {200}
    assert vendor.spike_arrests == 0


# --------------------------------------------------------------------------- 5. the same API on either host


def test_any_host_lists_pages_and_shrinks(any_client: Client, vendor: YouserveEmulator) -> None:
    body = any_client.list()
    assert (body["pageIndex"], body["pageSize"], body["count"]) == (0, 20, 13)
    assert [e["fileId"] for e in body["data"]] == [e["fileId"] for e in vendor.entries()]
    pages = [any_client.list(pageSize=5, pageIndex=i) for i in range(3)]
    assert [e["fileId"] for p in pages for e in p["data"]] == [e["fileId"] for e in body["data"]]
    csv = by_name(vendor, "sandbox_test_file.csv")
    assert any_client.download(csv["fileId"], "bytes=0-49").status_code == 206
    assert any_client.list()["count"] == 13
    assert any_client.download(csv["fileId"], "bytes=50-75").status_code == 206
    assert any_client.list()["count"] == 12
    assert any_client.names("status eq 'downloaded'") == ["sandbox_test_file.csv"]
    assert vendor.range_requests == [(csv["fileId"], 0, 49), (csv["fileId"], 50, 75)]
    assert vendor.calls[("GET", "range")] == 2
    assert any_client.list(**{"$orderBy": "fileName asc", "pageSize": 100})["count"] == 12


def test_any_host_head_ranges_and_accept(any_client: Client, vendor: YouserveEmulator) -> None:
    files = any_client.files
    xml = by_name(vendor, "sandbox_test_file.xml")
    data = vendor.file_bytes(xml["fileId"])
    head = any_client.call("HEAD", f"{files}/{xml['fileId']}")
    assert (head.status_code, head.headers["Content-Length"], head.headers["Accept-Ranges"]) == (200, "107", "bytes")
    part = any_client.download(xml["fileId"], "bytes=0-49")
    assert (part.status_code, part.headers["Content-Range"], part.content) == (206, "bytes 0-49/107", data[:50])
    assert part.headers["Content-Disposition"] == "attachment; filename=sandbox_test_file.xml"
    beyond = any_client.download(xml["fileId"], "bytes=107-110")
    assert (beyond.status_code, beyond.headers["Content-Range"]) == (416, "bytes */107")
    assert any_client.download(xml["fileId"], "bytes=-10").status_code == 400
    assert any_client.call("GET", f"{files}/{xml['fileId']}", headers={"Accept": "*/*"}).status_code == 406
    whole = any_client.download(xml["fileId"])
    assert (whole.status_code, whole.content) == (200, data)
    assert any_client.list()["count"] == 12


def test_any_host_deletes(any_client: Client, vendor: YouserveEmulator) -> None:
    path = f"{any_client.files}/{by_name(vendor, 'sandbox_test_file.xml')['fileId']}"
    assert any_client.call("DELETE", path).status_code == 204
    assert any_client.call("DELETE", path).status_code == 404
    assert any_client.call("PUT", path).status_code == 405
    assert any_client.call("POST", any_client.files).status_code == 405
    assert vendor.deleted == [path.rsplit("/", 1)[1]]
    assert any_client.list(**{"$filter": "status eq 'all'"})["count"] == 12


def test_any_host_is_strict(any_client: Client) -> None:
    for params in ({"pageSize": 0}, {"pageSize": 1001}, {"pageIndex": "x"}, {"$orderBy": ""}, {"$orderBy": "size asc"}):
        assert any_client.call("GET", any_client.files, params).status_code == 400, params
    for filter_ in ("businessType EQ 7101", "status eq 'new'", "uploadDate gt 2020-05-19"):
        response = any_client.call("GET", any_client.files, {"$filter": filter_})
        assert response.status_code == 400
        assert response.json()["message"].startswith("Invalid filter")


def test_any_host_tokens_expire_and_are_revoked(any_client: Client, vendor: YouserveEmulator) -> None:
    vendor.expire_all_tokens()
    response = any_client.call("GET", any_client.files)
    assert response.status_code == 401
    assert "expired" in response.headers["WWW-Authenticate"]
    any_client.token = any_client.get_token()
    assert any_client.call("GET", any_client.files).status_code == 200
    vendor.revoke_all_tokens()
    assert any_client.call("GET", any_client.files).status_code == 401
    assert len(vendor.issued_tokens) == 2
    assert vendor.token_requests == 2


def test_short_lived_connect_token_expires(mount: tuple[Mount, Emulator]) -> None:
    vendor = mount[0].vendor = YouserveEmulator(expires_in=0)
    response = ConnectClient(mount[1], vendor).call("GET", YF_FILES)
    assert response.status_code == 401
    assert "expired" in response.headers["WWW-Authenticate"]


def test_any_host_faults(any_client: Client, vendor: YouserveEmulator) -> None:
    files = any_client.files
    vendor.faults.add(Fault(path_regex=r"/files$", status=503, retry_after="1"))
    failed = any_client.call("GET", files)
    assert (failed.status_code, failed.headers["Retry-After"]) == (503, "1")
    xml = by_name(vendor, "sandbox_test_file.xml")
    vendor.faults.add(Fault(path_regex=r"/files/", method="GET", kind="short_body", params={"missing": 7}))
    assert any_client.download(xml["fileId"], "bytes=0-99").content == vendor.file_bytes(xml["fileId"])[:93]
    vendor.faults.add(Fault(path_regex=r"/files$", kind="lie_count"))
    assert any_client.list()["count"] == 18
    vendor.faults.add(Fault(path_regex=r"/files$", kind="duplicate"))
    second = any_client.list(pageSize=5, pageIndex=1)["data"]
    assert second[0]["fileId"] == vendor.entries()[4]["fileId"]
    big = by_name(vendor, "employees_full.csv")
    vendor.faults.add(Fault(path_regex=r"/files/", method="GET", abort_after=1000))
    with pytest.raises(requests.exceptions.RequestException):
        any_client.download(big["fileId"]).content  # noqa: B018
    any_client.session = requests.Session()
    assert any_client.list()["count"] == 13
    vendor.faults.add(Fault(path_regex=r"/token$", status=503))
    with pytest.raises(AssertionError):
        any_client.get_token()  # the sign-in of either flow answers the token fault
    assert vendor.faults.fired == {"503": 2, "short_body": 1, "lie_count": 1, "duplicate": 1, "transport": 1}


def test_any_host_hides_other_tenants(any_client: Client, vendor: YouserveEmulator) -> None:
    foreign = vendor.add_file("foreign.csv", 7101, 10, tenant_id="acme")
    assert "foreign.csv" not in any_client.names("status eq 'all'")
    assert any_client.download(foreign["fileId"]).status_code == 404


# --------------------------------------------------------------------------- 6. mounting and the tap's settings


def test_hosts_and_facades(vendor: YouserveEmulator) -> None:
    youserve, connect, youforce = vendor.hosts()
    assert (youserve.prefix, connect.prefix, youforce.prefix) == ("/youserve", "/visma-connect", "/youforce")
    assert isinstance(connect, VismaConnectEmulator)
    assert isinstance(youforce, YouforceFileApi)
    assert youforce.source == "youserve"
    # credentials are the sign-in's; everything else is the vendor's
    assert (youforce.client_id, youforce.client_secret, youforce.tenant_id) == (
        DEFAULT_CONNECT_CLIENT_ID,
        DEFAULT_CONNECT_CLIENT_SECRET,
        DEFAULT_CONNECT_TENANT,
    )
    assert connect.client_secret == DEFAULT_CONNECT_CLIENT_SECRET
    assert youforce.faults is vendor.faults
    assert youforce.calls is vendor.calls
    assert youforce.issued_tokens is vendor.issued_tokens
    assert youforce.entries() == vendor.entries()
    with pytest.raises(AttributeError):
        _ = youforce.no_such_attribute
    # the token endpoint is no tap source: config_for() and tap_config() must not take it for one
    assert not hasattr(connect, "source")
    assert not hasattr(connect, "tap_settings")


def test_tap_settings_of_each_sign_in_work(emulator: Emulator, vendor: YouserveEmulator) -> None:
    # visma_connect: what config_for(emulator, vendor.youforce) gives
    settings = vendor.youforce.tap_settings(emulator.url(vendor.youforce.prefix))
    assert settings == vendor.sign_in_settings(emulator.url(), "visma_connect")
    assert settings == {
        "sign_in": "visma_connect",
        "token_url": emulator.url("/visma-connect") + "/connect/token",
        "file_api_url": emulator.url("/youforce") + "/v1.0",
        "client_id": DEFAULT_CONNECT_CLIENT_ID,
        "client_secret": DEFAULT_CONNECT_CLIENT_SECRET,
        "tenant_id": DEFAULT_CONNECT_TENANT,
    }
    form = {"grant_type": "client_credentials", **{k: settings[k] for k in ("client_id", "client_secret", "tenant_id")}}
    token = requests.post(settings["token_url"], data=form, timeout=5).json()["access_token"]
    listing = requests.get(
        settings["file_api_url"] + "/files",
        params={"role": "subscriber"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert listing.status_code == 200
    # youserve, the new way (sign_in, file_api_url) and the old one (unchanged keys)
    seed = vendor.sign_in_settings(emulator.url(), "youserve")
    assert seed["sign_in"] == "youserve"
    assert seed["file_api_url"] == emulator.url("/youserve") + "/fileapi/v1.0"
    assert {k: seed[k] for k in vendor.tap_settings(seed["base_url"])} == vendor.tap_settings(seed["base_url"])
    assert set(vendor.tap_settings(seed["base_url"])) == {
        "base_url",
        "token_url",
        "client_id",
        "client_secret",
        "tenant_id",
    }
    form = {"grant_type": "client_credentials", "client_id": seed["client_id"], "client_secret": seed["client_secret"]}
    token = requests.post(seed["token_url"], data=form, timeout=5).json()["access_token"]
    listing = requests.get(
        seed["file_api_url"] + "/files",
        params={"role": "subscriber"},
        headers={"Authorization": f"Bearer {token}", "x-raet-tenant-id": seed["tenant_id"]},
        timeout=5,
    )
    assert listing.status_code == 200
    with pytest.raises(ValueError, match="sign_in"):
        vendor.sign_in_settings(emulator.url(), "oauth")
    with pytest.raises(ValueError, match="/youforce"):
        vendor.youforce.tap_settings(emulator.url("/youserve"))


def test_both_sign_ins_on_one_server_of_their_own() -> None:
    vendor = YouserveEmulator(files=[])
    with Emulator(list(vendor.hosts())) as emulator:
        client = ConnectClient(emulator, vendor)
        assert client.list() == {"data": [], "pageIndex": 0, "pageSize": 20, "count": 0}
        assert Client(emulator, vendor).list()["count"] == 0


# --------------------------------------------------------------------------- current-generation fixtures

CURRENT_FIXTURES = Path(__file__).resolve().parents[1] / "contracts" / "fixtures" / "youserve"


def load_current(name: str) -> dict[str, Any]:
    fixture = json.loads((CURRENT_FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    assert set(fixture) == {"provenance", "generation", "endpoint", "body"}
    assert fixture["generation"] == "current"
    for source in fixture["provenance"]:
        assert set(source) == {"kind", "where", "note"}
        assert source["kind"] in {"doc", "public_client"}
        assert source["where"].startswith("https://") or source["where"].startswith("VR-API-Integration/")
    return fixture


def test_current_fixtures_are_served(emulator: Emulator, vendor: YouserveEmulator) -> None:
    assert sorted(p.stem for p in CURRENT_FIXTURES.glob("*_current.json")) == [
        "connect_token_current",
        "youforce_files_page_current",
    ]
    token = load_current("connect_token_current")
    assert token["endpoint"] == "POST /connect/token"
    answer = connect_token(emulator).json()
    assert shape_mismatches(token["body"], answer) == []
    files = load_current("youforce_files_page_current")
    assert files["endpoint"] == "GET /v1.0/files?role=subscriber"
    page = ConnectClient(emulator, vendor).list(pageSize=2)
    assert shape_mismatches(files["body"], page) == []
    # and the base (seed-doc) listing fixture fits the Youforce host too
    base = json.loads((CURRENT_FIXTURES / "files_page.json").read_text(encoding="utf-8"))
    assert shape_mismatches(base["body"], page) == []
