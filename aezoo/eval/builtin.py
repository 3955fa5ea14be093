"""The evaluators that live in files of their own, registered with :data:`EVALUATORS`
(read on its first use)."""

from aezoo.eval import disentanglement_run, export, filters, gaussian, sample_quality_run
from aezoo.eval.run import register_evaluator

for _module in (disentanglement_run, export, filters, gaussian, sample_quality_run):
    register_evaluator(_module.EVALUATOR)
