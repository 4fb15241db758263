"""Step report: the run's summary, posted to Slack and kept as ``summary.txt``/``summary.json``.

Reads the outputs of detect_failures, fit_model, call_improved_strains and
invalidate_prior_data. The message says the status, the run date, how many strains improve on
the parent, the fit's quality (R² of the fitted values, R-hat, ESS, divergences), the failures
flagged, the batch-effect scale against its bound, and which earlier calls were superseded.

It is posted through ``airflow_platform.notifications.post_slack_webhook`` to the incoming
webhook in ``$SLACK_WEBHOOK_URL`` (the spec references it as a secret). Without one, or when
Slack refuses, the step says so and still succeeds: a summary is not worth failing a run for.
"""

from __future__ import annotations

import json
import os
from typing import Any

from airflow_platform.notifications import post_slack_webhook
from norm.steps import output_dir, run_date, run_step, upstream

TASK = "report"
WEBHOOK_ENV = "SLACK_WEBHOOK_URL"


def _read(task: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(upstream(task, name).read_text())
    return data


def summary(
    date: str,
    failures: dict[str, Any],
    fit: dict[str, Any],
    batch: dict[str, Any],
    calls: dict[str, Any],
    invalidated: dict[str, Any],
) -> tuple[str, dict[str, Any]]:
    """The Slack text and its facts."""
    warnings = []
    if batch["above_bound"]:
        warnings.append("batch-effect scale above its bound")
    if fit["divergences"]:
        warnings.append(f"{fit['divergences']} divergent transitions")
    status = "success" + (f", with warnings: {'; '.join(warnings)}" if warnings else "")
    icon = ":warning:" if warnings else ":white_check_mark:"
    superseded = invalidated["runs_superseded"]
    facts = {
        "status": status,
        "run_date": date,
        "improved_strains": calls["improved"],
        "strains": calls["strains"],
        "r_squared": fit["r_squared"],
        "rhat_max": fit["rhat_max"],
        "ess_bulk_min": fit["ess_bulk_min"],
        "divergences": fit["divergences"],
        "failed_wells": failures["failed"],
        "wells": failures["wells"],
        "batch_scale_ratio": batch["batch_scale_ratio"],
        "batch_scale_bound_ratio": batch["batch_scale_bound_ratio"],
        "runs_superseded": len(superseded),
        "calls_superseded": invalidated["calls_superseded"],
    }
    lines = [
        f"{icon} *strain-normalization* {status} — run date {date}",
        f"*improved strains:* {calls['improved']} of {calls['strains']} beat the parent by more "
        f"than {calls['min_improvement']:.0%} (expected FDR ≤ {calls['fdr']:.0%}; expected false "
        f"discoveries {calls['expected_false_discoveries']:.2f})",
        f"*fit quality:* yield R² {fit['r_squared']:.3f}; R-hat ≤ {fit['rhat_max']:.3f}, "
        f"bulk ESS ≥ {fit['ess_bulk_min']:.0f}, {fit['divergences']} divergent transitions",
        f"*process failures:* {failures['failed']} of {failures['wells']} wells "
        f"({failures['share']:.1%}) flagged",
        f"*batch effects:* scale {batch['batch_scale']['mean']:.3g} "
        f"({batch['batch_scale_ratio']:.1%} of the parent's level; bound "
        f"{batch['batch_scale_bound_ratio']:.0%})",
        f"*prior calls:* {len(superseded)} earlier run(s) superseded "
        f"({invalidated['calls_superseded']} calls)",
    ]
    return "\n".join(lines), facts


def main() -> None:
    text, facts = summary(
        run_date(),
        _read("detect_failures", "failures.json"),
        _read("fit_model", "fit.json"),
        _read("fit_model", "batch_effects.json"),
        _read("call_improved_strains", "calls.json"),
        _read("invalidate_prior_data", "invalidated.json"),
    )
    out = output_dir(TASK)
    (out / "summary.txt").write_text(text + "\n")
    url = os.environ.get(WEBHOOK_ENV, "").strip()
    if not url:
        facts["posted"] = False
        print(f"report: no Slack webhook (${WEBHOOK_ENV}): the summary is not posted")
    else:
        facts["posted"] = post_slack_webhook(text, url)
        print(
            "report: summary posted to Slack"
            if facts["posted"]
            else "report: warning: Slack did not take the summary"
        )
    (out / "summary.json").write_text(json.dumps(facts, indent=2) + "\n")
    print(text)
    print(f"improved strains: {facts['improved_strains']}")


if __name__ == "__main__":
    run_step(main)
