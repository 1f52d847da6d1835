#!/usr/bin/env python3
"""Verifies a webhook request offboard sent, with the Standard Webhooks Python library
(PyPI `standardwebhooks`, pinned below), so the signature is checked by code nobody here
wrote, in another language.

The capture is written by the Rust test that delivers over a real socket:

    python3 -m venv target/ci-tools/venv
    target/ci-tools/venv/bin/pip install -q "standardwebhooks==1.1.0"
    OFFBOARD_WEBHOOK_CAPTURE=$PWD/target/webhook-capture.json \
        cargo test --test server a_subscription_added_over_the_api
    target/ci-tools/venv/bin/python .ci/verify_webhook.py target/webhook-capture.json

The capture is JSON: {"secret": "whsec_…", "headers": {...}, "body": "..."}. The library
refuses timestamps older than five minutes, so verify right after the test. Exit 0 when
the signature verifies and a tampered body does not; 1 otherwise.
"""

import json
import sys

from standardwebhooks import Webhook, WebhookVerificationError


def main(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        capture = json.load(f)
    hook = Webhook(capture["secret"])
    body = capture["body"]
    headers = capture["headers"]
    try:
        hook.verify(body, headers)
    except WebhookVerificationError as e:
        print(f"FAIL: the captured request does not verify: {e}")
        return 1
    try:
        hook.verify(body.replace("}", " }", 1), headers)
        print("FAIL: a tampered body verified")
        return 1
    except WebhookVerificationError:
        pass
    print(f"ok: webhook {headers['webhook-id']} verified by standardwebhooks (Python)")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: verify_webhook.py CAPTURE.json", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
