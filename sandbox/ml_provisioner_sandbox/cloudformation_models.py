"""CloudFormation models for resource types that moto 5.2's CloudFormation ignores.

Each class lists CloudFormationModel as a *direct* base: moto discovers models through
`CloudFormationModel.__subclasses__()`, so defining the class is what registers it (the lru-cached
lookup tables in moto.cloudformation.parsing are cleared by `server.install`). The state lives in
moto's own service backends, so the service APIs (get-repository, get-pipeline, ...) see it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import zipfile
from typing import Any, ClassVar

from moto.cloudformation.exceptions import UnformattedGetAttTemplateException, ValidationError
from moto.cloudwatch.models import Dimension, Metric, MetricDataQuery, MetricStat, cloudwatch_backends
from moto.codebuild.models import codebuild_backends
from moto.codecommit.models import codecommit_backends
from moto.codepipeline.models import codepipeline_backends
from moto.core.common_models import CloudFormationModel
from moto.logs.models import logs_backends
from moto.s3.exceptions import MissingBucket
from moto.s3.models import s3_backends
from moto.sagemaker.models import sagemaker_backends
from moto.sns.models import sns_backends
from moto.utilities.utils import get_partition

from .shapes import camel, json_text, scalar_str, tag_dict, tag_list


class SandboxResource:
    """CloudFormation plumbing shared by the models below (a mixin, listed before CloudFormationModel)."""

    TYPE: ClassVar[str]
    NAME_PROPERTY: ClassVar[str] = ""
    ATTRIBUTES: ClassVar[dict[str, str]] = {}  # GetAtt name -> attribute of the instance
    REPLACE_ON: ClassVar[frozenset[str]] = frozenset()  # properties whose change needs a new resource

    def __init__(self, name: str, properties: dict[str, Any], account_id: str, region_name: str):
        self.name = name
        self.properties = properties
        self.account_id = account_id
        self.region_name = region_name

    def create(self) -> None:
        raise NotImplementedError

    def exists(self) -> bool:
        """A resource of this name is already in the account (a fixed name AWS refuses twice)."""
        return False

    def update(self) -> None:
        self.create()

    def delete(self, account_id: str, region_name: str) -> None:
        raise NotImplementedError

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.NAME_PROPERTY

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    def get_cfn_attribute(self, attr: str) -> Any:
        if attr not in self.ATTRIBUTES:
            raise UnformattedGetAttTemplateException()
        return getattr(self, self.ATTRIBUTES[attr])

    def is_created(self) -> bool:
        return True

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **_: Any
    ) -> SandboxResource:
        resource = cls(resource_name, cloudformation_json.get("Properties", {}), account_id, region_name)
        if resource.exists():  # AWS refuses the second and the stack rolls back (moto would overwrite)
            raise ValidationError(message=f"{resource.name} already exists (Service: {cls.TYPE.split('::')[1]})")
        resource.create()
        return resource

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        """Not used: a stack deletes these through their delete() (moto's base method is a no-op too)."""

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: SandboxResource,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> SandboxResource:
        properties = cloudformation_json.get("Properties", {})
        changed = {p for p in cls.REPLACE_ON if properties.get(p) != original_resource.properties.get(p)}
        if not changed:
            original_resource.properties = properties
            original_resource.update()
            return original_resource
        if cls.NAME_PROPERTY in properties and cls.NAME_PROPERTY not in changed:
            # Same wording as AWS: a replacement would collide with the old resource's fixed name.
            raise ValidationError(
                message="CloudFormation cannot update a stack when a custom-named resource requires "
                f"replacing. Rename {original_resource.name} and update the stack again."
            )
        replacement = cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )
        if cloudformation_json.get("UpdateReplacePolicy") != "Retain":
            original_resource.delete(account_id, region_name)
        return replacement


