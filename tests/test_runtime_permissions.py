"""Runtime permission contracts: every call an AWS service makes with the product's roles after
the stack exists (tests/runtime_contracts.py, from AWS documentation) is allowed by the role's
identity policies within its permission boundary, and by the key and bucket policies, for every
example; and the same calls on another product's resources are denied.

The sandbox cannot show this: it creates the stack whatever the roles may later do.
"""

from __future__ import annotations

import pytest

from tests.conftest import EXAMPLES
from tests.runtime_contracts import Call, Product

pytestmark = pytest.mark.synth  # every test here synthesizes (in this process or the CLI it runs)

STEMS = [p.stem for p in EXAMPLES]


@pytest.fixture(scope="module")
def products(synthesized) -> dict[str, Product]:
    return {stem: Product(result.template, result.names) for stem, result in synthesized.items()}


def others(product: Product, call: Call) -> list[str]:
    """The call's resource as another product would name it: one whose id extends this one's, and
    this product's test deployment (its roles are apart from the product's)."""
    n = product.names
    if n.deployment_id not in call.resource:
        return []
    return [
        call.resource.replace(n.deployment_id, other)
        for other in (f"{n.deployment_id}-batch", f"t1a2b--{n.deployment_id}")
    ]


@pytest.mark.parametrize("stem", STEMS)
def test_every_runtime_call_of_the_products_roles_is_allowed(products, stem):
    product = products[stem]
    calls = product.calls()
    services = {c.who.split()[0] for c in calls}
    assert {"CodeBuild", "CodePipeline", "a", "the"} <= services, "every service of the tier has its contract"
    denied = [f"{call} ({product.decide(call).why}; see {call.doc})" for call in calls if not product.decide(call)]
    assert not denied, "\n".join(denied)


@pytest.mark.parametrize("stem", STEMS)
def test_the_same_calls_on_another_products_resources_are_denied(products, stem):
    product = products[stem]
    samples = [(call, other) for call in product.calls() if call.role for other in others(product, call)]
    assert len(samples) > 40
    reached = [
        f"{call} reaches {other}"
        for call, other in samples
        if product.decide(Call(call.who, call.role, call.action, other, call.doc, call.context))
    ]
    assert not reached, "\n".join(reached)


@pytest.mark.parametrize("stem", [s for s in STEMS if "-sgprov-" in s or "-standalone-" in s][:1])
def test_another_products_key_is_denied_to_every_role(products, stem):
    product = products[stem]
    key_calls = [c for c in product.calls() if c.action.startswith("kms:") and c.role]
    assert key_calls
    foreign = "arn:aws:kms:eu-west-1:111122223333:key/00000000-1111-2222-3333-444444444444"
    reached = [str(c) for c in key_calls if product.decide(Call(c.who, c.role, c.action, foreign, c.doc, c.context))]
    assert not reached


def test_enterprise_builds_write_their_logs_to_the_compliance_log_group(products):
    """Issue: the projects log to the compliance group, the roles could only write /aws/codebuild/…"""
    stem = next(s for s in STEMS if "-standalone-direct" in s)
    product = products[stem]
    log_calls = [c for c in product.calls() if c.action == "logs:PutLogEvents"]
    assert {c.resource.split(":log-stream:")[0].split("log-group:")[1] for c in log_calls} == {
        product.names.compliance_log_group
    }
    assert all(product.decide(c) for c in log_calls)


def test_sagemaker_pipelines_can_run_their_steps_as_the_execution_role(products):
    """Issue: the SageMaker execution role could not create the steps' jobs, models or model versions."""
    product = products[STEMS[0]]
    pipeline_calls = [c for c in product.calls() if c.who == "a SageMaker pipeline execution"]
    assert {c.action for c in pipeline_calls} >= {
        "sagemaker:CreateTrainingJob",
        "sagemaker:CreateProcessingJob",
        "sagemaker:CreateModelPackage",
        "sagemaker:CreateModel",
        "iam:PassRole",
    }
    assert all(product.decide(c) for c in pipeline_calls)


