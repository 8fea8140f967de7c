"""The case workflow as data: loaded from workflows/*.yaml, validated, built into one shared Machine."""

from jiesu.workflow.machine import IllegalTransition, Workflow
from jiesu.workflow.spec import WorkflowError, load_workflow
from jiesu.workflow.states import STATES, CaseStates

__all__ = ["STATES", "CaseStates", "IllegalTransition", "Workflow", "WorkflowError", "load_workflow"]
