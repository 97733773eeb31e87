"""Build script: maps ``kernels/`` to ``fastconv.kernels`` and compiles the Cython kernels.

The Cython backend is optional at run time: if the compiler or Cython is missing the
install still succeeds and ``fastconv.unavailable_backends()`` says why.
"""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
BACKENDS = sorted(p.parent.name for p in (HERE / "kernels").glob("*/__init__.py"))

packages = find_packages(include=["fastconv", "fastconv.*"]) + ["fastconv.kernels"]
packages += [f"fastconv.kernels.{b}" for b in BACKENDS]
package_dir = {"fastconv": "fastconv", "fastconv.kernels": "kernels"}
package_dir.update({f"fastconv.kernels.{b}": f"kernels/{b}" for b in BACKENDS})

setup(packages=packages, package_dir=package_dir)
