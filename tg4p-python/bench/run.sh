#!/usr/bin/env bash
# Builds tg4perfetto (release) into a venv, installs the pure-Python original from
# PyPI next to it (as a separate directory: both are the module `tg4perfetto`),
# and runs bench.py. Building the original needs protoc (apt-get install
# protobuf-compiler). Extra arguments go to bench.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=target/py-bench
ORIGINAL=target/py-bench-original
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check maturin protobuf
VIRTUAL_ENV="$PWD/$VENV" "$VENV/bin/maturin" develop --quiet --release -m tg4p-python/Cargo.toml
if [ ! -d "$ORIGINAL/tg4perfetto" ]; then
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps --target "$ORIGINAL" "tg4perfetto==0.0.6"
fi
exec "$VENV/bin/python" tg4p-python/bench/bench.py --original "$ORIGINAL" "$@"
