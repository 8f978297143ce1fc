"""moto's AWS API on loopback, and the account a generated project deploys into.

One server per project under test (a free port on 127.0.0.1), so projects applied in
parallel never see each other's resources. :func:`prerequisites` creates what a
project expects to exist already (a VPC, private and public subnets in two
Availability Zones, an ACM certificate) and returns the Terraform variables that
point at them.

Emulator gaps are worked around here and in the test module's override files, never
in the generated project; ``tests/test_deploy.py`` lists each with its reason.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

#: The region the projects deploy to in these tests (its zones a and b are used).
REGION = "us-east-1"
#: moto accepts any credentials; these make the provider's STS call succeed.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
#: Server settings that close emulator gaps (listed with their reasons in test_deploy.py).
SERVER_SETTINGS = {"MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
START_TIMEOUT = 60.0
#: Starts moto's server with the harness's patches for emulator gaps.
LAUNCHER = Path(__file__).with_name("emulator_server.py")


def free_port() -> int:
    """A TCP port nothing listens on right now (on 127.0.0.1)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def moto_available() -> str | None:
    """None when moto's server can run here, else why not (one line)."""
    try:
        import moto.server  # noqa: F401
    except ImportError as error:
        return f"moto's server is not installed ({error}): run `bash scripts/test.sh`"
    return None


class MotoServer:
    """``moto_server`` on 127.0.0.1, started on entry and stopped on exit."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.log = log
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The endpoint every AWS client uses (``AWS_ENDPOINT_URL``)."""
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """What a client needs to reach this server and nothing else.

        ``AWS_CA_BUNDLE`` is dropped: a machine-wide bundle breaks plain-HTTP loopback
        endpoints in some SDKs, and nothing here uses TLS.
        """
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            **CREDENTIALS,
        }

    def __enter__(self) -> MotoServer:
        env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
        env.update(SERVER_SETTINGS)
        with self.log.open("wb") as sink:
            self._process = subprocess.Popen(
                [sys.executable, str(LAUNCHER), "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"moto_server exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=2):  # noqa: S310
                    return self
            except OSError:
                time.sleep(0.2)
        self.__exit__(None, None, None)
        raise RuntimeError(f"moto_server did not answer within {START_TIMEOUT:.0f} s")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


def client(server: MotoServer, service: str, region: str = REGION) -> Any:
    """A boto3 client of ``service`` in ``region``, talking to ``server``."""
    import boto3  # type: ignore[import-untyped]

    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name=region,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        verify=False,
    )


@dataclass(frozen=True, slots=True)
class Account:
    """What exists before a project is applied, as the project's variables name it."""

    vpc_id: str
    subnet_ids: tuple[str, str]
    public_subnet_ids: tuple[str, str]
    certificate_arn: str

    def tfvars(self, *, service: bool) -> dict[str, Any]:
        """The variables ``terraform.tfvars.example`` asks a user to fill in."""
        values: dict[str, Any] = {"vpc_id": self.vpc_id, "subnet_ids": list(self.subnet_ids)}
        if service:
            values["public_subnet_ids"] = list(self.public_subnet_ids)
            values["certificate_arn"] = self.certificate_arn
        return values


def prerequisites(
    server: MotoServer, region: str = REGION, domain: str = "service.example.com"
) -> Account:
    """A VPC with private and public subnets in two zones, and an ACM certificate."""
    ec2 = client(server, "ec2", region)
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    private: list[str] = []
    public: list[str] = []
    # The region's first two zones, as AWS lists them: not every region has a "b"
    # (ap-northeast-1 offers a, c and d to new accounts).
    zones = sorted(
        zone["ZoneName"]
        for zone in ec2.describe_availability_zones()["AvailabilityZones"]
        if zone.get("ZoneType", "availability-zone") == "availability-zone"
    )[:2]
    for index, zone in enumerate(zones):
        for kind, found in (("private", private), ("public", public)):
            offset = index * 2 + (kind == "public")
            subnet = ec2.create_subnet(
                VpcId=vpc, CidrBlock=f"10.20.{offset}.0/24", AvailabilityZone=zone
            )["Subnet"]["SubnetId"]
            found.append(subnet)
    certificate = client(server, "acm", region).request_certificate(
        DomainName=domain, ValidationMethod="DNS"
    )["CertificateArn"]
    return Account(vpc, (private[0], private[1]), (public[0], public[1]), certificate)
