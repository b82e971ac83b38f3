"""Schemathesis hooks: real credentials for every security scheme of einvoice's
OpenAPI document, read from a demo site's `demo-credentials.json`.

- signedRequest (`EINVOICE-HMAC-SHA256`): signs the request exactly as sent
  (method, path and query, body bytes) the way `crates/server/src/sign.rs`
  documents, as a `requests` auth hook so the body is the serialised one;
- carrierToken: logs the demo carrier in once and sends `Authorization: Bearer`;
- operatorSession: logs the demo operator in once (password + TOTP);
- appId: adds the demo app's `appID` to the App API parameters.
"""

import base64
import hashlib
import hmac
import io
import json
import os
import secrets
import struct
import threading
import time
import urllib.parse
import urllib.request
import zipfile

import requests
import schemathesis
from hypothesis import strategies as st

CREDS = json.load(open(os.environ["EINVOICE_CREDENTIALS"]))
BASE = os.environ.get("EINVOICE_URL", CREDS["base_url"]).rstrip("/")


def _post_json(path, body):
    req = urllib.request.Request(
        BASE + path,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def _totp(secret_b32, at):
    """RFC 6238: HMAC-SHA1, 6 digits, 30 s steps (crates/server/src/ops/totp.rs)."""
    key = base64.b32decode(secret_b32.upper() + "=" * (-len(secret_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(at) // 30), hashlib.sha1).digest()
    off = mac[-1] & 15
    return "%06d" % ((struct.unpack(">I", mac[off : off + 4])[0] & 0x7FFFFFFF) % 1_000_000)


def _ubn_with_check_digit(seven):
    """The MOF UBN checksum (crates/core/src/ids.rs): weights 1,2,1,2,1,2,4,1,
    digit sums of the products, total divisible by 5; the last weight is 1, so
    one last digit in 0..=4 always completes the total."""
    total = 0
    for d, w in zip(seven, [1, 2, 1, 2, 1, 2, 4]):
        p = int(d) * w
        total += p // 10 + p % 10
    return seven + str((-total) % 5)


# `format: tw-ubn` (the document's Ubn): 8 digits that pass the checksum,
# often the demo seller's so the seller routes answer with data.
schemathesis.openapi.format(
    "tw-ubn",
    st.one_of(
        st.just(CREDS["seller"]["ubn"]),
        st.text("0123456789", min_size=7, max_size=7).map(_ubn_with_check_digit),
    ),
)

_TOKENS = {}
# One login per scheme for the whole run, whatever the number of workers: a
# TOTP code is accepted once, so two workers logging in within one time step
# would have the second refused.
_LOGIN = threading.Lock()


def carrier_token():
    with _LOGIN:
        return _carrier_token()


def _carrier_token():
    if "carrier" not in _TOKENS:
        c = CREDS["carrier"]
        _TOKENS["carrier"] = _post_json(
            "/v1/carrier/login",
            {"carrier_type": c["type"], "carrier_id": c["id"], "verification_code": c["verification_code"]},
        )["token"]
    return _TOKENS["carrier"]


def operator_session():
    with _LOGIN:
        return _operator_session()


def _operator_session():
    if "operator" not in _TOKENS:
        o = CREDS["operator"]
        _TOKENS["operator"] = _post_json(
            "/v1/ops/login", {"name": o["name"], "password": o["password"], "totp": _totp(o["totp_secret"], time.time())}
        )["token"]
    return _TOKENS["operator"]


def _zip(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files:
            z.writestr(name, data)
    return buf.getvalue()


# POST /v1/uploads bodies: real ZIP archives of small files (names from safe ones
# to traversal and folders, contents from bytes to MIG-looking XML), and now and
# then bytes that are no ZIP at all.
_names = st.one_of(
    st.from_regex(r"\A[a-z0-9_-]{1,12}\.xml\Z"),
    st.sampled_from(["../x.xml", "a/b.xml", "/abs.xml", "x.txt", "dir/", "..\\x.xml"]),
)
_contents = st.one_of(
    st.binary(max_size=2048),
    st.just(b'<?xml version="1.0" encoding="UTF-8"?><Invoice xmlns="urn:GEINV:eInvoiceMessage:F0401:4.1"/>'),
)
schemathesis.openapi.media_type(
    "application/zip",
    st.one_of(
        st.lists(st.tuples(_names, _contents), max_size=6, unique_by=lambda f: f[0]).map(_zip),
        st.binary(max_size=512),
    ),
)


class SignedRequest(requests.auth.AuthBase):
    """EINVOICE-HMAC-SHA256 over the prepared request (its final bytes)."""

    def __call__(self, r):
        body = r.body or b""
        if isinstance(body, str):
            body = body.encode()
        ts = str(int(time.time()))
        nonce = secrets.token_hex(16)
        text = "\n".join(
            ["EINVOICE-HMAC-SHA256", r.method.upper(), r.path_url, ts, nonce, hashlib.sha256(body).hexdigest()]
        )
        s = CREDS["seller"]
        r.headers["X-Einvoice-Key"] = s["key_id"]
        r.headers["X-Einvoice-Timestamp"] = ts
        r.headers["X-Einvoice-Nonce"] = nonce
        r.headers["X-Einvoice-Signature"] = hmac.new(s["secret"].encode(), text.encode(), hashlib.sha256).hexdigest()
        return r


def _schemes(case):
    names = set()
    for req in case.operation.definition.raw.get("security", []) or []:
        names.update(req.keys())
    return names


@schemathesis.hook
def before_call(context, case, kwargs):
    schemes = _schemes(case)
    if "signedRequest" in schemes:
        kwargs["auth"] = SignedRequest()
    if "carrierToken" in schemes:
        case.headers = {**(case.headers or {}), "Authorization": "Bearer " + carrier_token()}
    if "operatorSession" in schemes:
        case.headers = {**(case.headers or {}), "Authorization": "Bearer " + operator_session()}
    if "appId" in schemes:
        app = CREDS["app"]["app_id"]
        if isinstance(case.body, dict) and case.operation.method.lower() == "post":
            case.body = {**case.body, "appID": app}
        else:
            case.query = {**(case.query or {}), "appID": app}


def _has_feb_29_of_a_common_year(case):
    values = []
    for part in (case.query, case.body, case.path_parameters):
        if isinstance(part, dict):
            values.extend(v for v in part.values() if isinstance(v, str))
    for v in values:
        digits = v.replace("-", "").replace("/", "")
        if len(digits) == 8 and digits.isdigit() and digits[4:] == "0229":
            y = int(digits[:4])
            if not (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)):
                return True
    return False


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """Keep every failure but those the document states and JSON Schema cannot express:

    - an XML body (`application/xml`, `text/xml`) is a string to JSON Schema,
      so a schema-valid string that is not a MIG 4.1 document answers 400 with
      an XML decode code (the operation lists them);
    - an upload (`application/zip`) is binary to JSON Schema, so generated
      bytes answer with an UPLOAD_* code (400, 413 or 422, listed);
    - JSON Schema counts 1.0 as an integer; the server's integer fields take
      integers written without a fraction (400 BODY_INVALID "floating point").
    """
    title = getattr(failure, "title", "") or ""
    if "Schema-violating request accepted" in title and case.path.startswith(("/PB2CAPIVAN/", "/BIZAPIVAN/")):
        # The MOF App API refuses bad parameters in its body (HTTP 200, MOF
        # code 901/902/904/905), as MOF does and the document says.
        return False
    if "Schema-valid request rejected" not in title or response is None:
        return True
    try:
        body = response.json()
    except Exception:
        return True
    code = body.get("code", "") if isinstance(body, dict) else ""
    media = (case.media_type or "").split(";")[0].strip()
    if media in ("application/xml", "text/xml") and (code.startswith("XML_") or code in ("MIG3_RETIRED", "ENCODING_INVALID")):
        return False
    if media == "application/zip" and code.startswith("UPLOAD_"):
        # A ZIP archive is binary to JSON Schema: generated bytes are refused
        # with the archive's own codes (the operation lists them).
        return False
    if code == "BODY_INVALID" and "floating point" in body.get("detail", ""):
        return False
    if code == "DATE_FORMAT" and _has_feb_29_of_a_common_year(case):
        # The date patterns take 29 February in every year: JSON Schema
        # cannot say which years are leap years.
        return False
    if code == "BODY_INVALID" and isinstance(case.body, dict):
        # A property the schema does not have (it says additionalProperties:
        # false), which Schemathesis sometimes adds: not a schema-valid request.
        try:
            raw = case.operation.definition.raw["requestBody"]["content"]["application/json"]["schema"]
        except (KeyError, TypeError, AttributeError):
            raw = {}
        props = raw.get("properties", {}) if isinstance(raw, dict) else {}
        if props and any(k not in props for k in case.body):
            return False
    return True
