"""End to end through a client generated from /openapi.json (openapi-python-client):
submit a new invoice for the demo seller and read it back.

Run by scripts/fuzz-api against its demo site; the generated package is on
sys.path (target/einvoice-client). The only hand-written protocol code is the
request signature, added as an httpx request hook (the generator knows the
scheme's header, not its recipe, which the document describes in prose).
"""

import copy
import datetime
import hashlib
import hmac
import json
import os
import secrets
import sys
import time

import httpx
from einvoice_client import Client
from einvoice_client.api.sellers import get_v1_sellers_ubn_blanks, get_v1_sellers_ubn_invoices_number, post_v1_messages
from einvoice_client.models import MessageF0401, Receipt, InvoiceView

CREDS = json.load(open(os.environ["EINVOICE_CREDENTIALS"]))
BASE = os.environ["EINVOICE_URL"]
DOC = json.load(open(os.environ["EINVOICE_OPENAPI"]))


def sign(request: httpx.Request) -> None:
    body = request.read()
    ts = str(int(time.time()))
    nonce = secrets.token_hex(16)
    pq = request.url.raw_path.decode()
    text = "\n".join(["EINVOICE-HMAC-SHA256", request.method, pq, ts, nonce, hashlib.sha256(body).hexdigest()])
    s = CREDS["seller"]
    request.headers["X-Einvoice-Key"] = s["key_id"]
    request.headers["X-Einvoice-Timestamp"] = ts
    request.headers["X-Einvoice-Nonce"] = nonce
    request.headers["X-Einvoice-Signature"] = hmac.new(s["secret"].encode(), text.encode(), hashlib.sha256).hexdigest()


def main() -> int:
    client = Client(base_url=BASE, httpx_args={"event_hooks": {"request": [sign]}}, raise_on_unexpected_status=True)
    ubn, period = CREDS["seller"]["ubn"], CREDS["period"]
    blanks = get_v1_sellers_ubn_blanks.sync(client=client, ubn=ubn, period=period)
    if not hasattr(blanks, "blanks"):
        print(f"client-e2e: blanks refused: {blanks}", file=sys.stderr)
        return 1
    first = blanks.blanks[0]
    number = f"{first.track}{first.begin:08d}"
    # The document's example is a demo invoice; make it a new one of this seller and period.
    msg = copy.deepcopy(DOC["components"]["schemas"]["Message"]["example"])
    msg["Main"]["InvoiceNumber"] = number
    msg["Main"]["Seller"]["Identifier"] = ubn
    msg["Main"]["InvoiceDate"] = datetime.date.today().strftime("%Y%m%d")
    receipt = post_v1_messages.sync(client=client, body=MessageF0401.from_dict(msg))
    if not isinstance(receipt, Receipt):
        print(f"client-e2e: submit refused: {receipt}", file=sys.stderr)
        return 1
    view = get_v1_sellers_ubn_invoices_number.sync(client=client, ubn=ubn, number=number)
    if not isinstance(view, InvoiceView) or view.summary.number != number or view.receipt.hash_ != receipt.hash_:
        print(f"client-e2e: read back {view}", file=sys.stderr)
        return 1
    print(f"client-e2e: submitted {number} (seq {receipt.seq}) and read it back with the generated client")
    return 0


if __name__ == "__main__":
    sys.exit(main())
