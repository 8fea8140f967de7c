"""The case workflow as data: loaded from workflows/*.yaml, validated, built into one shared Machine."""

from jiesu.workflow.machine import IllegalTransition, Workflow
from jiesu.workflow.spec import WorkflowError, load_workflow

__all__ = ["IllegalTransition", "Workflow", "WorkflowError", "load_workflow"]
