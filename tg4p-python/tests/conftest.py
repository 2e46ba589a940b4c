import pathlib

import pytest

import decode as _decode

HERE = pathlib.Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples"


@pytest.fixture
def trace_path(tmp_path):
    return tmp_path / "test.perfetto-trace"


@pytest.fixture
def decoded():
    """Decodes a trace file and checks trace_processor's rules on it."""

    def run(path):
        trace = _decode.decode(path)
        trace.assert_valid()
        return trace

    return run
