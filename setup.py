"""Build of the compiled core, lpcore._core.

The extension is built at baseline flags: no -march=native and no -mavx2.
AVX2 code is marked with target attributes in cpp/src/kernels_avx2.cpp and
chosen at run time (cpp/src/dispatch.cpp), so one build runs on any x86-64.

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

ext = Pybind11Extension(
    "lpcore._core",
    sorted(glob("cpp/src/**/*.cpp", recursive=True)),
    include_dirs=["cpp/include", "cpp/src"],
    # setuptools compares each source with its object file only: a changed
    # header must rebuild every source, or objects disagree on a struct.
    depends=sorted(glob("cpp/**/*.hpp", recursive=True)),
    cxx_std=17,
    extra_compile_args=compile_args,
    extra_link_args=link_args,
)

setup(ext_modules=[ext], cmdclass={"build_ext": build_ext})
