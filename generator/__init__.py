"""The soc2opa generator: compiles controls/*.yaml into Rego policies, tests, docs and a bundle.

It runs from a source checkout (``soc2opa build``); it is not installed with the package.
"""

from generator.build import BuildResult, build

__all__ = ["BuildResult", "build"]
