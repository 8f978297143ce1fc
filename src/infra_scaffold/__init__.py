"""infra-scaffold: answers "Lambda or not?" for a new AWS service, then scaffolds it.

The package version is the template's release: a bundled template always
matches the git tag ``v<__version__>`` of the template repository.
"""

__version__ = "0.6.0"

__all__ = ["__version__"]
