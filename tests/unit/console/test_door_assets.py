"""The door scanner's vendored QR reader: the WebAssembly file is the one its
script was built for, and its licence travels with it."""

from __future__ import annotations

import hashlib
import re

from saveit.console.render import STATIC

VERSION = "3.1.6"


def test_the_wasm_is_the_one_the_reader_script_declares() -> None:
    script = (STATIC / "zxing-reader.min.js").read_text()
    declared = re.search(r"ZXING_WASM_SHA256=`([0-9a-f]{64})`", script)
    assert declared is not None
    assert f"`{VERSION}`" in script
    wasm = (STATIC / "zxing_reader.wasm").read_bytes()
    assert hashlib.sha256(wasm).hexdigest() == declared.group(1)


def test_the_licences_are_next_to_the_files() -> None:
    licence = (STATIC / "zxing-wasm.LICENSE.txt").read_text()
    assert f"zxing-wasm {VERSION}" in licence
    assert "MIT License" in licence
    assert "Apache License" in licence
    assert hashlib.sha256((STATIC / "zxing_reader.wasm").read_bytes()).hexdigest() in licence