@pytest.mark.parametrize("stem", STEMS[:1])
def test_images_of_another_product_in_the_account_are_denied(products, stem):
    """The boundary lets a role pull AWS's algorithm images and its own product's, not a repository
    another product of the account holds."""
    product = products[stem]
    pulls = [c for c in product.calls() if c.action == "ecr:BatchGetImage"]
    assert pulls and all(product.decide(c) for c in pulls)
    n = product.names
    foreign = n.arn("ecr", f"repository/{n.deployment_id}-batch--images")
    context = {"aws:ResourceAccount": n.account}
    assert not any(product.decide(Call(c.who, c.role, c.action, foreign, c.doc, context)) for c in pulls)


# -- the starter s3 example, written out by hand -----------------------------------------------------
#
# The contracts above read their calls from the template they check (a project's log group, the
# pipeline's source bucket and key, the role a project names): a template that pointed a build at
# the wrong place would be checked against that wrong place. Here the calls of techcorp's starter
# product with an S3 source are written out as literals, from the AWS documentation cited in
# runtime_contracts.DOCS, with the names the README's naming scheme gives them.

STARTER_S3 = "techcorp-prod-a001-us-west-2-customer-churn-ml-s3"
PRODUCT = "techcorp-prod-a001-customer-churn"
HERE = "us-west-2:123456789012"
BUCKET = "arn:aws:s3:::techcorp-prod-a001-customer-churn--usw2-2a33"
# CodePipeline keeps an artifact at <pipeline name, 20 chars>/<artifact name, 10 chars>/<random>
ARTIFACT = f"{BUCKET}/techcorp-prod-a001-c/SourceOutp/Xy12Ab3"
SAGEMAKER_ROLE = (
    "arn:aws:iam::123456789012:role/ml-provisioner/techcorp-prod-a001-customer-churn--usw2/"
    "techcorp-prod-a001-customer-churn--ml-StarterCoreSageMakerExec-1A2B3C4D5E6F"
)
TO_SAGEMAKER = {"iam:PassedToService": "sagemaker.amazonaws.com"}
BUILD = "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
EXECUTION = "a1b2c3d4e5f6"


