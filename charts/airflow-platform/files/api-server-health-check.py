"""`helm test`: the api-server answers its health endpoint and reports healthy every component
the release runs. Run in the platform image by templates/tests/api-server-health-pod.yaml; the
standard library only, so that it checks the api-server and not this script's imports.

AIRFLOW_PLATFORM_HEALTH_URL      the /api/v2/monitor/health URL of the api-server's Service
AIRFLOW_PLATFORM_HEALTH_REQUIRE  comma-separated components that must be "healthy"
AIRFLOW_PLATFORM_HEALTH_TIMEOUT  seconds to keep retrying (a fresh install is still starting)
"""

import json
import os
import sys
import time
import urllib.request

url = os.environ["AIRFLOW_PLATFORM_HEALTH_URL"]
required = [c for c in os.environ.get("AIRFLOW_PLATFORM_HEALTH_REQUIRE", "").split(",") if c]
deadline = time.monotonic() + float(os.environ.get("AIRFLOW_PLATFORM_HEALTH_TIMEOUT", "120"))
while True:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            health = json.load(response)
        status = {c: (health.get(c) or {}).get("status") for c in required}
        bad = {c: s for c, s in status.items() if s != "healthy"}
        if not bad:
            print(f"{url}: healthy: {', '.join(required)}")
            sys.exit(0)
        problem = f"not healthy: {bad}"
    except Exception as exc:  # refused, timed out, not JSON: all mean "not yet" until the deadline
        problem = f"{type(exc).__name__}: {exc}"
    if time.monotonic() >= deadline:
        print(f"{url}: {problem}", file=sys.stderr)
        sys.exit(1)
    time.sleep(5)
