"""The model-build pipeline of {{product_id}}: data, training, evaluation, a gate, the registry.

    python pipeline.py --definition   print the SageMaker pipeline definition (no AWS call is made)
    python pipeline.py --start        upload the step scripts, create or update the pipeline, start it

Everything comes from the build contract's variables (docs/build-contract.md), which the CodeBuild
project sets; outside CodeBuild the product's own names are the defaults. The roles allow only
these names: the pipeline is RESOURCE_NAME_PREFIX + "model-build", every object goes to
ARTIFACTS_BUCKET, every job runs as SAGEMAKER_EXECUTION_ROLE_ARN, and new model versions wait in
MODEL_PACKAGE_GROUP_NAME for a person's approval. Where KMS_KEY_ARN, SUBNET_IDS and
SECURITY_GROUP_IDS are set (the enterprise tier) the jobs use that key and run in those subnets.
"""

import argparse
import hashlib
import json
import logging
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
os.environ.setdefault("SAGEMAKER_USER_CONFIG_OVERRIDE", os.path.join(HERE, "sagemaker-config.yaml"))
os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")  # v2 is what requirements.txt pins
# The SDK's notes go to stderr (it would print them on stdout): stdout is the definition.
logging.getLogger("sagemaker").addHandler(logging.StreamHandler(sys.stderr))

import boto3  # (the SDK reads the two variables above when it is imported)
from sagemaker import image_uris
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.model_metrics import MetricsSource, ModelMetrics
from sagemaker.network import NetworkConfig
from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
from sagemaker.sklearn.processing import SKLearnProcessor
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.functions import Join, JsonGet
from sagemaker.workflow.parameters import ParameterFloat, ParameterInteger
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_context import PipelineSession
from sagemaker.workflow.pipeline_definition_config import PipelineDefinitionConfig
from sagemaker.workflow.properties import PropertyFile
from sagemaker.workflow.step_collections import RegisterModel
from sagemaker.workflow.steps import ProcessingStep, TrainingStep

DEFAULTS = {  # the product's names, for runs outside CodeBuild
    "ARTIFACTS_BUCKET": "{{artifacts_bucket}}",
    "MODEL_PACKAGE_GROUP_NAME": "{{model_package_group}}",
    "PRODUCT_ID": "{{product_id}}",
    "RESOURCE_NAME_PREFIX": "{{resource_name_prefix}}",
    "AWS_REGION": "{{region}}",
}
XGBOOST_VERSION = "1.7-1"
SKLEARN_VERSION = "1.2-1"
# The smallest instances the built-in containers support: a run costs cents.
PROCESSING_INSTANCE = "ml.t3.medium"
TRAINING_INSTANCE = "ml.m5.large"


def setting(name, required=True):
    value = os.environ.get(name) or DEFAULTS.get(name)
    if required and not value:
        raise SystemExit(f"{name} is not set: CodeBuild sets it (docs/build-contract.md); export it to run here")
    return value


def script_uris(bucket):
    """Where each step script is read from: named by its content, so a changed script is a new
    object and the definition names exactly the code it runs."""
    uris = {}
    for script in ("prepare.py", "evaluate.py"):
        with open(os.path.join(HERE, script), "rb") as file:
            content = hashlib.sha256(file.read()).hexdigest()[:16]
        uris[script] = f"s3://{bucket}/model-build/code/{content}/{script}"
    return uris


def upload_scripts(bucket, region):
    s3 = boto3.Session(region_name=region).client("s3")
    for script, uri in script_uris(bucket).items():
        s3.upload_file(os.path.join(HERE, script), bucket, uri.split("/", 3)[3])


def session(region, bucket):
    boto_session = boto3.Session(region_name=region)
    pipeline_session = PipelineSession(boto_session=boto_session, default_bucket=bucket)
    # The SDK otherwise lists every bucket of the account to see whether this one exists, which the
    # product's roles rightly may not do: the bucket is the product's, it exists.
    pipeline_session._default_bucket = bucket
    return pipeline_session


