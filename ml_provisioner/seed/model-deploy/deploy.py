"""model-deploy of {{product_id}}: serve the newest approved model version.

Finds the newest version in MODEL_PACKAGE_GROUP_NAME whose status is Approved, deploys it through
the serving stack (serving.yml: a CloudFormation stack of its own, RESOURCE_NAME_PREFIX +
"serving"), then, for an endpoint, invokes it once with deploy-config.yml's smoke-test row; for
batch, starts a transform of the bucket's batch input. No approved version yet: says so, exits 0.
"""

import hashlib
import json
import os
import sys
import time

import boto3
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULTS = {  # the product's names, for runs outside CodeBuild
    "ARTIFACTS_BUCKET": "{{artifacts_bucket}}",
    "MODEL_PACKAGE_GROUP_NAME": "{{model_package_group}}",
    "PRODUCT_ID": "{{product_id}}",
    "RESOURCE_NAME_PREFIX": "{{resource_name_prefix}}",
    "AWS_REGION": "{{region}}",
}
MODES = ("serverless", "instance", "batch")
WAIT_SECONDS = int(os.environ.get("SERVING_WAIT_SECONDS", "1800"))
POLL_SECONDS = float(os.environ.get("SERVING_POLL_SECONDS", "15"))


def setting(name):
    value = os.environ.get(name) or DEFAULTS.get(name)
    if not value:
        raise SystemExit(f"{name} is not set: CodeBuild sets it (docs/build-contract.md); export it to run here")
    return value


def digest(*parts):
    """Seven hex digits naming what the parts make: a new version or new settings, new names."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:7]


def newest_approved(sagemaker, group):
    found = sagemaker.list_model_packages(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=1,
    )["ModelPackageSummaryList"]
    return found[0] if found else None


def stack_status(cloudformation, stack):
    try:
        return cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
    except cloudformation.exceptions.ClientError as error:
        if "does not exist" in str(error):
            return None
        raise


def wait(cloudformation, stack, gone=False):
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        status = stack_status(cloudformation, stack)
        if gone and status in (None, "DELETE_COMPLETE"):
            return
        if not gone and status.endswith("_COMPLETE") and "ROLLBACK" not in status:
            return
        if status and status.endswith(("_FAILED", "ROLLBACK_COMPLETE")):
            raise SystemExit(f"serving stack {stack} ended {status}: see its events in the CloudFormation console")
        if time.monotonic() > deadline:
            raise SystemExit(f"serving stack {stack} still {status} after {WAIT_SECONDS} s")
        time.sleep(POLL_SECONDS)


def deploy_stack(cloudformation, stack, parameters):
    """Create or update the serving stack and wait; False when nothing changed. A first creation
    that failed (ROLLBACK_COMPLETE) is deleted and made again."""
    with open(os.path.join(HERE, "serving.yml")) as template:
        body = template.read()
    arguments = dict(
        StackName=stack,
        TemplateBody=body,
        Parameters=[{"ParameterKey": k, "ParameterValue": str(v)} for k, v in parameters.items()],
        Tags=[{"Key": "ml-provisioner:product", "Value": setting("PRODUCT_ID")}],
    )
    status = stack_status(cloudformation, stack)
    if status == "ROLLBACK_COMPLETE":
        print(f"serving stack {stack} is ROLLBACK_COMPLETE (its first creation failed): making it again")
        cloudformation.delete_stack(StackName=stack)
        wait(cloudformation, stack, gone=True)
        status = None
    try:
        if status is None:
            cloudformation.create_stack(**arguments)
        else:
            cloudformation.update_stack(**arguments)
    except cloudformation.exceptions.ClientError as error:
        if "No updates are to be performed" in str(error):
            return False
        raise
    wait(cloudformation, stack)
    return True


def main():
    with open(os.path.join(HERE, "deploy-config.yml")) as file:
        config = yaml.safe_load(file)
    mode = config.get("mode")
    if mode not in MODES:
        raise SystemExit(f"deploy-config.yml: mode is {mode!r}; allowed: {', '.join(MODES)}")
    in_vpc = bool(os.environ.get("SUBNET_IDS"))
    if mode == "serverless" and in_vpc:
        raise SystemExit(
            "deploy-config.yml: mode serverless cannot serve inside the product's VPC (SageMaker Serverless "
            "Inference takes no VPC configuration); use instance or batch"
        )
    region, prefix = setting("AWS_REGION"), setting("RESOURCE_NAME_PREFIX")
    aws = boto3.Session(region_name=region)
    sagemaker = aws.client("sagemaker")

    approved = newest_approved(sagemaker, setting("MODEL_PACKAGE_GROUP_NAME"))
    if not approved:
        print("no approved model version yet: approve one in the model registry, then run this pipeline again")
        return
    package = approved["ModelPackageArn"]
    settings = {"serverless": config["serverless"], "instance": config["instance"], "batch": {}}[mode]
    serving_id = digest(package, mode, settings, in_vpc)
    print(f"deploying {package} ({mode}, serving id {serving_id})")
    stack = f"{prefix}serving"
    changed = deploy_stack(
        aws.client("cloudformation"),
        stack,
        {
            "NamePrefix": prefix,
            "ServingId": serving_id,
            "ModelPackageArn": package,
            "ExecutionRoleArn": setting("SAGEMAKER_EXECUTION_ROLE_ARN"),
            "Mode": mode,
            "MemorySizeInMB": config["serverless"]["memory_size_in_mb"],
            "MaxConcurrency": config["serverless"]["max_concurrency"],
            "InstanceType": config["instance"]["instance_type"],
            "InstanceCount": config["instance"]["instance_count"],
            "KmsKeyArn": os.environ.get("KMS_KEY_ARN", ""),
            "SubnetIds": os.environ.get("SUBNET_IDS", ""),
            "SecurityGroupIds": os.environ.get("SECURITY_GROUP_IDS", ""),
        },
    )
    print(f"serving stack {stack}: {'updated' if changed else 'already serves this version'}")

    if mode == "batch":
        bucket, batch, key = setting("ARTIFACTS_BUCKET"), config["batch"], os.environ.get("KMS_KEY_ARN")
        job = f"{prefix}b{digest(package, time.time())}"
        sagemaker.create_transform_job(
            TransformJobName=job,
            ModelName=f"{prefix}m{serving_id}",
            TransformInput={
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/{batch['input_prefix']}"}
                },
                "ContentType": "text/csv",
                "SplitType": "Line",
            },
            TransformOutput={
                "S3OutputPath": f"s3://{bucket}/{batch['output_prefix']}{job}/",
                **({"KmsKeyId": key} if key else {}),
            },
            TransformResources={
                "InstanceType": batch["instance_type"],
                "InstanceCount": 1,
                **({"VolumeKmsKeyId": key} if key else {}),
            },
        )
        print(f"batch transform {job} started: results under s3://{bucket}/{batch['output_prefix']}{job}/")
        return

    endpoint = f"{prefix}endpoint"
    answer = aws.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=endpoint, ContentType="text/csv", Body=config["smoke_test_row"].encode()
    )
    prediction = answer["Body"].read().decode().strip()
    print(json.dumps({"endpoint": endpoint, "model_package": package, "smoke_test_prediction": prediction}))


if __name__ == "__main__":
    sys.exit(main())
