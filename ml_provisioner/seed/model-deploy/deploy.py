"""model-deploy of {{product_id}}: serve the newest approved model version.

Finds the newest version in MODEL_PACKAGE_GROUP_NAME whose status is Approved, deploys it through
the serving stack (serving.yml: a CloudFormation stack of its own, RESOURCE_NAME_PREFIX +
"serving"), then, for an endpoint, invokes it once with deploy-config.yml's smoke-test row; for
batch, starts a transform of the bucket's batch input. No approved version yet: says so, exits 0.
"""

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
    "RESOURCE_NAME_PREFIX": "{{resource_name_prefix}}",
    "AWS_REGION": "{{region}}",
}
WAIT_SECONDS = int(os.environ.get("SERVING_WAIT_SECONDS", "1800"))
POLL_SECONDS = float(os.environ.get("SERVING_POLL_SECONDS", "15"))


def setting(name):
    value = os.environ.get(name) or DEFAULTS.get(name)
    if not value:
        raise SystemExit(f"{name} is not set: CodeBuild sets it (docs/build-contract.md); export it to run here")
    return value


def newest_approved(sagemaker, group):
    found = sagemaker.list_model_packages(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=1,
    )["ModelPackageSummaryList"]
    return found[0] if found else None


def deploy_stack(cloudformation, stack, parameters):
    """Create or update the serving stack and wait; False when nothing changed."""
    with open(os.path.join(HERE, "serving.yml")) as template:
        body = template.read()
    arguments = dict(
        StackName=stack,
        TemplateBody=body,
        Parameters=[{"ParameterKey": k, "ParameterValue": str(v)} for k, v in parameters.items()],
        Tags=[{"Key": "ml-provisioner:product", "Value": setting("PRODUCT_ID")}],
    )
    try:
        cloudformation.describe_stacks(StackName=stack)
        exists = True
    except cloudformation.exceptions.ClientError as error:
        if "does not exist" not in str(error):
            raise
        exists = False
    try:
        if exists:
            cloudformation.update_stack(**arguments)
        else:
            cloudformation.create_stack(**arguments)
    except cloudformation.exceptions.ClientError as error:
        if "No updates are to be performed" in str(error):
            return False
        raise
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        status = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
        if status.endswith("_COMPLETE") and "ROLLBACK" not in status:
            return True
        if status.endswith(("_FAILED", "ROLLBACK_COMPLETE")):
            raise SystemExit(f"serving stack {stack} ended {status}: see its events in the CloudFormation console")
        if time.monotonic() > deadline:
            raise SystemExit(f"serving stack {stack} still {status} after {WAIT_SECONDS} s")
        time.sleep(POLL_SECONDS)


def main():
    with open(os.path.join(HERE, "deploy-config.yml")) as file:
        config = yaml.safe_load(file)
    mode = config["mode"]
    if mode not in ("serverless", "instance", "batch"):
        raise SystemExit(f"deploy-config.yml: mode is {mode!r}; allowed: serverless, instance, batch")
    region, prefix = setting("AWS_REGION"), setting("RESOURCE_NAME_PREFIX")
    aws = boto3.Session(region_name=region)
    sagemaker = aws.client("sagemaker")

    approved = newest_approved(sagemaker, setting("MODEL_PACKAGE_GROUP_NAME"))
    if not approved:
        print("no approved model version yet: approve one in the model registry, then run this pipeline again")
        return
    package = approved["ModelPackageArn"]
    version = approved.get("ModelPackageVersion") or package.rsplit("/", 1)[-1]
    print(f"deploying {package} ({mode})")
    stack = f"{prefix}serving"
    changed = deploy_stack(
        aws.client("cloudformation"),
        stack,
        {
            "NamePrefix": prefix,
            "ModelPackageArn": package,
            "Version": version,
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
        bucket, batch = setting("ARTIFACTS_BUCKET"), config["batch"]
        job = f"{prefix}b{version}-{int(time.time()) % 10**8}"
        sagemaker.create_transform_job(
            TransformJobName=job,
            ModelName=f"{prefix}m{version}",
            TransformInput={
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/{batch['input_prefix']}"}
                },
                "ContentType": "text/csv",
                "SplitType": "Line",
            },
            TransformOutput={
                "S3OutputPath": f"s3://{bucket}/{batch['output_prefix']}{job}/",
                **({"KmsKeyId": os.environ["KMS_KEY_ARN"]} if os.environ.get("KMS_KEY_ARN") else {}),
            },
            TransformResources={"InstanceType": batch["instance_type"], "InstanceCount": 1},
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