def build_pipeline(role_arn):
    region = setting("AWS_REGION")
    bucket = setting("ARTIFACTS_BUCKET")
    prefix = setting("RESOURCE_NAME_PREFIX")
    group = setting("MODEL_PACKAGE_GROUP_NAME")
    key = os.environ.get("KMS_KEY_ARN") or None
    subnets = [s for s in os.environ.get("SUBNET_IDS", "").split(",") if s]
    groups = [g for g in os.environ.get("SECURITY_GROUP_IDS", "").split(",") if g]
    network = NetworkConfig(subnets=subnets, security_group_ids=groups) if subnets and groups else None
    sagemaker_session = session(region, bucket)
    name = f"{prefix}model-build"
    base = f"s3://{bucket}/model-build"
    scripts = script_uris(bucket)
    jobs = dict(role=role_arn, sagemaker_session=sagemaker_session, network_config=network)

    rows = ParameterInteger(name="SyntheticRows", default_value=2000)
    min_auc = ParameterFloat(name="MinimumAuc", default_value=0.7)

    prepare = ProcessingStep(
        name="PrepareData",
        step_args=SKLearnProcessor(
            framework_version=SKLEARN_VERSION,
            instance_type=PROCESSING_INSTANCE,
            instance_count=1,
            volume_kms_key=key,
            output_kms_key=key,
            **jobs,
        ).run(
            code=scripts["prepare.py"],
            arguments=["--rows", rows.to_string()],
            outputs=[
                ProcessingOutput(
                    output_name=part, source=f"/opt/ml/processing/{part}", destination=f"{base}/data/{part}"
                )
                for part in ("train", "validation", "test")
            ],
        ),
    )
    image = image_uris.retrieve("xgboost", region=region, version=XGBOOST_VERSION)
    estimator = Estimator(
        image_uri=image,
        instance_type=TRAINING_INSTANCE,
        instance_count=1,
        output_path=f"{base}/models",
        volume_kms_key=key,
        output_kms_key=key,
        subnets=network.subnets if network else None,
        security_group_ids=network.security_group_ids if network else None,
        role=role_arn,
        sagemaker_session=sagemaker_session,
        hyperparameters={"objective": "binary:logistic", "num_round": 50, "max_depth": 4, "eval_metric": "auc"},
    )
    outputs = prepare.properties.ProcessingOutputConfig.Outputs
    train = TrainingStep(
        name="Train",
        step_args=estimator.fit(
            {
                part: TrainingInput(outputs[part].S3Output.S3Uri, content_type="text/csv")
                for part in ("train", "validation")
            }
        ),
    )
    report = PropertyFile(name="Evaluation", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        name="Evaluate",
        step_args=ScriptProcessor(
            image_uri=image,
            command=["python3"],
            instance_type=PROCESSING_INSTANCE,
            instance_count=1,
            volume_kms_key=key,
            output_kms_key=key,
            **jobs,
        ).run(
            code=scripts["evaluate.py"],
            inputs=[
                ProcessingInput(train.properties.ModelArtifacts.S3ModelArtifacts, "/opt/ml/processing/model"),
                ProcessingInput(outputs["test"].S3Output.S3Uri, "/opt/ml/processing/test"),
            ],
            outputs=[
                ProcessingOutput(
                    output_name="evaluation", source="/opt/ml/processing/evaluation", destination=f"{base}/evaluation"
                )
            ],
        ),
        property_files=[report],
    )
    register = RegisterModel(
        name="Register",
        estimator=estimator,
        model_data=train.properties.ModelArtifacts.S3ModelArtifacts,
        content_types=["text/csv"],
        response_types=["text/csv"],
        inference_instances=["ml.m5.large"],
        transform_instances=["ml.m5.large"],
        model_package_group_name=group,
        approval_status="PendingManualApproval",  # a person's approval is what deploys it
        model_metrics=ModelMetrics(
            model_statistics=MetricsSource(
                s3_uri=Join(on="/", values=[f"{base}/evaluation", "evaluation.json"]),
                content_type="application/json",
            )
        ),
    )
    auc = JsonGet(step_name=evaluate.name, property_file=report, json_path="binary_classification_metrics.auc.value")
    gate = ConditionStep(
        name="AucGate",
        conditions=[ConditionGreaterThanOrEqualTo(left=auc, right=min_auc)],
        if_steps=[register],
        else_steps=[FailStep(name="BelowMinimumAuc", error_message=Join(on=" ", values=["AUC below", min_auc]))],
    )
    return Pipeline(
        name=name,
        parameters=[rows, min_auc],
        steps=[prepare, train, evaluate, gate],
        sagemaker_session=sagemaker_session,
        # jobs named pipelines-<execution>-<step>: the names the product's roles allow
        pipeline_definition_config=PipelineDefinitionConfig(use_custom_job_prefix=False),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--definition", action="store_true", help="print the pipeline definition")
    action.add_argument("--start", action="store_true", help="create or update the pipeline and start it")
    arguments = parser.parse_args()
    if arguments.definition:
        role = os.environ.get("SAGEMAKER_EXECUTION_ROLE_ARN") or "{{sagemaker_role_placeholder}}"
        print(json.dumps(json.loads(build_pipeline(role).definition()), indent=2))
        return
    role = setting("SAGEMAKER_EXECUTION_ROLE_ARN")
    upload_scripts(setting("ARTIFACTS_BUCKET"), setting("AWS_REGION"))
    pipeline = build_pipeline(role)
    tags = [{"Key": "ml-provisioner:product", "Value": setting("PRODUCT_ID")}]
    print(f"pipeline {pipeline.name}: {pipeline.upsert(role_arn=role, tags=tags)['PipelineArn']}")
    execution = pipeline.start()
    print(f"execution started: {execution.arn}")
    print(
        "follow it in SageMaker Studio (Pipelines) or: aws sagemaker describe-pipeline-execution "
        f"--pipeline-execution-arn {execution.arn}"
    )


if __name__ == "__main__":
    main()
