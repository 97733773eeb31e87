"""Build script: maps ``kernels/`` to ``fastconv.kernels`` and compiles the Cython kernels.

The Cython backend is optional at run time: if the compiler or Cython is missing the
install still succeeds and ``fastconv.unavailable_backends()`` says why. The kernels
are compiled with ``-O3``, and with OpenMP when the compiler accepts it (otherwise
their parallel loops run on one thread).
"""
import tempfile
import warnings
from pathlib import Path

import numpy
from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CCompilerError, CompileError, ExecError, LinkError, PlatformError

HERE = Path(__file__).parent
BACKENDS = sorted(p.parent.name for p in (HERE / "kernels").glob("*/__init__.py"))

packages = find_packages(include=["fastconv", "fastconv.*"]) + ["fastconv.kernels"]
packages += [f"fastconv.kernels.{b}" for b in BACKENDS]
package_dir = {"fastconv": "fastconv", "fastconv.kernels": "kernels"}
package_dir.update({f"fastconv.kernels.{b}": f"kernels/{b}" for b in BACKENDS})

# Indices are proven in range by tests/test_cython.py, which builds the same sources
# with bounds checking on; divisions in the kernels have non-negative operands.
CYTHON_DIRECTIVES = dict(
    language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
)
CYTHON_MODULES = ["_im2col", "_pool"]
BUILD_ERRORS = (CCompilerError, CompileError, ExecError, LinkError, PlatformError)

OPTIMIZE_FLAGS = {"msvc": ["/O2"]}
OPENMP_FLAGS = {"msvc": (["/openmp"], [])}  # (compile, link); others: -fopenmp for both
OPENMP_PROBE = "#include <omp.h>\nint main(void) { return omp_get_max_threads() < 1; }\n"


def openmp_flags(compiler) -> tuple[list[str], list[str]]:
    """The (compile, link) flags for OpenMP if this compiler can build an OpenMP program, else ([], [])."""
    compile_flags, link_flags = OPENMP_FLAGS.get(compiler.compiler_type, (["-fopenmp"], ["-fopenmp"]))
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp, "openmp_probe.c")
        source.write_text(OPENMP_PROBE)
        try:
            objects = compiler.compile([str(source)], output_dir=tmp, extra_postargs=compile_flags)
            compiler.link_executable(objects, "openmp_probe", output_dir=tmp, extra_postargs=link_flags)
        except BUILD_ERRORS:
            return [], []
    return compile_flags, link_flags


class OptionalBuildExt(build_ext):
    """Cythonize and compile the kernels; on any failure warn and install without them."""

    def run(self):
        try:
            from Cython.Build import cythonize
            from Cython.Compiler.Errors import CompileError as CythonError

            for extension in self.extensions:
                (translated,) = cythonize(
                    extension,
                    compiler_directives=CYTHON_DIRECTIVES,
                    build_dir=str(Path(self.build_temp, "cython")),
                    quiet=True,
                )
                extension.sources = translated.sources
            super().run()
        except (ImportError, CythonError, *BUILD_ERRORS) as exc:
            self.extensions = []
            warnings.warn(
                f"the Cython kernels were not built ({type(exc).__name__}: {exc}); fastconv "
                "works without them, and fastconv.unavailable_backends() says so"
            )

    def build_extensions(self):
        compile_flags, link_flags = openmp_flags(self.compiler)
        if not compile_flags:
            warnings.warn("the compiler has no OpenMP: the Cython kernels will run on one thread")
        for extension in self.extensions:
            extension.extra_compile_args += OPTIMIZE_FLAGS.get(self.compiler.compiler_type, ["-O3"])
            extension.extra_compile_args += compile_flags
            extension.extra_link_args += link_flags
        super().build_extensions()


extensions = [
    Extension(
        f"fastconv.kernels.cython.{name}",
        [f"kernels/cython/{name}.pyx"],
        include_dirs=[numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
    for name in CYTHON_MODULES
]

setup(
    packages=packages,
    package_dir=package_dir,
    ext_modules=extensions,
    cmdclass={"build_ext": OptionalBuildExt},
)
