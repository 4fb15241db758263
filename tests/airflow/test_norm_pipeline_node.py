"""The strain-normalization pipeline (jobs/analytics/strain-normalization.yaml) on the real node.

Real Airflow runs the factory's DAG (`dag.test()`); each of its six steps is a pod of the job
image `make images` builds from jobs/analytics/norm/Dockerfile (PyStan with the model compiled
in), started by the JobOperator on the real kubelet; the steps hand their tables to each other
through the real SeaweedFS store, and the calls are read back from it. Slack is a SaaS: it is
stood in for by the local HTTP server of tests/observability/standin.py, reached from the pod
through the node's one-port relay, at the webhook URL the team's Secret names.

The spec is the repository's own, changed only where the real node needs it: a flavor that fits
the node, the image reference this build gave, a small simulated design and shorter chains (the
limits of tests/jobs/analytics/test_norm_pipeline.py, which runs the same steps as processes).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from tests.airflow.store import PREFIX, use_the_store
from tests.airflow.test_job_operator_node import _run
from tests.harness.fixtures import RESTRICTED_LABELS
from tests.harness.kube import apply_secret, ensure_namespace
from tests.harness.node import RealNode, image_manifest
from tests.harness.objectstore import ObjectStore
from tests.harness.tools import REPO_ROOT
from tests.jobs.analytics.steps import DESIGN, SAMPLER, WEBHOOK_PATH
from tests.observability.standin import StandIn, saas_standin

pytestmark = [pytest.mark.airflow, pytest.mark.node, pytest.mark.objectstore, pytest.mark.stan]
SPEC = REPO_ROOT / "jobs" / "analytics" / "strain-normalization.yaml"
DAG = "strain-normalization"
NAMESPACE = "airflow-jobs-analytics"
FLAVOR = "node-1gb"
NODE_FLAVOR = {
    "cpu": "1",
    "memory": "1Gi",
    "node_labels": {"airflow-platform.test/node-kind": "real"},
    "tolerations": ["airflow-platform.test/real-node"],
    "startup_allowance": "2 minutes",
    "description": "The example pipeline's steps on the real node",
}


@pytest.fixture
def slack() -> Iterator[StandIn]:
    with saas_standin() as standin:
        yield standin


@pytest.fixture
def analytics_on_the_node(
    node_backend: Any,
    real_node: RealNode,
    object_store: ObjectStore,
    slack: StandIn,
    jobs_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    """Analytics' jobs namespace with the store's and Slack's Secrets, the config with the
    store and a flavor the steps fit in, the norm image on the node, and the spec in the jobs
    folder; returns the image reference."""
    ensure_namespace(node_backend, NAMESPACE, RESTRICTED_LABELS)
    config = use_the_store(
        node_backend,
        real_node,
        object_store,
        tmp_path / "platform.yaml",
        team="analytics",
        flavors={FLAVOR: NODE_FLAVOR},
    )
    monkeypatch.setenv("AIRFLOW_PLATFORM_CONFIG", str(config))
    real_node.import_images(["norm"])
    port = int(slack.url.rsplit(":", 1)[1])
    webhook = f"http://{real_node.expose(port)}{WEBHOOK_PATH}"
    secret = {"metadata": {"name": "analytics-slack"}, "stringData": {"webhook-url": webhook}}
    apply_secret(node_backend, NAMESPACE, secret)
    image = image_manifest()["norm"]["ref"]
    spec = yaml.safe_load(SPEC.read_text())
    # The chains are a param of the spec; the sampler's other settings are plain variables.
    sampler = {k: v for k, v in SAMPLER.items() if k != "CHAINS"}
    spec["dag"]["defaults"].update(resource_flavor=FLAVOR, docker_image=image, env=sampler)
    spec["dag"]["params"]["chains"]["default"] = int(SAMPLER["CHAINS"])
    # The real-node config allows an hour at most.
    spec["tasks"]["model"]["fit_model"].update(resource_flavor=FLAVOR, execution_time="30 minutes")
    compile_data = spec["tasks"]["ingest"]["compile_data"]
    compile_data["execution_script"] = " ".join(["python -m norm.compile", *DESIGN])
    (jobs_dir / "analytics").mkdir()
    (jobs_dir / "analytics" / SPEC.name).write_text(yaml.safe_dump(spec))
    return str(image)


def _table(store: ObjectStore, key: str) -> pd.DataFrame:
    body = store.client().get_object(Bucket=store.bucket, Key=key)["Body"].read()
    return pd.read_csv(io.BytesIO(body))


def test_the_pipeline_runs_on_the_node_and_its_calls_recover_the_planted_strains(
    analytics_on_the_node: str,
    object_store: ObjectStore,
    slack: StandIn,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run, tis = _run(DAG)
    out = capsys.readouterr().out
    assert run.state == "success", out[-6000:]
    assert {ti.state for ti in tis.values()} == {"success"}, tis
    # The model came compiled in the image: no step compiled it.
    assert "Compiling the Stan model" not in out
    root = f"{PREFIX}/{DAG}/{run.run_id}"
    keys = object_store.keys(f"{root}/")
    for task in (
        "compile_data",
        "detect_failures",
        "fit_model",
        "call_improved_strains",
        "invalidate_prior_data",
        "report",
    ):
        assert any(k.startswith(f"{root}/{task}/1/") for k in keys), (task, keys)
    truth = _table(object_store, f"{root}/compile_data/1/truth/strains.csv")
    planted = set(truth.loc[truth["improved"], "strain"])
    calls = _table(object_store, f"{root}/call_improved_strains/1/improved_strains.csv")
    assert list(calls.columns) == ["strain", "probability", "effect"]
    found = set(calls["strain"])
    assert len(found & planted) >= len(planted) - 1, (sorted(found), sorted(planted))
    assert len(found - planted) <= 1, (sorted(found), sorted(planted))
    # The report step reached the stand-in with the summary; the webhook never shows.
    posted = slack.to(WEBHOOK_PATH)
    assert len(posted) == 1
    assert f"*improved strains:* {len(calls)} of 60" in posted[0]["text"]
    assert "secret-token" not in out
