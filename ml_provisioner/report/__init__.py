"""create-review-report: one self-contained HTML page for the reviewer who approves a deployment.
See docs/review-report.md."""

from ml_provisioner.report.page import ReviewInput, build_report

__all__ = ["ReviewInput", "build_report"]
