"""Addresses of the real node's network namespace (tests/harness/node.py).

They exist only inside that namespace, which has no route off the machine; the control
plane's serving certificate names the node address so the kubelet can verify it through the
relay there.
"""

from __future__ import annotations

# The node's address is the pod bridge's gateway: it exists before the first pod (the harness
# makes the bridge; the CNI bridge plugin adopts it) and pods reach the node there.
POD_SUBNET = "10.244.0.0/24"
NODE_IP = "10.244.0.1"
BRIDGE = "apbr0"
# The real node is tainted so that only pods meant for it (the test flavors that tolerate it)
# land there; every other test's pods keep to the simulated nodes.
REAL_NODE_TAINT_KEY = "airflow-platform.test/real-node"
REAL_NODE_TAINT = {"key": REAL_NODE_TAINT_KEY, "value": "true", "effect": "NoSchedule"}
