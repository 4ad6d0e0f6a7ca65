"""Classification metrics (moved to jacktf.evaluation.report; these names stay)."""

from jacktf.evaluation.report import classification_report, write_report  # noqa: F401
