"""Seed code: a new product's pipelines start on code that runs.

What is rendered (every example), how it is delivered (the sandbox: s3 archives, a codecommit
repository's first commit, seed-code --out), and that both buildspecs' commands, run as the
CodeBuild project runs them against the sandbox, make only calls the product's roles allow
(each recorded call evaluated against the CodeBuild role, the calls CloudFormation makes for the
serving stack with that role's credentials, and the pipeline's data against the SageMaker role).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from ml_provisioner import seed, staging
from ml_provisioner.config.loader import load_config
from ml_provisioner.policy.schemas import type_permissions
from tests.conftest import EXAMPLES, example
from tests.runtime_contracts import Call, Product
from tests.support.sandbox import cli, product

CONTRACT = ("ARTIFACTS_BUCKET", "MODEL_PACKAGE_GROUP_NAME", "PRODUCT_ID", "RESOURCE_NAME_PREFIX")
ENTERPRISE_CONTRACT = ("KMS_KEY_ARN", "SUBNET_IDS", "SECURITY_GROUP_IDS")
SEED = Path(seed.__file__).parent
RECORDER = Path(__file__).parent / "support" / "seed_recorder.py"
pytestmark = pytest.mark.synth  # most tests here synthesize (in this process or the CLI it runs)


# -- rendering ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_gets_both_sources_with_its_own_names_and_no_placeholder_left(path):
    names = load_config(path).names()
    rendered = seed.render(names)
    assert set(rendered) == {"build", "deploy"}
    for files in rendered.values():
        text = b"".join(files.values()).decode()
        assert not seed.PLACEHOLDER.search(text), seed.PLACEHOLDER.search(text)
        buildspec = yaml.safe_load(files["buildspec.yml"])
        assert buildspec["version"] == 0.2 and buildspec["phases"]["build"]["commands"]
        assert "requirements.txt" in files and names.deployment_id in files["README.md"].decode()
    build = rendered["build"]["pipeline.py"].decode()
    assert all(variable in build for variable in (*CONTRACT, *ENTERPRISE_CONTRACT, "SAGEMAKER_EXECUTION_ROLE_ARN"))
    assert '"PendingManualApproval"' in build
    # serverless costs nothing idle; the enterprise tier serves in its VPC, which serverless cannot
    mode = "instance" if names.config.tier.value == "enterprise" else "serverless"
    assert yaml.safe_load(rendered["deploy"]["deploy-config.yml"])["mode"] == mode


def test_the_seed_pins_what_it_installs():
    for folder in ("model-build", "model-deploy"):
        lines = [line for line in (SEED / folder / "requirements.txt").read_text().splitlines() if line[:1].isalpha()]
        assert lines and all("==" in line for line in lines), lines


def test_a_products_archives_are_the_same_bytes_every_time_and_hold_the_rendered_files():
    names = load_config(example("customer-churn-ml-s3")).names()
    first, again = seed.archives(names), seed.archives(names)
    assert first == again
    with zipfile.ZipFile(io.BytesIO(first["build"])) as zipped:
        assert {n: zipped.read(n) for n in zipped.namelist()} == seed.render(names)["build"]


# -- the template and the deployer policy -----------------------------------------------------------


def test_codecommit_repositories_start_with_the_staged_seed_and_seed_code_false_starts_them_empty(synthesized):
    result = synthesized[example("customer-churn-ml-codecommit").stem]
    names = result.names
    codes = {
        r["Properties"]["RepositoryName"]: r["Properties"].get("Code")
        for r in result.template["Resources"].values()
        if r["Type"] == "AWS::CodeCommit::Repository"
    }
    assert codes == {
        names.repository(kind): {
            "BranchName": "main",
            "S3": {"Bucket": staging.staging_bucket(names), "Key": staging.seed_archive_key(names, kind, archive)},
        }
        for kind, archive in seed.archives(names).items()
    }
    # named by their content: the template names exactly the code the repositories start with
    assert all(f"seed/{names.stack_name}/" in c["S3"]["Key"] for c in codes.values())


def test_without_seed_code_the_repositories_have_no_first_commit(tmp_path):
    from ml_provisioner.synth import synthesize

    data = yaml.safe_load(example("customer-churn-ml-codecommit").read_text())
    data["ml_product"]["seed_code"] = False
    path = tmp_path / example("customer-churn-ml-codecommit").name
    path.write_text(yaml.safe_dump(data))
    [result] = synthesize([load_config(path)], nag=False)
    repositories = [r for r in result.template["Resources"].values() if r["Type"] == "AWS::CodeCommit::Repository"]
    assert len(repositories) == 2 and not any("Code" in r["Properties"] for r in repositories)


def test_enterprise_builds_get_the_products_key_subnets_and_security_group(synthesized):
    result = synthesized[example("demand-forecasting-ml-s3-standalone-direct").stem]
    for project in (r for r in result.template["Resources"].values() if r["Type"] == "AWS::CodeBuild::Project"):
        variables = {v["Name"]: v["Value"] for v in project["Properties"]["Environment"]["EnvironmentVariables"]}
        assert variables["KMS_KEY_ARN"] == {"Fn::GetAtt": [_logical_id(result.template, "AWS::KMS::Key"), "Arn"]}
        assert variables["SUBNET_IDS"] == ",".join(result.loaded.config.vpc_integration.subnet_ids)
        assert variables["SECURITY_GROUP_IDS"] == {
            "Fn::GetAtt": [_logical_id(result.template, "AWS::EC2::SecurityGroup"), "GroupId"]
        }


def _logical_id(template: dict, rtype: str) -> str:
    [found] = [i for i, r in template["Resources"].items() if r["Type"] == rtype]
    return found


def test_the_deployer_may_only_create_seed_archives_never_replace_or_delete_them(synthesized):
    """Whoever holds the deployer policy (or its author half) may write a seed archive only where
    none is (If-None-Match), and may delete none: the archive a change set names still holds the
    checked code when another person executes it. CloudFormation alone reads it for the repository."""
    from ml_provisioner.policy.generator import generate_policy

    result = synthesized[example("customer-churn-ml-codecommit").stem]
    policy = generate_policy(result, approver=True)
    seed_objects = f"arn:aws:s3:::{staging.staging_bucket(result.names)}/seed/"
    for statements in (policy.statements, policy.approver_statements):
        for statement in (s for s in statements if any(seed_objects in r for r in s["Resource"])):
            if "s3:PutObject" in statement["Action"]:
                assert statement["Condition"] == {"StringEquals": {"s3:if-none-match": "*"}}, statement
            assert not {"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:*"} & set(statement["Action"]), statement
    [read] = [s for s in policy.statements if s["Sid"] == "S3SeedArchivesThroughStack"]
    assert read["Condition"] == {"ForAnyValue:StringEquals": {"aws:CalledVia": ["cloudformation.amazonaws.com"]}}

    s3 = generate_policy(synthesized[example("customer-churn-ml-s3").stem], approver=True)
    [put] = [s for s in s3.approver_statements if s["Sid"] == "S3SeedSourceArchives"]
    assert put["Action"] == ["s3:PutObject"] and put["Condition"] == {"StringEquals": {"s3:if-none-match": "*"}}
    assert all(a.endswith(("/source/model-build.zip", "/source/model-deploy.zip")) for a in put["Resource"])
    assert not [s for s in s3.statements if s["Sid"].startswith("S3SeedSourceArchives")], "the author writes none"


def test_a_seed_archive_someone_else_staged_is_refused_and_nothing_is_created(aws):
    config, data = product("customer-churn-ml-codecommit", aws)
    names = load_config(f"ml/configs/{config}").names()
    bucket, archive = staging.staging_bucket(names), seed.archives(names)["build"]
    s3 = aws("s3", names.region)
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):  # another test's deploy made it
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": names.region})
    s3.put_object(Bucket=bucket, Key=staging.seed_archive_key(names, "build", archive), Body=b"someone's own code")

    code, out, err = cli("deploy-product", "-c", config, "--force")

    assert code == 1 and "is not this product's seed code" in err and "Traceback" not in err, err
    stacks = aws("cloudformation", names.region).list_stacks()["StackSummaries"]
    assert not [s for s in stacks if s["StackName"] == names.stack_name and s["StackStatus"] != "DELETE_COMPLETE"]


# -- seed-code --out ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fragment", ["customer-churn-ml-s3", "customer-churn-ml-codecommit", "churn-ml-codeconnections"]
)
def test_seed_code_writes_both_folders_with_the_commands_that_deliver_them(fragment, tmp_path):
    config = example(fragment)
    code, out, err = cli("seed-code", "-c", str(config), "--out", str(tmp_path / "seed"), "--json")
    assert code == 0, err
    answer = json.loads(out)
    names = load_config(config).names()
    for kind, folder in seed.FOLDERS.items():
        files = {p.name: p.read_bytes() for p in (tmp_path / "seed" / folder).iterdir()}
        assert files == seed.render(names)[kind]
    pushed = " ".join(c for commands in answer["push"].values() for c in commands)
    source = names.config.ml_product.source_control.value
    expected = {
        "s3": f"s3://{names.artifacts_bucket}/source/model-build.zip",
        "codecommit": f"/v1/repos/{names.repository('build')}",
        "codeconnections": "git push -u origin",
    }[source]
    assert expected in pushed


@pytest.mark.parametrize("taken", ["model-build/pipeline.py", "model-deploy/deploy.py", "model-deploy"])
def test_seed_code_never_replaces_a_file_and_writes_nothing_then(taken, tmp_path):
    (tmp_path / taken).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / taken).write_text("# the team's own\n")
    code, _, err = cli("seed-code", "-c", str(example("customer-churn-ml-s3")), "--out", str(tmp_path))
    assert code == 2 and f"--out: {tmp_path / taken} exists" in err and "Traceback" not in err, err
    assert (tmp_path / taken).read_text() == "# the team's own\n"
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == [taken]


# -- delivery on the product's first deploy (the sandbox) --------------------------------------------


def test_a_new_s3_product_finds_both_archives_where_its_pipelines_read_and_a_redeploy_keeps_the_teams(aws):
    config, data = product("customer-churn-ml-s3", aws)
    names = load_config(f"ml/configs/{config}").names()
    code, out, err = cli("deploy-product", "-c", config, "--force")
    assert code == 0, err
    s3 = aws("s3", names.region)
    for kind, archive in seed.archives(names).items():
        body = s3.get_object(Bucket=names.artifacts_bucket, Key=names.source_object_key(kind))["Body"].read()
        assert body == archive and f"source/model-{kind}.zip" in out
    s3.put_object(Bucket=names.artifacts_bucket, Key=names.source_object_key("build"), Body=b"the team's")
    from ml_provisioner.aws.seed import deliver_seed_code
    from ml_provisioner.aws.session import AwsSession

    said = deliver_seed_code(AwsSession(region=names.region), names)
    assert "exists already, kept as it is" in said[0]
    body = s3.get_object(Bucket=names.artifacts_bucket, Key=names.source_object_key("build"))["Body"].read()
    assert body == b"the team's"


def test_a_new_codecommit_products_repositories_each_have_the_seed_as_their_first_commit(aws):
    config, data = product("customer-churn-ml-codecommit", aws)
    names = load_config(f"ml/configs/{config}").names()
    code, out, err = cli("deploy-product", "-c", config, "--force")
    assert code == 0, err
    codecommit = aws("codecommit", names.region)
    for kind, files in seed.render(names).items():
        repository = names.repository(kind)
        assert codecommit.get_branch(repositoryName=repository, branchName="main")["branch"]["commitId"]
        buildspec = codecommit.get_file(repositoryName=repository, commitSpecifier="main", filePath="buildspec.yml")
        assert buildspec["fileContent"] == files["buildspec.yml"]
        assert f"first commit of {repository}" in out


# -- the buildspecs run, and every call is one the roles allow -----------------------------------------


@pytest.fixture(scope="session")
def seed_python() -> Path:
    """A Python with exactly the seed's pinned requirements (both folders), made once per pin set."""
    requirements = [SEED / folder / "requirements.txt" for folder in ("model-build", "model-deploy")]
    digest = hashlib.sha256(b"".join(r.read_bytes() for r in requirements)).hexdigest()[:12]
    home = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ml-provisioner-tests" / f"seed-{digest}"
    if not (home / "bin" / "python").exists():  # made aside, then moved: never a half-made one
        uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
        making = home.with_name(f"{home.name}.{os.getpid()}")
        shutil.rmtree(making, ignore_errors=True)
        subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(making)], check=True)
        install = [uv, "pip", "install", "-q", "--python", str(making / "bin" / "python")]
        subprocess.run([*install, *(f"--requirement={r}" for r in requirements)], check=True)
        try:
            making.rename(home)
        except OSError:  # another worker made it first
            shutil.rmtree(making, ignore_errors=True)
    return home / "bin" / "python"