class CodeCommitRepository(SandboxResource, CloudFormationModel):
    TYPE = "AWS::CodeCommit::Repository"
    NAME_PROPERTY = "RepositoryName"
    ATTRIBUTES = {"Arn": "arn", "CloneUrlHttp": "clone_url_http", "CloneUrlSsh": "clone_url_ssh", "Name": "name"}

    @property
    def backend(self) -> Any:
        return codecommit_backends[self.account_id][self.region_name]

    @property
    def metadata(self) -> dict[str, str]:
        metadata: dict[str, str] = self.backend.get_repository(self.name)
        return metadata

    @property
    def physical_resource_id(self) -> str:  # Ref returns the repository id
        return self.metadata["repositoryId"]

    arn = property(lambda self: self.metadata["Arn"])
    clone_url_http = property(lambda self: self.metadata["cloneUrlHttp"])
    clone_url_ssh = property(lambda self: self.metadata["cloneUrlSsh"])

    def create(self) -> None:
        first_commit = self._first_commit()  # read before creating: AWS refuses the whole request
        self.backend.create_repository(self.name, self.properties.get("RepositoryDescription", ""))
        repository = self.backend.repositories[self.name]
        repository.tags = tag_dict(self.properties.get("Tags"))  # see service_fixes
        if first_commit:
            repository.branches = {self.properties["Code"].get("BranchName", "main"): first_commit}  # see service_fixes

    def _first_commit(self) -> dict[str, Any] | None:
        """Code: the repository starts with one commit holding the zip's files (read once, at creation)."""
        code = self.properties.get("Code")
        if not code:
            return None
        location = code["S3"]
        try:
            archive = s3_backends[self.account_id][get_partition(self.region_name)].get_object(
                location["Bucket"], location["Key"], location.get("ObjectVersion")
            )
        except Exception:  # moto raises MissingBucket/MissingKey
            archive = None
        if archive is None:
            raise ValidationError(message=f"Code: s3://{location['Bucket']}/{location['Key']} could not be read")
        with zipfile.ZipFile(io.BytesIO(archive.value)) as zipped:
            files = {info.filename: zipped.read(info) for info in zipped.infolist() if not info.is_dir()}
        return {"commitId": hashlib.sha1(archive.value).hexdigest(), "files": files}

    def update(self) -> None:
        # Renames and description changes are in-place updates in AWS: keep the repository id and
        # its commits. Code is read only when the repository is created (AWS ignores later changes).
        old = self.backend.repositories.pop(self.name)
        self.name = self.properties["RepositoryName"]
        self.backend.create_repository(self.name, self.properties.get("RepositoryDescription", ""))
        repository = self.backend.repositories[self.name]
        repository.tags = tag_dict(self.properties.get("Tags"))
        repository.branches = vars(old).get("branches", {})
        self.metadata.update(
            repositoryId=old.repository_metadata["repositoryId"], creationDate=old.repository_metadata["creationDate"]
        )

    def delete(self, account_id: str, region_name: str) -> None:
        self.backend.delete_repository(self.name)


class ModelPackageGroup(SandboxResource, CloudFormationModel):
    TYPE = "AWS::SageMaker::ModelPackageGroup"
    NAME_PROPERTY = "ModelPackageGroupName"
    ATTRIBUTES = {"ModelPackageGroupArn": "arn", "CreationTime": "creation_time", "ModelPackageGroupStatus": "status"}
    REPLACE_ON = frozenset({"ModelPackageGroupName", "ModelPackageGroupDescription"})

    @property
    def backend(self) -> Any:
        return sagemaker_backends[self.account_id][self.region_name]

    @property
    def group(self) -> Any:
        return self.backend.describe_model_package_group(self.name)

    @property
    def physical_resource_id(self) -> str:  # Ref returns the ARN
        arn: str = self.arn
        return arn

    arn = property(lambda self: self.group.arn)
    creation_time = property(lambda self: self.group.creation_time.isoformat())
    status = property(lambda self: self.group.model_package_group_status)

    def exists(self) -> bool:
        return self.name in self.backend.model_package_groups

    def create(self) -> None:
        self.backend.create_model_package_group(
            self.name, self.properties.get("ModelPackageGroupDescription"), self.properties.get("Tags", [])
        )

    def update(self) -> None:
        self.group.tags = self.properties.get("Tags", [])

    def delete(self, account_id: str, region_name: str) -> None:
        self.backend.model_package_groups.pop(self.name, None)


