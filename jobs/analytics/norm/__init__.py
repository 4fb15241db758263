"""Strain normalization: process failures, batch effects and improved strains, from plate data.

Robots measure microbial strains in the wells of plates; plates are run in batches (days). The
pipeline (``jobs/analytics/strain-normalization.yaml``; the method in ``docs/normalization.md``):

1. ``norm.compile`` — the wells table (``strain, plate, batch, value``): a lab's own CSV named by
   ``$WELLS``, or simulated data with a known truth (``norm.simulate``);
2. ``norm.detect`` — flags process failures (extreme wells) with a robust two-way rule;
3. ``norm.fit`` — a hierarchical Bayesian model in PyStan: strain effects, batch and plate
   offsets with partial pooling, a Student-t likelihood; checks R-hat and ESS; publishes the
   batch-effect scale;
4. ``norm.call`` — improved strains: the posterior probability of beating the parent by more
   than a threshold, with Bayesian false-discovery control;
5. ``norm.invalidate`` — marks the previous run's calls superseded in the calls database;
6. ``norm.report`` — posts the run's summary to Slack.

Each step writes into its own output folder and reads its upstream steps' outputs (``norm.steps``).
"""