def recorded_environment(python: Path, log: Path) -> dict[str, str]:
    """The seed's Python on PATH, with the recorder as its sitecustomize writing to log (created)."""
    site = log.parent / "site"
    site.mkdir(exist_ok=True)
    shutil.copy(RECORDER, site / "sitecustomize.py")
    log.touch()
    return {
        "PATH": f"{python.parent}:/usr/bin:/bin",
        "PYTHONPATH": str(site),
        "HOME": str(log.parent),
        "SEED_CALL_LOG": str(log),
    }


def run_buildspec(folder: Path, python: Path, variables: dict[str, str], endpoint: str, log: Path) -> str:
    """The buildspec's build commands, in the source folder, with the project's variables, as
    CodeBuild runs them (the install phase is the seed's requirements: seed_python)."""
    env = {
        **recorded_environment(python, log),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "sandbox",
        "AWS_SECRET_ACCESS_KEY": "sandbox",
        "AWS_REGION": variables["AWS_REGION"],
        "AWS_DEFAULT_REGION": variables["AWS_REGION"],
        "SERVING_POLL_SECONDS": "0.2",
        **variables,
    }
    buildspec = yaml.safe_load((folder / "buildspec.yml").read_text())
    output = []
    for command in buildspec["phases"]["build"]["commands"]:
        done = subprocess.run(command, shell=True, cwd=folder, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
        output.append(done.stdout)
    return "".join(output)


def recorded(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def iam_requests(call: dict, names) -> list[tuple[str, str, dict]]:
    """(IAM action, resource ARN, request context) that one recorded API call is authorized as
    (the Service Authorization Reference); an unmapped call fails the test until it is mapped."""
    service, operation, params = call["service"], call["operation"], call["params"]
    sagemaker = lambda resource: names.arn("sagemaker", resource)  # noqa: E731
    passes = {"iam:PassedToService": "sagemaker.amazonaws.com"}
    if service == "s3":
        bucket = f"arn:aws:s3:::{params['Bucket']}"
        objects = {"PutObject": "s3:PutObject", "GetObject": "s3:GetObject", "HeadObject": "s3:GetObject"}
        if operation in objects:
            return [(objects[operation], f"{bucket}/{params['Key']}", {})]
        if operation in ("ListObjectsV2", "HeadBucket"):
            return [("s3:ListBucket", bucket, {})]
    if service == "sagemaker":
        if "PipelineName" in params:
            requests = [(f"sagemaker:{operation}", sagemaker(f"pipeline/{params['PipelineName']}"), {})]
            if "RoleArn" in params:
                requests.append(("iam:PassRole", params["RoleArn"], passes))
            return requests
        if operation in ("ListTags", "AddTags"):
            return [(f"sagemaker:{operation}", params["ResourceArn"], {})]
        if operation == "ListModelPackages":
            return [
                ("sagemaker:ListModelPackages", sagemaker(f"model-package/{params['ModelPackageGroupName']}/*"), {})
            ]
        if operation == "CreateTransformJob":
            return [("sagemaker:CreateTransformJob", sagemaker(f"transform-job/{params['TransformJobName']}"), {})]
    if service == "sagemaker-runtime" and operation == "InvokeEndpoint":
        return [("sagemaker:InvokeEndpoint", sagemaker(f"endpoint/{params['EndpointName']}"), {})]
    if service == "cloudformation" and "StackName" in params:
        stack = names.arn("cloudformation", f"stack/{params['StackName']}/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b")
        return [(f"cloudformation:{operation}", stack, {})]
    raise AssertionError(f"no IAM mapping for {service}:{operation}: add it to iam_requests")


def approve_a_new_version(sagemaker, names) -> None:
    sagemaker.create_model_package(
        ModelPackageGroupName=names.model_package_group,
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": "xgboost:1.7-1", "ModelDataUrl": f"s3://{names.artifacts_bucket}/m.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )


def serving_stack_calls(names, variables: dict[str, str], key_tags: dict[str, str]) -> list[tuple[str, str, dict]]:
    """What CloudFormation does for the serving stack with the deploy build's credentials over two
    approved versions: each handler's permissions (the CloudFormation registry schema) on the names
    serving.yml gives. The first version creates all three resources; the next one replaces the
    model and the endpoint config (new names), updates the endpoint in place, deletes the old two."""
    prefix = names.name("")
    model, config = f"model/{prefix}m{{}}", f"endpoint-config/{prefix}c{{}}"
    endpoint = f"endpoint/{prefix}endpoint"
    first, second = "0a1b2c3", "4d5e6f7"  # serving ids (seven hex digits)
    handled = [
        ("create", "AWS::SageMaker::Model", model.format(first)),
        ("create", "AWS::SageMaker::EndpointConfig", config.format(first)),
        ("create", "AWS::SageMaker::Endpoint", endpoint),
        ("create", "AWS::SageMaker::Model", model.format(second)),
        ("create", "AWS::SageMaker::EndpointConfig", config.format(second)),
        ("update", "AWS::SageMaker::Endpoint", endpoint),
        ("delete", "AWS::SageMaker::Model", model.format(first)),
        ("delete", "AWS::SageMaker::EndpointConfig", config.format(first)),
    ]
    passes = {"iam:PassedToService": "sagemaker.amazonaws.com"}
    requests = []
    for handler, rtype, resource in handled:
        for action in type_permissions(rtype, names.region).handlers[handler]:
            if action == "iam:PassRole":
                requests.append((action, variables["SAGEMAKER_EXECUTION_ROLE_ARN"], passes))
            elif action.startswith("kms:"):
                if variables.get("KMS_KEY_ARN"):
                    requests.append((action, variables["KMS_KEY_ARN"], key_tags))
            else:
                requests.append((action, names.arn("sagemaker", resource), {}))
    return requests


def test_the_pipeline_definition_builds_offline(seed_python, tmp_path):
    """--definition makes no AWS call and opens no connection: an endpoint nothing answers, and not
    one call or connection recorded (credentials that would be refused anyway)."""
    names = load_config(example("demand-forecasting-ml-s3-standalone-direct")).names()
    seed.write(names, tmp_path / "sources")
    log = tmp_path / "calls.jsonl"
    env = recorded_environment(seed_python, log)
    env |= {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "SUBNET_IDS": "subnet-0a,subnet-0b"}
    env |= {"SECURITY_GROUP_IDS": "sg-0a", "KMS_KEY_ARN": names.arn("kms", "key/0a1b")}
    env |= {"AWS_ACCESS_KEY_ID": "none", "AWS_SECRET_ACCESS_KEY": "none"}
    done = subprocess.run(
        [str(seed_python), "pipeline.py", "--definition"],
        cwd=tmp_path / "sources" / "model-build",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    definition = json.loads(done.stdout)
    assert [s["Name"] for s in definition["Steps"]] == ["PrepareData", "Train", "Evaluate", "AucGate"]
    assert _s3_uris(definition) and all(u.startswith(f"s3://{names.artifacts_bucket}/") for u in _s3_uris(definition))
    assert "subnet-0a" in done.stdout and names.arn("kms", "key/0a1b") in done.stdout
    assert recorded(log) == []


def test_serverless_serving_is_refused_where_the_product_has_a_vpc(seed_python, tmp_path):
    """Serverless Inference takes no VPC configuration: an enterprise product's deploy says so."""
    names = load_config(example("demand-forecasting-ml-s3-standalone-direct")).names()
    seed.write(names, tmp_path)
    config = tmp_path / "model-deploy" / "deploy-config.yml"
    config.write_text(config.read_text().replace("mode: instance", "mode: serverless"))
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "SUBNET_IDS": "subnet-0a",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    }
    done = subprocess.run(
        [str(seed_python), "deploy.py"], cwd=tmp_path / "model-deploy", env=env, capture_output=True, text=True
    )
    assert done.returncode == 1 and "cannot serve inside the product's VPC" in done.stderr, done.stderr


TIERS = {
    "starter": "customer-churn-ml-s3",
    "professional": "fraud-detection-ml-codecommit",
    "enterprise": "demand-forecasting-ml-s3-standalone-direct",
}


@pytest.mark.parametrize("tier", TIERS)
def test_both_buildspecs_run_against_the_sandbox_and_every_call_is_allowed_by_the_roles(
    tier, aws, endpoint, seed_python, tmp_path
):
    config, data = product(TIERS[tier], aws)
    names = load_config(f"ml/configs/{config}").names()
    code, _, err = cli("deploy-product", "-c", config, "--force")
    assert code == 0, err
    region = names.region
    deployed = aws("cloudformation", region).get_template(StackName=names.stack_name)["TemplateBody"]
    template = deployed if isinstance(deployed, dict) else yaml.safe_load(deployed)
    judge = Product(template, names)
    projects = {
        p["name"]: p
        for p in aws("codebuild", region).batch_get_projects(
            names=[names.codebuild_project(k) for k in ("build", "deploy")]
        )["projects"]
    }
    sources = tmp_path / "sources"
    seed.write(names, sources)
    said = {}
    calls = {}
    for kind, folder in seed.FOLDERS.items():
        project = projects[names.codebuild_project(kind)]
        variables = {v["name"]: v["value"] for v in project["environment"]["environmentVariables"]}
        variables["AWS_REGION"] = region
        log = tmp_path / kind / "calls.jsonl"
        log.parent.mkdir()
        said[kind] = ""
        for _ in ("the first run", "the next: an update of what the first made"):
            if kind == "deploy":  # a person approved a version model-build registered
                approve_a_new_version(aws("sagemaker", region), names)
            said[kind] += run_buildspec(sources / folder, seed_python, variables, endpoint, log)
        calls[kind] = (recorded(log), variables)

    # nothing but the sandbox was reached (the SDK's telemetry is off)
    assert not [c for kind in calls for c in calls[kind][0] if "network" in c]
    assert said["build"].count("execution started") == 2 and said["deploy"].count("smoke_test_prediction") == 2
    build_calls, variables = calls["build"]
    operations = {(c["service"], c["operation"]) for c in [*build_calls, *calls["deploy"][0]]}
    assert {
        ("sagemaker", "CreatePipeline"),
        ("sagemaker", "UpdatePipeline"),
        ("sagemaker", "StartPipelineExecution"),
        ("cloudformation", "CreateStack"),
        ("cloudformation", "UpdateStack"),
        ("sagemaker-runtime", "InvokeEndpoint"),
    } <= operations, operations
    if tier == "enterprise":
        assert set(ENTERPRISE_CONTRACT) <= set(variables)

    # every call, as the role whose credentials make it
    role = judge.role_with_arn(build_project(judge, names)["ServiceRole"])
    requests = [(r, kind) for kind in calls for c in calls[kind][0] for r in iam_requests(c, names)]
    # the key as the template names it (the judge resolves the template, not the sandbox's ids)
    key = (
        {"KMS_KEY_ARN": judge.values.get_att(_logical_id(template, "AWS::KMS::Key"), "Arn")}
        if tier == "enterprise"
        else {}
    )
    requests += [(r, "deploy") for r in serving_stack_calls(names, {**calls["deploy"][1], **key}, judge._key_tags())]
    decisions = [
        (kind, call, judge.decide(call))
        for (action, resource, context), kind in requests
        for call in [Call(f"model-{kind}", role, action, resource, "the seed's buildspec", context)]
    ]
    denied = [f"{call} ({decision.why})" for kind, call, decision in decisions if not decision]
    assert not denied, "\n".join(denied)

    # the pipeline's jobs: every S3 location in its definition is the product's bucket, which the
    # SageMaker execution role reads and writes; every job runs as that role
    created = next(c for c in build_calls if c["operation"] == "CreatePipeline")
    definition = created["params"]["PipelineDefinition"]
    sagemaker_role = judge.role_with_arn(judge._sagemaker_role_arn(build_project(judge, names)))
    uris = {u.split("/", 3)[2] for u in _s3_uris(json.loads(definition))}
    assert uris == {names.artifacts_bucket}, uris
    for action in ("s3:GetObject", "s3:PutObject"):
        call = Call("SageMaker", sagemaker_role, action, f"arn:aws:s3:::{names.artifacts_bucket}/model-build/x", "seed")
        assert judge.decide(call), judge.decide(call).why
    assert json.loads(definition) and variables["SAGEMAKER_EXECUTION_ROLE_ARN"] in definition
    if tier == "enterprise":
        assert variables["KMS_KEY_ARN"] in definition and variables["SUBNET_IDS"].split(",")[0] in definition


def build_project(judge: Product, names) -> dict:
    [project] = [
        p for _, p in judge.of_type("AWS::CodeBuild::Project") if p["Name"] == names.codebuild_project("build")
    ]
    return project


def _s3_uris(value) -> set[str]:
    if isinstance(value, str):
        return {value} if value.startswith("s3://") else set()
    if isinstance(value, dict):
        return set().union(*(_s3_uris(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_s3_uris(v) for v in value)) if value else set()
    return set()


def test_an_existing_products_repositories_get_no_seed_and_the_change_says_it_has_no_effect(aws):
    """A codecommit product made without seed code (or before it existed) gets its repositories'
    Code in the template; CodeCommit reads Code only when it creates a repository: the change is
    shown as having no effect, and the repositories stay as they are."""
    config, data = product("customer-churn-ml-codecommit", aws, ml_product__seed_code=False)
    names = load_config(f"ml/configs/{config}").names()
    assert cli("deploy-product", "-c", config, "--force")[0] == 0
    data["ml_product"]["seed_code"] = True
    Path("ml/configs", config).write_text(yaml.safe_dump(data, sort_keys=False))

    code, out, err = cli("show-changes", "-c", config, "--json")

    assert code == 0, err
    changes = {c["logical_id"]: c for c in json.loads(out)["changes"]}
    repositories = [c for c in changes.values() if c["resource_type"] == "AWS::CodeCommit::Repository"]
    assert len(repositories) == 2 and all(c["action"] == "Modify" for c in repositories)
    code, out, err = cli("show-changes", "-c", config)
    assert out.count("NO EFFECT (Code is read only at creation)") == 2, out
    assert cli("deploy-product", "-c", config, "--force")[0] == 0
    codecommit = aws("codecommit", names.region)
    for kind in ("build", "deploy"):
        with pytest.raises(codecommit.exceptions.BranchDoesNotExistException):
            codecommit.get_branch(repositoryName=names.repository(kind), branchName="main")
