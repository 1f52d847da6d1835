"""Runs scim2-tester (PyPI) against a live `offboard serve` (.ci/scim_checks).

Usage: scim_check.py BASE_URL TOKEN
Prints every check with its status; exits 1 if any check is ERROR or CRITICAL.
"""

import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server


def main() -> int:
    base, token = sys.argv[1], sys.argv[2]
    http = Client(base_url=base, headers={"Authorization": f"Bearer {token}"})
    client = SyncSCIMClient(http)
    failed = 0
    for result in check_server(client):
        bad = result.status in (Status.ERROR, Status.CRITICAL)
        failed += bad
        where = f" [{result.resource_type}]" if result.resource_type else ""
        print(f"{result.status.name:10} {result.title}{where}" + (f": {result.reason}" if bad else ""))
    print(f"scim2-tester: {failed} failing checks")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
