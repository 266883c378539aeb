"""The calls AWS services make with a product's roles after the stack exists, read from a template.

Each entry cites the AWS documentation it comes from. A call is (who makes it, the role whose
credentials it uses, action, resource ARN, request context). Roles are found by how the template
hands them out (a project's ServiceRole, a pipeline's RoleArn, a rule target's RoleArn, the
SageMaker role the builds pass to SageMaker), so a new role or a moved one is covered as written.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ml_provisioner.naming import Names
from ml_provisioner.policy.boundary import boundary_document
from tests.iam_eval import Request, TemplateValues, evaluate, listed

BUILD_ID = "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
EXECUTION_ID = "a1b2c3d4e5f6"

DOCS = {
    "codebuild": "CodeBuild User Guide, 'Allow CodeBuild to interact with other AWS services' (service role policy)",
    "codebuild-logs": "CodeBuild API, LogsConfig/CloudWatchLogsConfig: the group and the stream name prefix",
    "codebuild-reports": "CodeBuild User Guide, 'Test report permissions'",
    "codebuild-kms": "CodeBuild API, Project.encryptionKey: the service role must be able to use the key",
    "codepipeline": "CodePipeline User Guide, 'Manage the CodePipeline service role' (CodeBuild, artifact store)",
    "codepipeline-codecommit": "CodePipeline action reference, 'CodeCommit source action': service role permissions",
    "codepipeline-s3": "CodePipeline action reference, 'Amazon S3 source action': service role permissions",
    "codepipeline-connections": "CodePipeline action reference, 'CodeStarSourceConnection': UseConnection",
    "codepipeline-kms": "CodePipeline User Guide, 'Configure server-side encryption for artifacts stored in S3'",
    "events": "EventBridge User Guide, 'CodePipeline as a target': the target role starts the pipeline",
    "sagemaker-pipelines": "SageMaker Developer Guide, 'IAM access management' for Pipelines: the pipeline "
    "execution role creates and describes the steps' jobs, models and model packages, and passes itself",
    "sagemaker-images": "SageMaker Developer Guide, 'Amazon SageMaker AI roles': the execution role pulls the "
    "job's container image from Amazon ECR (GetAuthorizationToken, BatchGetImage, GetDownloadUrlForLayer)",
    "sagemaker-build": "SageMaker API, CreatePipeline/StartPipelineExecution: the caller passes RoleArn",
    "sagemaker-vpc": "SageMaker Developer Guide, 'Give SageMaker AI access to resources in your Amazon VPC': "
    "the execution role creates and deletes the job's network interfaces and describes the VPC, subnets and groups",
    "sagemaker-kms": "SageMaker API, CreateTrainingJob/CreateProcessingJob VolumeKmsKeyId: the execution role "
    "creates a grant on the key for the job's storage (kms:GrantIsForAWSResource)",
    "logs-kms": "CloudWatch Logs User Guide, 'Encrypt log data using AWS KMS': the key policy and encryption context",
    "sns-kms": "SNS Developer Guide, 'Enable compatibility between event sources and encrypted topics'",
}


@dataclass(frozen=True)
class Role:
    logical_id: str
    arn: str
    identity: list[dict[str, Any]]
    boundary: dict[str, Any]


@dataclass(frozen=True)
class Call:
    who: str  # the service (or the build code) making the call
    role: str | None  # logical id of the product role whose credentials it uses; None: a service principal
    action: str
    resource: str
    doc: str
    context: Mapping[str, Any] = field(default_factory=dict)
    principal: str = ""  # for service principals

    def __str__(self) -> str:
        return f"{self.who} as {self.role or self.principal}: {self.action} on {self.resource}"


class Product:
    """A synthesized template with its intrinsics resolved, and the documents that decide its calls."""

    def __init__(self, template: Mapping[str, Any], names: Names) -> None:
        self.names = names
        self.values = TemplateValues(
            template, stack_name=names.stack_name, account=names.account, region=names.region, partition=names.partition
        )
        self.resources = {i: (r["Type"], self.values.properties(i)) for i, r in template["Resources"].items()}
        self.roles = {i: self._role(i) for i, (t, _) in self.resources.items() if t == "AWS::IAM::Role"}

    def of_type(self, rtype: str) -> Iterator[tuple[str, dict[str, Any]]]:
        return ((i, p) for i, (t, p) in self.resources.items() if t == rtype)

    def _role(self, logical_id: str) -> Role:
        props = self.resources[logical_id][1]
        identity = [p["PolicyDocument"] for p in props.get("Policies", [])]
        policy_arns = set(listed(props.get("ManagedPolicyArns")))
        for policy_id, policy in self.of_type("AWS::IAM::ManagedPolicy"):
            if self.values.ref(logical_id) in listed(policy.get("Roles")) or self.values.ref(policy_id) in policy_arns:
                identity.append(policy["PolicyDocument"])
        # the administrator's boundary (bootstrap creates it): the only one a product role may carry
        if props.get("PermissionsBoundary") != self.names.permission_boundary_arn:
            raise AssertionError(f"{logical_id}'s boundary is {props.get('PermissionsBoundary')}, not the product's")
        return Role(logical_id, self.values.get_att(logical_id, "Arn"), identity, boundary_document(self.names))

    def role_with_arn(self, arn: str) -> str:
        return next(i for i, r in self.roles.items() if r.arn == arn)

    @property
    def key_policy(self) -> dict[str, Any] | None:
        return next((p["KeyPolicy"] for _, p in self.of_type("AWS::KMS::Key")), None)

    def bucket_policy(self, bucket: str) -> dict[str, Any] | None:
        return next(
            (p["PolicyDocument"] for _, p in self.of_type("AWS::S3::BucketPolicy") if p["Bucket"] == bucket), None
        )

    def decide(self, call: Call):
        n = self.names
        context = {
            "aws:RequestedRegion": n.region,
            "aws:SecureTransport": "true",
            "aws:PrincipalAccount": n.account,
            **call.context,
        }
        role = self.roles[call.role] if call.role else None
        request = Request(call.action, call.resource, role.arn if role else call.principal, context)
        service = call.action.split(":")[0]
        resource_policy = None
        if service == "s3":
            resource_policy = self.bucket_policy(call.resource.split(":::")[1].split("/")[0])
        return evaluate(
            request,
            role.identity if role else [],
            boundary=role.boundary if role else None,
            resource_policy=resource_policy,
            key_policy=self.key_policy if service == "kms" else None,
        )

    # -- the contracts ---------------------------------------------------------------------------

    def calls(self) -> list[Call]:
        return [*self._codebuild(), *self._codepipeline(), *self._events(), *self._sagemaker(), *self._key_services()]

    def _bucket_arn(self, bucket: str) -> str:
        return f"arn:{self.names.partition}:s3:::{bucket}"

    def _kms(self, who: str, role: str, key_arn: str | None, via: str, doc: str) -> list[Call]:
        if not key_arn:
            return []
        context = {"kms:ViaService": f"{via}.{self.names.region}.amazonaws.com", **self._key_tags()}
        return [Call(who, role, f"kms:{a}", key_arn, doc, context) for a in ("Decrypt", "GenerateDataKey")]

    def _key_tags(self) -> dict[str, str]:
        """The product's key's tags as request context (aws:ResourceTag/...), from the template."""
        tags = next((p.get("Tags", []) for _, p in self.of_type("AWS::KMS::Key")), [])
        return {f"aws:ResourceTag/{t['Key']}": t["Value"] for t in tags}

    def _codebuild(self) -> Iterator[Call]:
        v = self.values
        for _, project in self.of_type("AWS::CodeBuild::Project"):
            who, role = f"CodeBuild project {project['Name']}", self.role_with_arn(project["ServiceRole"])
            cloudwatch = project.get("LogsConfig", {}).get("CloudWatchLogs", {})
            group = cloudwatch.get("GroupName") or f"/aws/codebuild/{project['Name']}"
            stream = f"{cloudwatch['StreamName']}/{BUILD_ID}" if cloudwatch.get("StreamName") else BUILD_ID
            group_arn = v.arn("logs", f"log-group:{group}")
            if not cloudwatch.get("GroupName"):
                yield Call(who, role, "logs:CreateLogGroup", group_arn, DOCS["codebuild"])
            for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
                yield Call(who, role, action, f"{group_arn}:log-stream:{stream}", DOCS["codebuild-logs"])
            bucket = self.names.artifacts_bucket
            for action in ("s3:GetBucketAcl", "s3:GetBucketLocation"):
                yield Call(who, role, action, self._bucket_arn(bucket), DOCS["codebuild"])
            objects = f"{self._bucket_arn(bucket)}/{self.names.pipeline('build')[:20]}/SourceOutp/abc123"
            for action in ("s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"):
                yield Call(who, role, action, objects, DOCS["codebuild"])
            s3_logs = project.get("LogsConfig", {}).get("S3Logs", {})
            if s3_logs.get("Status") == "ENABLED":
                yield Call(
                    who,
                    role,
                    "s3:PutObject",
                    f"{self._bucket_arn(s3_logs['Location'])}/{BUILD_ID}.gz",
                    DOCS["codebuild-logs"],
                )
            report_group = v.arn("codebuild", f"report-group/{project['Name']}-unit-tests")
            for action in (
                "CreateReportGroup",
                "CreateReport",
                "UpdateReport",
                "BatchPutTestCases",
                "BatchPutCodeCoverages",
            ):
                yield Call(who, role, f"codebuild:{action}", report_group, DOCS["codebuild-reports"])
            yield from self._kms(who, role, project.get("EncryptionKey"), "s3", DOCS["codebuild-kms"])
            if project["Name"] == self.names.codebuild_project("build"):
                yield from self._build_code(role, project)

    def _build_code(self, role: str, project: dict[str, Any]) -> Iterator[Call]:
        """The model-build code (SageMaker's project templates) runs as the CodeBuild role: it
        upserts and starts the SageMaker pipeline, handing it the SageMaker execution role."""
        v, who = self.values, "the model-build code"
        pipeline = v.arn("sagemaker", f"pipeline/{self.names.name('model-build')}")
        for action in ("CreatePipeline", "UpdatePipeline", "StartPipelineExecution", "DescribePipeline"):
            yield Call(who, role, f"sagemaker:{action}", pipeline, DOCS["sagemaker-build"])
        yield Call(
            who,
            role,
            "iam:PassRole",
            self._sagemaker_role_arn(project),
            DOCS["sagemaker-build"],
            {"iam:PassedToService": "sagemaker.amazonaws.com"},
        )

    def _codepipeline(self) -> Iterator[Call]:
        for _, pipeline in self.of_type("AWS::CodePipeline::Pipeline"):
            who, role = f"CodePipeline {pipeline['Name']}", self.role_with_arn(pipeline["RoleArn"])
            store = pipeline["ArtifactStore"]
            bucket = self._bucket_arn(store["Location"])
            yield Call(who, role, "s3:GetBucketVersioning", bucket, DOCS["codepipeline"])
            for action in ("s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"):
                yield Call(
                    who, role, action, f"{bucket}/{pipeline['Name'][:20]}/SourceOutp/abc123", DOCS["codepipeline"]
                )
            yield from self._kms(who, role, store.get("EncryptionKey", {}).get("Id"), "s3", DOCS["codepipeline-kms"])
            for stage in pipeline["Stages"]:
                for action in stage["Actions"]:
                    yield from self._pipeline_action(who, role, action)

    def _pipeline_action(self, who: str, role: str, action: dict[str, Any]) -> Iterator[Call]:
        v, provider, config = self.values, action["ActionTypeId"]["Provider"], action["Configuration"]
        if provider == "CodeBuild":
            for name in ("codebuild:StartBuild", "codebuild:BatchGetBuilds"):
                yield Call(
                    who, role, name, v.arn("codebuild", f"project/{config['ProjectName']}"), DOCS["codepipeline"]
                )
        elif provider == "CodeCommit":
            repository = v.arn("codecommit", config["RepositoryName"])
            for name in ("GetBranch", "GetCommit", "UploadArchive", "GetUploadArchiveStatus", "CancelUploadArchive"):
                yield Call(who, role, f"codecommit:{name}", repository, DOCS["codepipeline-codecommit"])
        elif provider == "S3":
            bucket = self._bucket_arn(config["S3Bucket"])
            yield Call(who, role, "s3:GetBucketVersioning", bucket, DOCS["codepipeline-s3"])
            for name in ("s3:GetObject", "s3:GetObjectVersion"):
                yield Call(who, role, name, f"{bucket}/{config['S3ObjectKey']}", DOCS["codepipeline-s3"])
        elif provider == "CodeStarSourceConnection":
            # AWS authorizes UseConnection under the connection ARN's own service prefix
            prefix = config["ConnectionArn"].split(":")[2]
            repository = {f"{prefix}:FullRepositoryId": config["FullRepositoryId"]}
            yield Call(
                who,
                role,
                f"{prefix}:UseConnection",
                config["ConnectionArn"],
                DOCS["codepipeline-connections"],
                repository,
            )
        else:
            raise AssertionError(f"no runtime contract for pipeline action provider {provider}: add one")

    def _events(self) -> Iterator[Call]:
        for _, rule in self.of_type("AWS::Events::Rule"):
            for target in rule["Targets"]:
                if ":codepipeline:" in target["Arn"]:
                    yield Call(
                        f"EventBridge rule {rule['Name']}",
                        self.role_with_arn(target["RoleArn"]),
                        "codepipeline:StartPipelineExecution",
                        target["Arn"],
                        DOCS["events"],
                    )

    def _sagemaker_role_arn(self, project: dict[str, Any]) -> str:
        variables = {e["Name"]: e["Value"] for e in project["Environment"]["EnvironmentVariables"]}
        return variables["SAGEMAKER_EXECUTION_ROLE_ARN"]

    def _sagemaker(self) -> Iterator[Call]:
        v, n = self.values, self.names
        project = next(p for _, p in self.of_type("AWS::CodeBuild::Project"))
        arn = self._sagemaker_role_arn(project)
        role, who = self.role_with_arn(arn), "a SageMaker pipeline execution"
        doc = DOCS["sagemaker-pipelines"]
        for job_type, api in (
            ("processing-job", "ProcessingJob"),
            ("training-job", "TrainingJob"),
            ("transform-job", "TransformJob"),
        ):
            job = v.arn("sagemaker", f"{job_type}/pipelines-{EXECUTION_ID}-{api.lower()}-x1y2z3")
            for action in (f"Create{api}", f"Describe{api}", "AddTags"):
                yield Call(who, role, f"sagemaker:{action}", job, doc)
        yield Call(who, role, "sagemaker:CreateModel", v.arn("sagemaker", f"model/pipelines-{EXECUTION_ID}-model"), doc)
        group = v.arn("sagemaker", f"model-package-group/{n.model_package_group}")
        yield Call(who, role, "sagemaker:CreateModelPackage", group, doc)
        yield Call(
            who,
            role,
            "sagemaker:CreateModelPackage",
            v.arn("sagemaker", f"model-package/{n.model_package_group}/1"),
            doc,
        )
        yield Call(who, role, "iam:PassRole", arn, doc, {"iam:PassedToService": "sagemaker.amazonaws.com"})
        # a built-in algorithm's image, in AWS's account of the region (the XGBoost image's in us-west-2)
        image = f"arn:{n.partition}:ecr:{n.region}:246618743249:repository/sagemaker-xgboost"
        for action in ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"):
            yield Call(who, role, action, image, DOCS["sagemaker-images"], {"aws:ResourceAccount": "246618743249"})
        yield Call(who, role, "ecr:GetAuthorizationToken", "*", DOCS["sagemaker-images"])
        bucket = self._bucket_arn(n.artifacts_bucket)
        for action in ("s3:GetObject", "s3:PutObject"):
            yield Call(who, role, action, f"{bucket}/pipelines/{EXECUTION_ID}/output/model.tar.gz", doc)
        key = next((p.get("EncryptionKey") for _, p in self.of_type("AWS::CodeBuild::Project")), None)
        yield from self._kms(who, role, key, "s3", doc)
        if key:
            context = {"kms:GrantIsForAWSResource": "true", **self._key_tags()}
            yield Call(who, role, "kms:CreateGrant", key, DOCS["sagemaker-kms"], context)
        variables = {e["Name"]: e["Value"] for e in project["Environment"]["EnvironmentVariables"]}
        for subnet in [s for s in str(variables.get("SUBNET_IDS", "")).split(",") if s]:
            for action in ("CreateNetworkInterface", "CreateNetworkInterfacePermission"):
                for resource in (
                    f"subnet/{subnet}",
                    "network-interface/eni-0a1b2c3d4e5f60789",
                    "security-group/sg-0a1b",
                ):
                    yield Call(who, role, f"ec2:{action}", v.arn("ec2", resource), DOCS["sagemaker-vpc"])
            for action in ("DeleteNetworkInterface", "DeleteNetworkInterfacePermission"):
                eni = v.arn("ec2", "network-interface/eni-0a1b2c3d4e5f60789")
                yield Call(who, role, f"ec2:{action}", eni, DOCS["sagemaker-vpc"])
            for action in ("DescribeNetworkInterfaces", "DescribeVpcs", "DescribeSubnets", "DescribeSecurityGroups"):
                yield Call(who, role, f"ec2:{action}", "*", DOCS["sagemaker-vpc"])

    def _key_services(self) -> Iterator[Call]:
        """Services that use the product's KMS key under their own service principal."""
        v, n = self.values, self.names
        key = next((v.get_att(i, "Arn") for i, _ in self.of_type("AWS::KMS::Key")), None)
        if key is None:
            return
        for _, group in self.of_type("AWS::Logs::LogGroup"):
            if group.get("KmsKeyId") == key:
                context = {"kms:EncryptionContext:aws:logs:arn": v.arn("logs", f"log-group:{group['LogGroupName']}")}
                for action in ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"):
                    yield Call(
                        "CloudWatch Logs",
                        None,
                        action,
                        key,
                        DOCS["logs-kms"],
                        context,
                        principal=f"logs.{n.region}.amazonaws.com",
                    )
        if any(t.get("KmsMasterKeyId") == key for _, t in self.of_type("AWS::SNS::Topic")):
            for action in ("kms:Decrypt", "kms:GenerateDataKey"):
                yield Call(
                    "CloudWatch alarms",
                    None,
                    action,
                    key,
                    DOCS["sns-kms"],
                    {"aws:SourceAccount": n.account},
                    principal="cloudwatch.amazonaws.com",
                )
