"""Run moto's server with the harness's fixes for emulator gaps (never the project's).

    python tests/support/emulator_server.py -H 127.0.0.1 -p PORT

Each patch closes one gap listed in ``tests/test_deploy.py`` (EMULATOR_GAPS):

- SQS: moto stores a queue's ``RedriveAllowPolicy`` but never returns it, so the AWS
  provider waits forever for ``aws_sqs_queue_redrive_allow_policy`` to appear.
  The patch returns it (and accepts its name in GetQueueAttributes), and, as AWS
  does, leaves it out once it is set to "" (the provider's delete does that, then
  waits for the attribute to go; an empty value it cannot read as a policy kept
  ``terraform destroy`` waiting).
- S3 bucket policies: moto treats a Deny statement whose condition does not match
  as a denial, and knows no ``aws:SecureTransport``, so a bucket policy that denies
  plain HTTP (every generated bucket has one) denies every object operation. The
  patch reads ``aws:SecureTransport`` as AWS would for the provider (always TLS):
  a Deny limited to plain HTTP denies nothing.
- ELBv2 target groups: moto refuses a deregistration delay of 3,600 s ("must be
  between 0-3600 inclusive": it checks ``range(0, 3600)``); AWS accepts 0 to 3,600.
  The patch lets 3,600 through (a WebSocket service drains for up to an hour).
- Public AMI parameters: moto ships Amazon Linux's ``/aws/service/ami-amazon-linux-latest``
  parameters and their AMIs for 30 regions only (none for ap-east-2, ap-southeast-7,
  mx-central-1, China or GovCloud), so the project's AMI lookup finds nothing there.
  The patch gives a region without its own the us-east-1 set (parameters and the
  AMIs they name), as AWS publishes them in every region.
- ELBv2: moto deletes a load balancer whose deletion protection is on; AWS refuses
  (OperationNotPermitted). The patch refuses too, so a teardown that does not
  lift the protection fails here as it would on AWS.
- Application Auto Scaling: moto has no ListTagsForResource, TagResource or
  UntagResource, and drops the Tags of RegisterScalableTarget; the provider reads
  a scalable target's tags after creating it (default_tags) and retries the
  failing call until it times out. The patch keeps each target's tags and
  answers those three calls.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def _return_redrive_allow_policy() -> None:
    from moto.sqs.models import Queue

    name = "RedriveAllowPolicy"
    original = Queue.__dict__["attributes"].fget

    def attributes(self: Any) -> dict[str, Any]:
        result: dict[str, Any] = original(self)
        value = getattr(self, "redrive_allow_policy", None)
        if not value:  # never set, or removed with "": AWS returns no such attribute
            result.pop(name, None)
        else:
            result[name] = value if isinstance(value, str) else json.dumps(value)
        return result

    Queue.redrive_allow_policy = None  # type: ignore[attr-defined]
    Queue.attributes = property(attributes)  # type: ignore[method-assign,assignment]
    if name not in Queue.BASE_ATTRIBUTES:  # GetQueueAttributes refuses names not listed
        Queue.BASE_ATTRIBUTES = [*Queue.BASE_ATTRIBUTES, name]


def _deny_only_when_the_condition_matches() -> None:
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    original = IAMPolicyStatement.is_action_permitted

    def is_action_permitted(
        self: Any,
        action: str,
        resource: str = "*",
        principal: str | None = None,
        incoming_condition_values: dict[str, str] | None = None,
    ) -> PermissionResult:
        statement = self._statement
        secure = statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")
        # The provider reaches AWS over TLS only, so aws:SecureTransport is "true".
        if statement.get("Effect") == "Deny" and secure is not None and str(secure) != "true":
            return PermissionResult.NEUTRAL
        return original(self, action, resource, principal, incoming_condition_values)

    IAMPolicyStatement.is_action_permitted = is_action_permitted  # type: ignore[method-assign]


def _accept_the_longest_deregistration_delay() -> None:
    from moto.elbv2.models import ELBv2Backend

    original = ELBv2Backend.modify_target_group_attributes
    key = "deregistration_delay.timeout_seconds"

    def modify_target_group_attributes(self: Any, arn: str, attributes: dict[str, Any]) -> Any:
        if str(attributes.get(key, "")) != "3600":
            return original(self, arn, attributes)
        # Validate the rest with a delay moto accepts, then store AWS's limit itself.
        result = original(self, arn, {**attributes, key: "3599"})
        self.target_groups[arn].attributes[key] = attributes[key]
        return result

    ELBv2Backend.modify_target_group_attributes = modify_target_group_attributes  # type: ignore[method-assign,assignment]


def _publish_the_latest_amis_in_every_region() -> None:
    import re

    import moto.ec2.models.amis
    import moto.ssm.models

    per_region = re.compile(r"^(.*(?:latest_amis|ami-amazon-linux-latest))/[a-z0-9-]+\.json$")
    for module in (moto.ec2.models.amis, moto.ssm.models):
        original = module.load_resource

        def load_resource(path: str, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            try:
                return _original(path, *args, **kwargs)
            except FileNotFoundError:
                found = per_region.match(path)
                if found is None:
                    raise
                return _original(f"{found[1]}/us-east-1.json", *args, **kwargs)

        module.load_resource = load_resource  # type: ignore[attr-defined]


def _refuse_to_delete_a_protected_load_balancer() -> None:
    from moto.elbv2.exceptions import ELBClientError
    from moto.elbv2.models import ELBv2Backend

    original = ELBv2Backend.delete_load_balancer

    def delete_load_balancer(self: Any, arn: str) -> None:
        balancer = self.load_balancers.get(arn)
        if balancer is not None and balancer.attrs.get("deletion_protection.enabled") == "true":
            raise ELBClientError(
                "OperationNotPermitted",
                f"Load balancer '{arn}' cannot be deleted because deletion protection is enabled",
            )
        original(self, arn)

    ELBv2Backend.delete_load_balancer = delete_load_balancer  # type: ignore[method-assign]


def _tag_scalable_targets() -> None:
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse

    tags: dict[str, dict[str, str]] = {}  # by scalable target ARN
    register = ApplicationAutoScalingResponse.register_scalable_target

    def register_scalable_target(self: Any) -> str:
        body: str = register(self)
        arn = json.loads(body)["ScalableTargetARN"]
        tags.setdefault(arn, {}).update(self._get_param("Tags") or {})
        return body

    def list_tags_for_resource(self: Any) -> str:
        return json.dumps({"Tags": tags.get(self._get_param("ResourceARN"), {})})

    def tag_resource(self: Any) -> str:
        tags.setdefault(self._get_param("ResourceARN"), {}).update(self._get_param("Tags") or {})
        return json.dumps({})

    def untag_resource(self: Any) -> str:
        held = tags.get(self._get_param("ResourceARN"), {})
        for key in self._get_param("TagKeys") or []:
            held.pop(key, None)
        return json.dumps({})

    ApplicationAutoScalingResponse.register_scalable_target = register_scalable_target  # type: ignore[method-assign]
    ApplicationAutoScalingResponse.list_tags_for_resource = list_tags_for_resource  # type: ignore[attr-defined]
    ApplicationAutoScalingResponse.tag_resource = tag_resource  # type: ignore[attr-defined]
    ApplicationAutoScalingResponse.untag_resource = untag_resource  # type: ignore[attr-defined]


def main() -> None:
    """Patch, then hand over to moto's own server entry point."""
    _return_redrive_allow_policy()
    _deny_only_when_the_condition_matches()
    _accept_the_longest_deregistration_delay()
    _publish_the_latest_amis_in_every_region()
    _refuse_to_delete_a_protected_load_balancer()
    _tag_scalable_targets()
    from moto.server import main as serve

    serve(sys.argv[1:])


if __name__ == "__main__":
    main()
