"""The ValidatingAdmissionPolicy that makes the API server hold every pod in a jobs
namespace to the platform's rules, whoever creates it (a worker's code, a Spark driver, a
person with kubectl).

It is generated from the platform config with the rules of ``airflow_platform.policy`` and
``airflow_platform.pods``, so the two cannot drift:

- the platform's team, job and flavor labels (``pods.pod_labels``) are present;
- the team label is the team whose namespace the pod is in (``PlatformConfig.namespace_of``);
- the flavor label names a flavor that team may use (``Flavor.usable_by``);
- every image starts with an allowed prefix at a registry or path boundary
  (``policy.image_prefixes``), or is the Kerberos image;
- the one container, ``base``, requests exactly the flavor's CPU, memory and extended
  resources and limits memory and those to the same (``pods.resources``); init containers are
  only the platform's own (Kerberos, artifact transfer), each at its fixed size; no ephemeral containers;
- no host network, PID or IPC namespace, no hostPath volume or host port, no privileged
  container, added capability or privilege escalation.

The policy is two parts. The *data* (namespaces, flavors, prefixes) are CEL literals made from
the config; the *rules* (``validations``, ``matchConstraints``) are the same for every config
and live in the chart as ``files/admission-policy.yaml`` (written by ``make docs`` from
:func:`policy_rules`; a test fails while it is stale). The chart's template
``templates/admission/`` makes the data from its values the way :func:`policy_data` does, and a
chart test renders both for every values file and compares them.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from airflow_platform import kerberos
from airflow_platform.artifacts import pod as transfer
from airflow_platform.config import PlatformConfig
from airflow_platform.pods import CONTAINER_NAME, LABEL_PREFIX
from airflow_platform.policy import image_prefixes

API_VERSION = "admissionregistration.k8s.io/v1"
TEAM_LABEL = f"{LABEL_PREFIX}/team"
JOB_LABEL = f"{LABEL_PREFIX}/job"
FLAVOR_LABEL = f"{LABEL_PREFIX}/flavor"
_HOW = "create job pods through the platform (JobOperator, SparkJobOperator)"


def _literal(value: Any) -> str:
    """A CEL literal of plain data: JSON maps, lists and strings are CEL's own syntax."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def policy_data(config: PlatformConfig) -> dict[str, Any]:
    """The config-made values the rules read, by variable name (plain data, see ``_literal``)."""
    flavors = config.flavors
    extended = {
        name: ({f.gpu.resource: str(f.gpu.count)} if f.gpu else {}) for name, f in flavors.items()
    }
    return {
        "namespaceTeams": {ns: team for team, ns in config.jobs_namespaces().items()},
        "teamFlavors": {team: sorted(config.flavors_for(team)) for team in config.teams},
        "flavorCpu": {name: f.cpu for name, f in flavors.items()},
        "flavorMemory": {name: f.memory for name, f in flavors.items()},
        "flavorExtended": extended,
        "imagePrefixes": image_prefixes(config.policy.allowed_images),
        "images": [
            *([config.kerberos.image] if config.kerberos else []),
            *([config.artifacts.image] if config.artifacts else []),
        ],
    }


def _sides() -> dict[str, dict[str, str]]:
    """The platform's own init containers and sidecars, by name, with their fixed size."""
    sizes = {
        kerberos.INIT_CONTAINER: kerberos.SIDE_RESOURCES,
        kerberos.RENEW_CONTAINER: kerberos.SIDE_RESOURCES,
        transfer.FETCH_CONTAINER: transfer.SIDE_RESOURCES,
        transfer.KEEP_CONTAINER: transfer.SIDE_RESOURCES,
    }
    return {
        name: {
            "cpu": size.requests["cpu"],
            "memory": size.requests["memory"],
            "limit": size.limits["memory"],
        }
        for name, size in sizes.items()
    }


def _equal(quantity: str, expected: str) -> str:
    return f"quantity({quantity}).compareTo(quantity({expected})) == 0"


