"""The `scaffold` command line: glue between options, the pure core and the renderer.

Every command collects answers → decides → renders or prints. Heavy modules
(copier, questionary, rich) are imported inside the commands that need them,
so `scaffold --help`, `scaffold recommend` and `scaffold cost` start fast.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from infra_scaffold import __version__
from infra_scaffold.errors import ConfigError, ScaffoldError

__all__ = ["app", "main"]

# Typer vendors click; its exception base is reached through a public subclass.
_CLICK_EXCEPTION: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)


class _Commands(TyperGroup):
    """Report every user error as one line and its exit code, never a traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ScaffoldError as error:
            _fail(str(error), error.exit_code)
        except _CLICK_EXCEPTION as error:
            message = error.format_message()  # type: ignore[attr-defined]
            _fail(message, error.exit_code)  # type: ignore[attr-defined]


def _fail(message: str, code: int) -> NoReturn:
    """One ``error:`` line per problem (several answers may be wrong at once)."""
    typer.echo("\n".join(f"error: {line}" for line in message.splitlines() or [""]), err=True)
    raise typer.Exit(code)


app = typer.Typer(
    name="scaffold",
    cls=_Commands,
    help=(
        "Lambda or not? Answer a short checklist about a new AWS service, see why Lambda "
        "fits or not and what each option costs per month, and get a secure AWS SAM or "
        "container project."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Architecture(StrEnum):
    """Lambda/Fargate CPU architecture."""

    arm64 = "arm64"
    x86_64 = "x86_64"


class ApiGateway(StrEnum):
    """API Gateway in front of Lambda."""

    http = "http"
    rest = "rest"
    websocket = "websocket"
    none = "none"


class TrafficPattern(StrEnum):
    """How the traffic arrives (sets the assumed peak-to-average ratio)."""

    steady = "steady"
    spiky = "spiky"


DataOption = Annotated[
    list[str] | None,
    typer.Option(
        "--data",
        "-d",
        metavar="KEY=VALUE",
        help="An answer, e.g. --data workload=http_api (repeatable; beats --data-file).",
    ),
]
DataFileOption = Annotated[
    Path | None,
    typer.Option(
        "--data-file",
        metavar="FILE",
        help="A YAML file of answers (KEY: VALUE), e.g. an organisation's defaults. "
        "From another project's .copier-answers.yml, its project_name is not taken.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a report.")]


def _whole(option: str, low: int, high: int | None = None) -> Callable[[str], int]:
    """The parser of an integer option: the same rules as answers (1M, 1e6, 1,000,000)."""

    def parse(text: str) -> int:
        from infra_scaffold.numbers import parse_whole  # noqa: PLC0415

        try:
            value = parse_whole(text)
        except ValueError as error:
            raise typer.BadParameter(f"{text!r}: {error}", param_hint=f"'{option}'") from None
        if value < low or (high is not None and value > high):
            limits = f"from {low:,} to {high:,}" if high is not None else f"at least {low:,}"
            raise typer.BadParameter(f"must be {limits} (got {value:,})", param_hint=f"'{option}'")
        return value

    return parse


def _version(value: bool) -> None:
    if value:
        typer.echo(f"scaffold {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Lambda or not? Answer it for a new AWS service, then scaffold the project."""


def given_answers(data: list[str] | None, data_file: Path | None) -> dict[str, Any]:
    """Answers from ``--data-file`` overlaid with ``--data`` (not yet checked)."""
    from infra_scaffold.contract import parse_data_file, parse_data_options  # noqa: PLC0415

    answers: dict[str, Any] = parse_data_file(data_file) if data_file else {}
    answers.update(parse_data_options(data or ()))
    return answers


@app.command()
def new(
    dest: Annotated[
        Path | None,
        typer.Argument(
            help="Folder to create (must not exist, or be empty). Default: ./PROJECT_NAME.",
            show_default=False,
        ),
    ] = None,
    defaults: Annotated[
        bool,
        typer.Option(
            "--defaults",
            help="Take the default of every answer not given (the workload's defaults, "
            "the recommended compute); never prompt.",
        ),
    ] = False,
    data: DataOption = None,
    data_file: DataFileOption = None,
    template: Annotated[
        str | None,
        typer.Option(
            "--template",
            metavar="PATH|URL",
            envvar="SCAFFOLD_TEMPLATE",
            help="Another template (a platform team's fork): a folder or a git URL. "
            "Default: the template bundled with this version.",
        ),
    ] = None,
    vcs_ref: Annotated[
        str | None,
        typer.Option(
            "--vcs-ref",
            metavar="REF",
            help="Git tag or commit of --template to render; without --template, a release "
            "of the bundled history (e.g. v0.1.0).",
        ),
    ] = None,
    git: Annotated[
        bool,
        typer.Option(
            help="Make the project a git repository with one initial commit "
            "(copier update needs one)."
        ),
    ] = True,
) -> None:
    """Answer the checklist, see the recommendation, and create the project.

    In a terminal it asks only what was not given with --data/--data-file.
    Without a terminal (CI, scripts) every answer must be given, or --defaults
    used; if any is missing or wrong, it names all of them at once. Numbers
    may be written 1000000, 1,000,000, 1e6 or 1M. Either way it prints the
    recommendation (and a note if the chosen compute goes against it). Nothing
    is left behind on an error or Ctrl-C. Examples:

    \b
        scaffold new orders-api
        scaffold new orders-api --defaults --data workload=sqs_consumer
    """
    from infra_scaffold import new_project  # noqa: PLC0415

    new_project.run(
        dest=dest,
        given=given_answers(data, data_file),
        defaults=defaults,
        template=template,
        vcs_ref=vcs_ref,
        git=git,
    )


@app.command()
def update(
    dest: Annotated[
        Path,
        typer.Argument(
            help="The project to update, or a folder inside it (in a git repository with a "
            "clean tree)."
        ),
    ] = Path(),
    data: DataOption = None,
    data_file: DataFileOption = None,
    template: Annotated[
        str | None,
        typer.Option(
            "--template",
            metavar="PATH|URL",
            help="Update from this template source instead (a platform team's fork or "
            "mirror, with release tags), and record it. Default: the source the project "
            "records.",
        ),
    ] = None,
    vcs_ref: Annotated[
        str | None,
        typer.Option(
            "--vcs-ref", metavar="REF", help="Template release to update to. Default: the latest."
        ),
    ] = None,
) -> None:
    """Pull the latest template release into a project, optionally with new answers.

    Checks first, before reading any template source, that the project is in a
    git repository with a clean tree and an answers file, and that new answers
    are valid. A project made from the bundled template is updated from the
    release history this package carries: no network, no tags. Re-runs the
    checklist on the answers: when traffic has grown past the break-even it
    says so, with the command that moves the project to the other compute; a
    change of recommendation or compute adds a decision record that supersedes
    the last. Exits 1 if files have conflict markers. Examples:

    \b
        scaffold update
        scaffold update --data requests_per_month=50000000
        scaffold update --data compute=container
        scaffold update --template https://git.example.com/platform/infra-scaffold.git
    """
    from infra_scaffold import update as updating  # noqa: PLC0415

    updating.run(dest, given_answers(data, data_file), vcs_ref, template)


@app.command()
def releases(
    repository: Annotated[
        Path | None,
        typer.Option(
            "--repository",
            metavar="DIR",
            help="Also write them as a git repository (one commit per release, tagged "
            "vX.Y.Z) into DIR, a new folder: for plain copier update, or for a fork.",
        ),
    ] = None,
) -> None:
    """List the template releases this package carries, oldest first.

    scaffold update reads them to update projects made from the bundled
    template: no network, no tags. Plain copier update can read them through
    git (see docs/updating.md):

    \b
        scaffold releases
        scaffold releases --repository /tmp/infra-scaffold-releases.git
    """
    from infra_scaffold import history  # noqa: PLC0415

    if repository is not None and not _new_folder(repository):
        raise ConfigError(f"--repository {repository}: exists and is not an empty folder")
    versions = history.releases()
    typer.echo("\n".join(versions))
    if repository is not None:
        history.build_repository(repository.absolute())
        typer.echo(
            f"Wrote {len(versions)} release(s) to {repository.absolute()} "
            f"(tags {', '.join(history.tag_of(v) for v in versions)})."
        )


@app.command()
def recommend(
    data: DataOption = None,
    data_file: DataFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Recommend Lambda or containers for a workload, with reasons and monthly costs.

    Pass the checklist answers with --data (only `workload` is needed; the
    workload's defaults fill in the rest), or a project's answers file:

    \b
        scaffold recommend --data workload=worker
        scaffold recommend --json --data workload=http_api --data requests_per_month=20000000
        scaffold recommend --data-file .copier-answers.yml
    """
    from infra_scaffold.contract import load_contract  # noqa: PLC0415
    from infra_scaffold.plan import recommend_for  # noqa: PLC0415

    contract = load_contract()
    given = given_answers(data, data_file)
    contract.resolve(given, only=tuple(given), respect_when=False)  # every given answer checked
    recommendation = recommend_for(contract, given)
    if as_json:
        _print_json(recommendation.to_dict())
        return
    from infra_scaffold.report import recommendation_lines, terminal_width  # noqa: PLC0415

    lines = recommendation_lines(recommendation, terminal_width(), current=given.get("compute"))
    typer.echo("\n".join(lines))


@app.command()
def cost(
    requests_per_month: Annotated[
        int,
        typer.Option(
            parser=_whole("--requests-per-month", 0),
            metavar="N",
            help="Requests (or events, or jobs) per month, e.g. 20M, 2e7 or 20,000,000.",
        ),
    ] = 1_000_000,
    avg_duration_ms: Annotated[
        int,
        typer.Option(
            parser=_whole("--avg-duration-ms", 1),
            metavar="MS",
            help="Average duration of one request, in ms.",
        ),
    ] = 200,
    memory_mb: Annotated[
        int,
        typer.Option(
            parser=_whole("--memory-mb", 128, 10_240),
            metavar="MB",
            help="Lambda memory (and Fargate sizing), in MB: 128 to 10240.",
        ),
    ] = 128,
    architecture: Annotated[
        Architecture, typer.Option(help="Lambda and Fargate CPU architecture.")
    ] = Architecture.arm64,
    api_gateway: Annotated[
        ApiGateway, typer.Option(help="API Gateway in front of Lambda (none for event sources).")
    ] = ApiGateway.http,
    free_tier: Annotated[
        bool,
        typer.Option(help="Subtract Lambda's always-free tier (shared by the whole account)."),
    ] = False,
    provisioned_concurrency: Annotated[
        int,
        typer.Option(
            parser=_whole("--provisioned-concurrency", 0),
            metavar="N",
            help="Lambda environments kept warm around the clock.",
        ),
    ] = 0,
    instance_type: Annotated[
        str | None,
        typer.Option(
            help="EC2 instance type of the container options. Default: the cheapest fleet "
            "that serves the planned peak.",
            show_default=False,
        ),
    ] = None,
    load_balancer: Annotated[
        bool, typer.Option(help="Containers sit behind an ALB (--no-load-balancer: a worker).")
    ] = True,
    waf: Annotated[bool, typer.Option(help="A WAF web ACL guards the ALB.")] = True,
    root_volume_gb: Annotated[
        int,
        typer.Option(
            parser=_whole("--root-volume-gb", 0, 16_384),
            metavar="GB",
            help="gp3 root volume of each Auto Scaling group instance, priced with it (0: "
            "not counted; the generated project's: 30 GB, 150 on GPU types, plus scratch).",
        ),
    ] = 0,
    traffic_pattern: Annotated[
        TrafficPattern,
        typer.Option(help="How traffic arrives: sets the peak the containers are sized for."),
    ] = TrafficPattern.steady,
    peak_to_average: Annotated[
        float,
        typer.Option(
            min=0.0, help="Peak over average request rate (0: the traffic pattern's: 1.5 or 10)."
        ),
    ] = 0.0,
    vcpus_per_request: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=8.0,
            help="vCPUs one request keeps busy (0: its Lambda-equivalent share, at most 1).",
        ),
    ] = 0.0,
    gpu: Annotated[
        bool, typer.Option(help="The workload needs a GPU (Lambda and Fargate have none).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Monthly cost of Lambda, one EC2 instance, and the generated EC2 and Fargate projects.

    The container options are sized for the planned peak (Little's law) and
    cost what that takes. Prints each option's plan and breakdown (or why it
    cannot serve the load), where containers become cheaper than Lambda
    (break-even), a chart from 100k to 1B requests per month, and every
    assumption. A small function on x86_64 on one t4g.small (the figures
    Lambda-versus-EC2 comparisons usually quote), and a worker:

    \b
        scaffold cost --memory-mb 128 --architecture x86_64 --instance-type t4g.small
        scaffold cost --no-load-balancer --avg-duration-ms 60000 --memory-mb 2048
    """
    from infra_scaffold.cost import CostInputs, estimate, instance_types, misfit  # noqa: PLC0415

    if instance_type is not None and instance_type not in instance_types():
        raise typer.BadParameter(
            f"{instance_type!r} has no price; one of: {', '.join(instance_types())}",
            param_hint="'--instance-type'",
        )
    if 0 < peak_to_average < 1:
        raise typer.BadParameter(
            "must be 0 (the traffic pattern's) or at least 1", param_hint="'--peak-to-average'"
        )
    inputs = CostInputs(
        requests_per_month=requests_per_month,
        avg_duration_ms=avg_duration_ms,
        memory_mb=memory_mb,
        architecture=architecture.value,
        api_gateway=api_gateway.value,
        free_tier=free_tier,
        provisioned_concurrency=provisioned_concurrency,
        instance_type=instance_type,
        load_balancer=load_balancer,
        waf=waf,
        root_volume_gb=root_volume_gb,
        traffic_pattern=traffic_pattern.value,
        peak_to_average=peak_to_average,
        vcpus_per_request=vcpus_per_request,
        gpu=gpu,
    )
    reason = misfit(inputs)
    if reason:
        raise typer.BadParameter(reason, param_hint="'--instance-type'")
    report = estimate(inputs)
    if as_json:
        _print_json(report.to_dict())
        return
    from infra_scaffold.report import cost_lines, terminal_width  # noqa: PLC0415

    typer.echo("\n".join(cost_lines(report, terminal_width())))


def _new_folder(path: Path) -> bool:
    """Absent, or an empty folder."""
    return not path.exists() or (path.is_dir() and not any(path.iterdir()))


def _print_json(data: object) -> None:
    import json  # noqa: PLC0415 - only the --json paths need it

    typer.echo(json.dumps(data, indent=2))


def main() -> None:
    """Console-script entry point."""
    app(prog_name="scaffold")


if __name__ == "__main__":  # pragma: no cover
    main()