class CodeBuildProject(SandboxResource, CloudFormationModel):
    TYPE = "AWS::CodeBuild::Project"
    NAME_PROPERTY = "Name"
    ATTRIBUTES = {"Arn": "arn"}
    REPLACE_ON = frozenset({"Name"})

    @property
    def backend(self) -> Any:
        return codebuild_backends[self.account_id][self.region_name]

    arn = property(lambda self: self.backend.codebuild_projects[self.name].arn)

    def exists(self) -> bool:
        return self.name in self.backend.codebuild_projects

    def create(self) -> None:
        p = self.properties
        source = camel(p["Source"])
        if "buildSpec" in source:  # the one key the API does not camelCase
            source["buildspec"] = source.pop("buildSpec")
        metadata = self.backend.create_project(
            project_name=self.name,
            description=p.get("Description"),
            project_source=source,
            artifacts=camel(p["Artifacts"]),
            environment=camel(p["Environment"]),
            service_role=p["ServiceRole"],
            tags=camel(p.get("Tags", [])),
            cache=camel(p.get("Cache")),
            timeout=p.get("TimeoutInMinutes"),
            queued_timeout=p.get("QueuedTimeoutInMinutes"),
            source_version=p.get("SourceVersion"),
            logs_config=camel(p.get("LogsConfig")),
            vpc_config=camel(p.get("VpcConfig")),
        )
        if "EncryptionKey" in p:
            metadata["encryptionKey"] = p["EncryptionKey"]

    def update(self) -> None:
        history = self.backend.build_history[self.name]
        self.create()
        self.backend.build_history[self.name] = history

    def delete(self, account_id: str, region_name: str) -> None:
        self.backend.delete_project(self.name)


class CodePipelinePipeline(SandboxResource, CloudFormationModel):
    TYPE = "AWS::CodePipeline::Pipeline"
    NAME_PROPERTY = "Name"
    ATTRIBUTES = {"Version": "version"}
    REPLACE_ON = frozenset({"Name"})

    @property
    def backend(self) -> Any:
        return codepipeline_backends[self.account_id][self.region_name]

    version = property(lambda self: str(self.backend.pipelines[self.name].pipeline["version"]))

    def definition(self) -> dict[str, Any]:
        p = self.properties
        pipeline = {
            "name": self.name,
            "roleArn": p["RoleArn"],
            "stages": camel(p["Stages"], verbatim=frozenset({"Configuration"})),
        }
        if "ArtifactStore" in p:
            pipeline["artifactStore"] = camel(p["ArtifactStore"])
        if "ArtifactStores" in p:  # CloudFormation lists them, the API maps region -> store
            pipeline["artifactStores"] = {s["Region"]: camel(s["ArtifactStore"]) for s in p["ArtifactStores"]}
        for key in ("PipelineType", "ExecutionMode", "Variables", "Triggers"):
            if key in p:
                pipeline[key[0].lower() + key[1:]] = camel(p[key])
        return pipeline

    def create(self) -> None:
        self.backend.create_pipeline(self.definition(), tag_list(tag_dict(self.properties.get("Tags")), "key", "value"))

    def update(self) -> None:
        self.backend.update_pipeline(self.definition())
        self.backend.pipelines[self.name].tags = tag_dict(self.properties.get("Tags"))

    def delete(self, account_id: str, region_name: str) -> None:
        self.backend.delete_pipeline(self.name)


class S3BucketPolicy(SandboxResource, CloudFormationModel):
    TYPE = "AWS::S3::BucketPolicy"
    REPLACE_ON = frozenset({"Bucket"})

    @property
    def backend(self) -> Any:
        return s3_backends[self.account_id][get_partition(self.region_name)]

    def create(self) -> None:
        policy = json_text(self.properties["PolicyDocument"]).encode()
        self.backend.put_bucket_policy(self.properties["Bucket"], policy)

    def delete(self, account_id: str, region_name: str) -> None:
        with contextlib.suppress(MissingBucket):  # a retained bucket may be gone already
            self.backend.delete_bucket_policy(self.properties["Bucket"])


class CloudWatchAlarm(SandboxResource, CloudFormationModel):
    TYPE = "AWS::CloudWatch::Alarm"
    NAME_PROPERTY = "AlarmName"
    ATTRIBUTES = {"Arn": "arn"}
    REPLACE_ON = frozenset({"AlarmName"})

    @property
    def backend(self) -> Any:
        return cloudwatch_backends[self.account_id][self.region_name]

    arn = property(lambda self: self.backend.alarms[self.name].alarm_arn)

    def create(self) -> None:
        p = self.properties
        self.backend.put_metric_alarm(
            name=self.name,
            namespace=p.get("Namespace"),
            metric_name=p.get("MetricName"),
            metric_data_queries=[_metric_query(m) for m in p["Metrics"]] if "Metrics" in p else None,
            comparison_operator=p["ComparisonOperator"],
            evaluation_periods=int(p["EvaluationPeriods"]),
            datapoints_to_alarm=p.get("DatapointsToAlarm"),
            period=p.get("Period"),
            threshold=float(p["Threshold"]) if "Threshold" in p else None,
            statistic=p.get("Statistic"),
            extended_statistic=p.get("ExtendedStatistic"),
            description=p.get("AlarmDescription"),
            dimensions=p.get("Dimensions", []),
            alarm_actions=p.get("AlarmActions", []),
            ok_actions=p.get("OKActions", []),
            insufficient_data_actions=p.get("InsufficientDataActions", []),
            unit=p.get("Unit"),
            actions_enabled=scalar_str(p.get("ActionsEnabled", True)) == "true",
            treat_missing_data=p.get("TreatMissingData"),
            evaluate_low_sample_count_percentile=p.get("EvaluateLowSampleCountPercentile"),
            threshold_metric_id=p.get("ThresholdMetricId"),
            tags=p.get("Tags", []),
        )

    def delete(self, account_id: str, region_name: str) -> None:
        self.backend.delete_alarms([self.name])


