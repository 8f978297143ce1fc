"""Allow ``python -m infra_scaffold``."""

from infra_scaffold.cli import main

main()
