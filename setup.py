"""Build of the compiled core, lpcore._core, and of the timing harness, lpcore._bench.

Both extensions are built at baseline flags: no -march=native and no -mavx2.
AVX2 code is marked with target attributes (cpp/src/kernels/avx2/) and chosen
at run time (cpp/src/kernels/dispatch.cpp), so one build runs on any x86-64.
_bench compiles the kernel layer again, so that the harness never ships
inside the user's _core.

LPCORE_SANITIZE=1 builds with AddressSanitizer and UBSan (used by .ci/run).
"""

import os
from glob import glob

from pybind11.setup_helpers import ParallelCompile, Pybind11Extension, build_ext
from setuptools import setup

ParallelCompile("LPCORE_BUILD_JOBS", default=2).install()

compile_args = ["-O3", "-ffp-contract=off", "-Wall", "-Wextra"]
link_args = []
if os.environ.get("LPCORE_SANITIZE") == "1":
    sanitize = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
    compile_args = ["-O1", "-g", "-ffp-contract=off"] + sanitize
    link_args = sanitize


def extension(name, sources):
    return Pybind11Extension(
        name,
        sorted(sources),
        include_dirs=["cpp/include", "cpp/src"],
        # setuptools compares each source with its object file only: a changed
        # header must rebuild every source, or objects disagree on a struct.
        depends=sorted(glob("cpp/**/*.hpp", recursive=True)),
        cxx_std=17,
        extra_compile_args=compile_args,
        extra_link_args=link_args,
    )


kernels = glob("cpp/src/kernels/**/*.cpp", recursive=True)
core = extension("lpcore._core", glob("cpp/src/**/*.cpp", recursive=True))
bench = extension("lpcore._bench", glob("cpp/bench/*.cpp") + kernels + ["cpp/src/python/interrupt.cpp"])

setup(ext_modules=[core, bench], cmdclass={"build_ext": build_ext})