def _metric_query(query: dict[str, Any]) -> MetricDataQuery:
    stat = query.get("MetricStat")
    metric_stat = None
    if stat:
        metric = stat["Metric"]
        dimensions = [Dimension(d["Name"], d["Value"]) for d in metric.get("Dimensions", [])]
        metric_stat = MetricStat(
            Metric(metric["MetricName"], metric.get("Namespace"), dimensions),
            stat["Period"],
            stat["Stat"],
            stat.get("Unit"),
        )
    # moto types Label, Period and ReturnData as str; its own parser passes None for absent ones too.
    return MetricDataQuery(
        query["Id"],
        query.get("Label"),  # type: ignore[arg-type]
        query.get("Period"),  # type: ignore[arg-type]
        query.get("ReturnData"),  # type: ignore[arg-type]
        query.get("Expression"),
        metric_stat,
    )


class LogsMetricFilter(SandboxResource, CloudFormationModel):
    TYPE = "AWS::Logs::MetricFilter"
    NAME_PROPERTY = "FilterName"
    REPLACE_ON = frozenset({"FilterName", "LogGroupName"})

    @property
    def backend(self) -> Any:
        return logs_backends[self.account_id][self.region_name]

    def create(self) -> None:
        transformations = camel(self.properties["MetricTransformations"])
        for t in transformations:
            if "dimensions" in t:  # CloudFormation: [{Key, Value}]; API: {key: value}
                t["dimensions"] = {d["key"]: d["value"] for d in t["dimensions"]}
        self.backend.put_metric_filter(
            self.name, self.properties["FilterPattern"], self.properties["LogGroupName"], transformations
        )

    def update(self) -> None:
        self.delete(self.account_id, self.region_name)  # moto's put appends instead of replacing
        self.create()

    def delete(self, account_id: str, region_name: str) -> None:
        self.backend.delete_metric_filter(self.name, self.properties["LogGroupName"])


class SnsSubscription(SandboxResource, CloudFormationModel):
    TYPE = "AWS::SNS::Subscription"
    ATTRIBUTES = {"Arn": "arn"}
    REPLACE_ON = frozenset({"TopicArn", "Protocol", "Endpoint"})
    # FilterPolicyScope first: moto validates FilterPolicy against the scope already set.
    SETTABLE = (
        "FilterPolicyScope",
        "FilterPolicy",
        "DeliveryPolicy",
        "RawMessageDelivery",
        "RedrivePolicy",
        "SubscriptionRoleArn",
    )

    arn = ""  # known once create() subscribed

    @property
    def backend(self) -> Any:  # the topic's region, which is where AWS creates the subscription
        return sns_backends[self.account_id][self.properties["TopicArn"].split(":")[3]]

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    def create(self) -> None:
        p = self.properties
        self.arn = self.backend.subscribe(p["TopicArn"], p["Endpoint"], p["Protocol"]).arn
        self.update()

    def update(self) -> None:
        for key in self.SETTABLE:
            if key in self.properties:
                value = self.properties[key]
                value = json_text(value) if isinstance(value, dict) else scalar_str(value)
                self.backend.set_subscription_attributes(self.arn, key, value)

    def delete(self, account_id: str, region_name: str) -> None:
        self.backend.unsubscribe(self.arn)


class CdkMetadata(SandboxResource, CloudFormationModel):
    """Every CDK-synthesized template has one; AWS accepts it and creates nothing."""

    TYPE = "AWS::CDK::Metadata"

    def create(self) -> None:
        pass

    def delete(self, account_id: str, region_name: str) -> None:
        pass


NEW_MODELS = (
    CodeCommitRepository,
    ModelPackageGroup,
    CodeBuildProject,
    CodePipelinePipeline,
    S3BucketPolicy,
    CloudWatchAlarm,
    LogsMetricFilter,
    SnsSubscription,
    CdkMetadata,
)