def policy_rules() -> dict[str, Any]:
    """The ValidatingAdmissionPolicy without its name and its data variables: the part that is
    the same for every platform config."""
    base = f"'{CONTAINER_NAME}'"
    size = "variables.flavorExtended[variables.flavor]"
    fits_flavor = " && ".join(
        [
            "has(c.resources) && has(c.resources.requests) && has(c.resources.limits)",
            f"c.resources.requests.size() == 2 + {size}.size()",
            f"c.resources.limits.size() == 1 + {size}.size()",
            "'cpu' in c.resources.requests && 'memory' in c.resources.requests",
            "'memory' in c.resources.limits",
            _equal("c.resources.requests['cpu']", "variables.flavorCpu[variables.flavor]"),
            _equal("c.resources.requests['memory']", "variables.flavorMemory[variables.flavor]"),
            _equal("c.resources.limits['memory']", "variables.flavorMemory[variables.flavor]"),
            f"{size}.all(r, r in c.resources.requests && r in c.resources.limits && "
            + _equal("c.resources.requests[r]", f"{size}[r]")
            + " && "
            + _equal("c.resources.limits[r]", f"{size}[r]")
            + ")",
        ]
    )
    side = "variables.sides[c.name]"
    fits_side = " && ".join(
        [
            "has(c.resources) && has(c.resources.requests) && has(c.resources.limits)",
            "c.resources.requests.size() == 2 && c.resources.limits.size() == 1",
            "'cpu' in c.resources.requests && 'memory' in c.resources.requests",
            "'memory' in c.resources.limits",
            _equal("c.resources.requests['cpu']", f"{side}['cpu']"),
            _equal("c.resources.requests['memory']", f"{side}['memory']"),
            _equal("c.resources.limits['memory']", f"{side}['limit']"),
        ]
    )
    unprivileged = " && ".join(
        [
            "has(c.securityContext) && has(c.securityContext.allowPrivilegeEscalation)",
            "!c.securityContext.allowPrivilegeEscalation",
            "!(has(c.securityContext.privileged) && c.securityContext.privileged)",
            "!(has(c.securityContext.capabilities) && has(c.securityContext.capabilities.add)"
            " && c.securityContext.capabilities.add.size() > 0)",
            "(!has(c.ports) || c.ports.all(p, !has(p.hostPort) || p.hostPort == 0))",
        ]
    )
    labels = _literal([TEAM_LABEL, JOB_LABEL, FLAVOR_LABEL])
    variables = [
        ("sides", _literal(_sides())),
        ("labels", "has(object.metadata.labels) ? object.metadata.labels : {}"),
        (
            "team",
            "request.namespace in variables.namespaceTeams ? "
            "variables.namespaceTeams[request.namespace] : ''",
        ),
        (
            "flavor",
            f"'{FLAVOR_LABEL}' in variables.labels ? variables.labels['{FLAVOR_LABEL}'] : ''",
        ),
        (
            "containers",
            "object.spec.containers + "
            "(has(object.spec.initContainers) ? object.spec.initContainers : [])",
        ),
        (
            "badImages",
            "variables.containers.filter(c, !has(c.image) || !(c.image in variables.images || "
            "variables.imagePrefixes.exists(p, c.image.startsWith(p))))"
            ".map(c, has(c.image) ? c.image : '<none>')",
        ),
    ]
    validations: list[dict[str, str]] = [
        {
            "expression": f"{labels}.all(k, k in variables.labels)",
            "message": f"a pod in a jobs namespace must carry the platform's labels "
            f"{TEAM_LABEL}, {JOB_LABEL} and {FLAVOR_LABEL}: {_HOW}",
        },
        {
            "expression": f"!('{TEAM_LABEL}' in variables.labels) || "
            f"variables.labels['{TEAM_LABEL}'] == variables.team",
            "messageExpression": f"'the pod says team ' + variables.labels['{TEAM_LABEL}'] + "
            "', but namespace ' + request.namespace + ' is team ' + variables.team + \"'s\"",
        },
        {
            "expression": f"!('{FLAVOR_LABEL}' in variables.labels) || "
            "(variables.team in variables.teamFlavors && "
            "variables.flavor in variables.teamFlavors[variables.team])",
            "messageExpression": "'flavor ' + variables.flavor + ' is not one of team ' + "
            'variables.team + "\'s flavors (" + (variables.team in variables.teamFlavors ? '
            "variables.teamFlavors[variables.team].join(', ') : '') + ')'",
        },
        {
            "expression": f"object.spec.containers.all(c, c.name == {base})",
            "message": f"a job pod has one container, named {CONTAINER_NAME}: {_HOW}",
        },
        {
            "expression": "!(variables.flavor in variables.flavorCpu) || "
            f"object.spec.containers.all(c, c.name != {base} || ({fits_flavor}))",
            "messageExpression": "'container base must request exactly flavor ' + "
            'variables.flavor + "\'s cpu " + variables.flavorCpu[variables.flavor] + '
            "', memory ' + variables.flavorMemory[variables.flavor] + "
            "variables.flavorExtended[variables.flavor].map(r, ', ' + r + ' ' + "
            "variables.flavorExtended[variables.flavor][r]).join('') + "
            "' and limit memory' + (variables.flavorExtended[variables.flavor].size() > 0 ? "
            "' and those' : '') + ' to the same, nothing more'",
        },
        {
            "expression": "!has(object.spec.initContainers) || object.spec.initContainers.all("
            f"c, c.name in variables.sides && {fits_side})",
            "message": "a job pod's only init containers are the platform's own ("
            + ", ".join(
                f"{name} at cpu {size['cpu']}, memory {size['memory']}"
                for name, size in _sides().items()
            )
            + f"): {_HOW}",
        },
        {
            "expression": "!has(object.spec.ephemeralContainers) || "
            "object.spec.ephemeralContainers.size() == 0",
            "message": "no ephemeral (debug) containers in a jobs namespace",
        },
        {
            "expression": "variables.badImages.size() == 0",
            "messageExpression": "'image ' + variables.badImages.join(', ') + "
            "' is not under an allowed prefix (' + variables.imagePrefixes.join(', ') + ')'",
        },
        {
            "expression": "!(has(object.spec.hostNetwork) && object.spec.hostNetwork) && "
            "!(has(object.spec.hostPID) && object.spec.hostPID) && "
            "!(has(object.spec.hostIPC) && object.spec.hostIPC)",
            "message": "a job pod may not use the node's network, PID or IPC namespace",
        },
        {
            "expression": "!has(object.spec.volumes) || "
            "object.spec.volumes.all(v, !has(v.hostPath))",
            "message": "a job pod may not mount a folder of the node (hostPath)",
        },
        {
            "expression": f"variables.containers.all(c, {unprivileged})",
            "message": "a job pod's containers may not be privileged, add capabilities, "
            "escalate privileges (allowPrivilegeEscalation must be false) or use host ports",
        },
    ]
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["pods", "pods/ephemeralcontainers", "pods/resize"],
                    }
                ]
            },
            "variables": [{"name": n, "expression": e} for n, e in variables],
            "validations": [{**v, "reason": "Forbidden"} for v in validations],
        },
    }


