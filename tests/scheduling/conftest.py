from tests.workflow.harness import roster_loaded

__all__ = ["roster_loaded"]
