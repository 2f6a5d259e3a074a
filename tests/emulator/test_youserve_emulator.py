"""The YouServe File API emulator behaves like the vendor documentation says, strictly."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import requests

from tests.emulator.server import Emulator, Fault, Request, Response
from tests.emulator.youserve import YouserveEmulator, parse_datetime

FILES = "/fileapi/v1.0/files"
OCTET = {"Accept": "application/octet-stream"}


class Client:
    """A minimal, correct YouServe subscriber client."""

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
        response = self.call("GET", FILES, params)
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
        return self.call("GET", f"{FILES}/{file_id}", headers=headers)


class Mount:
    """One server for the module (stopping one costs ~0.5 s); each test mounts a fresh vendor."""

    prefix = "/youserve"

    def __init__(self) -> None:
        self.vendor = YouserveEmulator()

    def handle(self, request: Request) -> Response:
        return self.vendor.handle(request)


@pytest.fixture(scope="module")
def mount():
    mount = Mount()
    with Emulator([mount]) as running:
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