def validating_admission_policy(config: PlatformConfig, name: str) -> dict[str, Any]:
    """The whole policy named ``name``: the config's data, then the rules."""
    policy = policy_rules()
    data = [{"name": n, "expression": _literal(v)} for n, v in sorted(policy_data(config).items())]
    policy["metadata"] = {"name": name}
    policy["spec"]["variables"] = [*data, *policy["spec"]["variables"]]
    return policy


def policy_binding(config: PlatformConfig, name: str) -> dict[str, Any]:
    """The binding of policy ``name`` to every team's jobs namespace (by the name label the
    API server itself sets, which nobody can change)."""
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {
            "policyName": name,
            "validationActions": ["Deny"],
            "matchResources": {
                "namespaceSelector": {
                    "matchExpressions": [
                        {
                            "key": "kubernetes.io/metadata.name",
                            "operator": "In",
                            "values": sorted(config.jobs_namespaces().values()),
                        }
                    ]
                }
            },
        },
    }


def rules_file() -> str:
    """``charts/airflow-platform/files/admission-policy.yaml``: the rules, as the chart reads
    them (``make docs`` writes it)."""
    header = (
        "# Generated by `make docs` from airflow_platform/admission.py (policy_rules); do not "
        "edit.\n# The chart adds the name and the data variables made from `platform:`.\n"
    )
    return header + yaml.safe_dump(policy_rules(), sort_keys=False, width=100)


if __name__ == "__main__":
    print(rules_file(), end="")
