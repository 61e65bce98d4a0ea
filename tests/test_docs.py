"""The Examples sections of the public docstrings run and print what they say."""

import doctest
import importlib

import pytest

# lpcore.quantize the function shadows lpcore.quantize the module, hence import_module.
MODULES = ["lpcore._backend", "lpcore.kernels", "lpcore.quantize", "lpcore.linear_model", "lpcore.float_formats",
           "lpcore.theory"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
