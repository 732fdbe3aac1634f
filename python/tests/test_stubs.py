"""The type stubs (tgk/_tgk.pyi) declare what the module has, with the same parameters."""

import ast
import pathlib
import re

import tgk
import tgk._tgk

STUBS = pathlib.Path(tgk.__file__).with_name("_tgk.pyi")


def stub_functions():
    tree = ast.parse(STUBS.read_text())
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_the_stubs_and_py_typed_are_installed():
    assert STUBS.is_file()
    assert STUBS.with_name("py.typed").is_file()


def test_every_public_name_is_declared_with_its_parameters():
    functions = stub_functions()
    classes = {n.name for n in ast.parse(STUBS.read_text()).body if isinstance(n, ast.ClassDef)}
    assert set(tgk.__all__) == set(functions) | classes
    for name, node in functions.items():
        declared = [a.arg for a in node.args.args] + [a.arg for a in node.args.kwonlyargs]
        # nanobind's docstring starts with the signature: "kkt(k: object, ...) -> object".
        signature = getattr(tgk._tgk, name).__doc__.splitlines()[0]
        actual = re.findall(r"(\w+):", signature[signature.index("(") :])
        assert declared == actual, name
