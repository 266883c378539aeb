"""A polling pipeline stops polling after 30 days without activity (CodePipeline's
metadata.pollingDisabledAt); the tier inventory allows no event rule for pushes, so check-drift
reports such a pipeline, with the command that turns polling back on."""

from __future__ import annotations

import json

import pytest
from ml_provisioner_sandbox import start_sandbox

from ml_provisioner.config.loader import load_config
from ml_provisioner.errors import EXIT_DRIFT
from tests.support.sandbox import cli, product

pytestmark = pytest.mark.synth  # every test here synthesizes (in this process or the CLI it runs)


@pytest.fixture(scope="module")
def sandbox():
    with start_sandbox(port=0) as running:
        yield running


@pytest.fixture(scope="module")
def endpoint(sandbox):
    return sandbox.url


def test_check_drift_reports_a_pipeline_whose_polling_aws_disabled(aws, sandbox):
    config, data = product("techcorp codecommit", aws)
    names = load_config(f"ml/configs/{config}").names()
    assert cli("deploy-product", "-c", config, "--force")[0] == 0
    code, out, err = cli("check-drift", "-c", config)
    assert code == 0, err + out

    sandbox.disable_polling(names.pipeline("build"), names.region)  # 30 days later, on AWS

    code, out, _ = cli("check-drift", "-c", config)
    assert code == EXIT_DRIFT
    assert f"on {names.pipeline('build')}: a push starts nothing" in out
    assert (
        f"re-enable: aws codepipeline start-pipeline-execution --name {names.pipeline('build')} --region {names.region}"
    ) in out
    assert names.pipeline("deploy") not in out
    code, out, _ = cli("check-drift", "-c", config, "--json")
    [stopped] = json.loads(out)["polling_disabled"]
    assert stopped["pipeline"] == names.pipeline("build") and stopped["since"]