def _hand_written_calls() -> list[tuple[str, str, str, dict]]:
    """(the service whose role makes the call, action, resource, request context)."""
    calls = []
    for kind in ("build", "deploy"):
        project = f"{PRODUCT}--{kind}"
        # CodeBuild User Guide, service role: the project's default log group /aws/codebuild/<project>
        group = f"arn:aws:logs:{HERE}:log-group:/aws/codebuild/{project}"
        calls += [("codebuild", "logs:CreateLogGroup", group, {})]
        calls += [
            ("codebuild", a, f"{group}:log-stream:{BUILD}", {}) for a in ("logs:CreateLogStream", "logs:PutLogEvents")
        ]
        # ... the pipeline's artifacts: the input it reads, the output it writes
        calls += [("codebuild", a, ARTIFACT, {}) for a in ("s3:GetObject", "s3:GetObjectVersion", "s3:PutObject")]
        calls += [("codebuild", a, BUCKET, {}) for a in ("s3:GetBucketAcl", "s3:GetBucketLocation")]
        # CodeBuild User Guide, test report permissions: report groups named <project>-<report name>
        report_group = f"arn:aws:codebuild:{HERE}:report-group/{project}-unit-tests"
        calls += [
            ("codebuild", f"codebuild:{a}", report_group, {})
            for a in ("CreateReportGroup", "CreateReport", "UpdateReport", "BatchPutTestCases")
        ]
        # CodePipeline action reference, S3 source action: the versioned source object
        calls += [("codepipeline", "s3:GetBucketVersioning", BUCKET, {})]
        source = f"{BUCKET}/source/model-{kind}.zip"
        calls += [("codepipeline", a, source, {}) for a in ("s3:GetObject", "s3:GetObjectVersion")]
        # CodePipeline User Guide, service role: run the CodeBuild action's project
        project_arn = f"arn:aws:codebuild:{HERE}:project/{project}"
        calls += [("codepipeline", a, project_arn, {}) for a in ("codebuild:StartBuild", "codebuild:BatchGetBuilds")]
    calls += [("codepipeline", a, ARTIFACT, {}) for a in ("s3:PutObject", "s3:GetObject", "s3:GetObjectVersion")]
    # the model-build code: upsert and start the SageMaker pipeline, handing it the execution role
    pipeline = f"arn:aws:sagemaker:{HERE}:pipeline/{PRODUCT}--model-build"
    calls += [
        ("codebuild", f"sagemaker:{a}", pipeline, {})
        for a in ("CreatePipeline", "UpdatePipeline", "StartPipelineExecution", "DescribePipeline")
    ]
    calls += [("codebuild", "iam:PassRole", SAGEMAKER_ROLE, TO_SAGEMAKER)]
    # the model-deploy code: read the approved version, deploy it (CreateModel passes ExecutionRoleArn)
    group = f"arn:aws:sagemaker:{HERE}:model-package-group/{PRODUCT}--models"
    calls += [
        ("codebuild", a, group, {}) for a in ("sagemaker:DescribeModelPackageGroup", "sagemaker:ListModelPackages")
    ]
    calls += [
        (
            "codebuild",
            "sagemaker:DescribeModelPackage",
            f"arn:aws:sagemaker:{HERE}:model-package/{PRODUCT}--models/3",
            {},
        )
    ]
    calls += [
        ("codebuild", f"sagemaker:{a}", f"arn:aws:sagemaker:{HERE}:{rtype}/{PRODUCT}--staging", {})
        for a, rtype in (
            ("CreateModel", "model"),
            ("CreateEndpointConfig", "endpoint-config"),
            ("CreateEndpoint", "endpoint"),
        )
    ]
    # SageMaker Developer Guide: what a pipeline execution's role does for its steps
    for job, api in (("training-job", "TrainingJob"), ("processing-job", "ProcessingJob")):
        arn = f"arn:aws:sagemaker:{HERE}:{job}/pipelines-{EXECUTION}-{api.lower()}-x1y2z3"
        calls += [("sagemaker", f"sagemaker:{a}", arn, {}) for a in (f"Create{api}", f"Describe{api}")]
    calls += [("sagemaker", "sagemaker:CreateModelPackage", group, {})]
    calls += [("sagemaker", "iam:PassRole", SAGEMAKER_ROLE, TO_SAGEMAKER)]
    # training jobs log to /aws/sagemaker/TrainingJobs and publish metrics to /aws/sagemaker/TrainingJobs
    stream = f"arn:aws:logs:{HERE}:log-group:/aws/sagemaker/TrainingJobs:log-stream:pipelines-{EXECUTION}/algo-1"
    calls += [("sagemaker", a, stream, {}) for a in ("logs:CreateLogStream", "logs:PutLogEvents")]
    calls += [("sagemaker", "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "/aws/sagemaker/TrainingJobs"})]
    calls += [("sagemaker", "ecr:GetAuthorizationToken", "*", {})]
    image = "arn:aws:ecr:us-west-2:246618743249:repository/sagemaker-xgboost"  # AWS's XGBoost image in us-west-2
    calls += [
        ("sagemaker", a, image, {"aws:ResourceAccount": "246618743249"})
        for a in ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
    ]
    model = f"{BUCKET}/pipelines/{EXECUTION}/output/model.tar.gz"
    calls += [("sagemaker", a, model, {}) for a in ("s3:GetObject", "s3:PutObject")]
    return calls


# ... and calls no role of the product may make: another product's resources, a role passed elsewhere
HAND_WRITTEN_DENIALS = [
    ("codebuild", "s3:PutObject", "arn:aws:s3:::techcorp-prod-a001-customer-churn-batch--usw2-2a33/x", {}),
    ("codebuild", "s3:DeleteBucket", BUCKET, {}),
    ("codebuild", "iam:PassRole", SAGEMAKER_ROLE, {"iam:PassedToService": "ec2.amazonaws.com"}),
    ("codebuild", "sagemaker:CreateEndpoint", f"arn:aws:sagemaker:{HERE}:endpoint/techcorp-prod-a001-other--x", {}),
    ("codepipeline", "codebuild:StartBuild", f"arn:aws:codebuild:{HERE}:project/{PRODUCT}-batch--build", {}),
    (
        "codepipeline",
        "s3:GetObject",
        "arn:aws:s3:::techcorp-prod-a001-customer-churn-batch--usw2-2a33/source/x.zip",
        {},
    ),
    ("sagemaker", "s3:GetObject", "arn:aws:s3:::another-bucket/data.csv", {}),
    ("sagemaker", "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "Custom/Billing"}),
]


def _role_trusting(product: Product, service: str) -> str:
    """The one role of the template that the service may assume."""
    [role] = [
        logical_id
        for logical_id, (rtype, props) in product.resources.items()
        if rtype == "AWS::IAM::Role"
        and any(
            s["Principal"].get("Service") == f"{service}.amazonaws.com"
            for s in props["AssumeRolePolicyDocument"]["Statement"]
        )
    ]
    return role


def test_the_starter_s3_roles_allow_the_hand_written_runtime_calls(products):
    product = products[STARTER_S3]
    roles = {s: _role_trusting(product, s) for s in ("codebuild", "codepipeline", "sagemaker")}
    calls = [
        Call(f"{s} (hand-written)", roles[s], a, r, "AWS documentation", c) for s, a, r, c in _hand_written_calls()
    ]
    denied = [f"{c} ({product.decide(c).why})" for c in calls if not product.decide(c)]
    assert not denied, "\n".join(denied)
    wrong = [Call(f"{s} (hand-written)", roles[s], a, r, "", c) for s, a, r, c in HAND_WRITTEN_DENIALS]
    assert not [str(c) for c in wrong if product.decide(c)]


def test_the_starter_s3_template_hands_the_roles_and_the_source_to_the_services_as_written(products):
    """The template points each service at the role it trusts, and the pipelines at the source objects
    docs/configuration.md tells users to upload (source/model-<kind>.zip in the artifacts bucket)."""
    product = products[STARTER_S3]
    arn = {s: product.roles[_role_trusting(product, s)].arn for s in ("codebuild", "codepipeline", "sagemaker")}
    projects = {p["Name"]: p for _, p in product.of_type("AWS::CodeBuild::Project")}
    assert set(projects) == {f"{PRODUCT}--build", f"{PRODUCT}--deploy"}
    for project in projects.values():
        assert project["ServiceRole"] == arn["codebuild"]
        variables = {e["Name"]: e["Value"] for e in project["Environment"]["EnvironmentVariables"]}
        assert variables["SAGEMAKER_EXECUTION_ROLE_ARN"] == arn["sagemaker"]
        assert not project.get("LogsConfig", {}).get("CloudWatchLogs", {}).get("GroupName"), "the default group"
    assert arn["sagemaker"].startswith(SAGEMAKER_ROLE.rsplit("/", 1)[0] + "/")
    sources = {}
    for _, pipeline in product.of_type("AWS::CodePipeline::Pipeline"):
        assert pipeline["RoleArn"] == arn["codepipeline"]
        assert pipeline["ArtifactStore"]["Location"] == "techcorp-prod-a001-customer-churn--usw2-2a33"
        for stage in pipeline["Stages"]:
            for action in stage["Actions"]:
                provider, config = action["ActionTypeId"]["Provider"], action["Configuration"]
                if provider == "S3":
                    sources[pipeline["Name"]] = (config["S3Bucket"], config["S3ObjectKey"])
                elif provider == "CodeBuild":
                    assert config["ProjectName"] == pipeline["Name"].removesuffix("-pipeline")
    assert sources == {
        f"{PRODUCT}--build-pipeline": ("techcorp-prod-a001-customer-churn--usw2-2a33", "source/model-build.zip"),
        f"{PRODUCT}--deploy-pipeline": ("techcorp-prod-a001-customer-churn--usw2-2a33", "source/model-deploy.zip"),
    }
