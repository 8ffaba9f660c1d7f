"""The CLI refuses model files shaped like the published Keras `safe_mode` bypasses.

CVE-2025-1550 (fixed in Keras 3.9): code in the config, e.g. a `Lambda` layer carrying
serialized Python bytecode. CVE-2025-9906 (fixed in 3.11): a config that references a function
of an arbitrary module, e.g. `keras.config.enable_unsafe_deserialization` to switch safe mode
off before a `Lambda`, or `os.system` as an activation. Each file carries a payload that would
create a marker file: the command must fail with one `vis: error:` line, exit status 2, no
traceback, and the marker must not exist.
"""

import json
import zipfile

import pytest
from cli_testing import assert_user_error, build_tiny_model, run_vis, write_images

from vis.utils.io import check_keras_version

pytestmark = pytest.mark.slow


def _rewrite_config(src, dst, edit):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                edit(config)
                data = json.dumps(config).encode()
            zout.writestr(item, data)


def _layers(config):
    return config["config"]["layers"]


def _lambda_payload(marker):
    """A serialized function (base64 marshal, as Keras writes Lambda layers) touching `marker`."""
    from keras.src.utils import python_utils

    namespace = {}
    # writes the marker, then does the max-pool's job (keeps the model loadable and callable)
    exec(f"payload = lambda t: (__import__('pathlib').Path({str(marker)!r}).write_text('pwned'), "
         "t[:, ::2, ::2])[1]", namespace)
    code, defaults, closure = python_utils.func_dump(namespace["payload"])
    return {"class_name": "__lambda__",
            "config": {"code": code, "defaults": defaults, "closure": closure}}


@pytest.fixture(scope="module")
def attack(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_security")
    build_tiny_model(folder / "tiny.keras")
    write_images(folder)
    marker = folder / "PWNED"

    def lambda_bytecode(config):  # CVE-2025-1550 shape: bytecode in a Lambda layer
        pool = next(layer for layer in _layers(config) if layer["config"]["name"] == "pool")
        pool["class_name"] = "Lambda"
        pool["config"] = {"name": "pool", "function": _lambda_payload(marker),
                          "arguments": {}, "output_shape": None, "dtype": "float32"}

    def module_functions(config):  # CVE-2025-9906 shape: functions of arbitrary modules
        layers = _layers(config)
        layers[1]["config"]["activation"] = {
            "module": "keras.config", "class_name": "function",
            "config": "enable_unsafe_deserialization", "registered_name": "function"}
        layers[2]["config"]["activation"] = {
            "module": "os", "class_name": "function", "config": "system",
            "registered_name": "function"}
        lambda_bytecode(config)

    _rewrite_config(folder / "tiny.keras", folder / "cve_2025_1550.keras", lambda_bytecode)
    _rewrite_config(folder / "tiny.keras", folder / "cve_2025_9906.keras", module_functions)
    return folder, marker


@pytest.mark.parametrize("name", ["cve_2025_1550.keras", "cve_2025_9906.keras"])
def test_cli_refuses_safe_mode_bypass_shapes(attack, name):
    folder, marker = attack
    proc = run_vis("saliency", name, "blob.png", cwd=folder)
    assert_user_error(proc, "Cannot load the Keras model", name)
    assert not marker.exists(), "the payload ran"


def test_the_payload_is_live_when_safe_mode_is_off(attack, tmp_path):
    """The attack files are real: without safe_mode the payload runs (so the test can fail)."""
    import keras
    import numpy as np

    folder, marker = attack
    model = keras.saving.load_model(folder / "cve_2025_1550.keras", safe_mode=False,
                                    compile=False)
    try:
        model(np.zeros((1, 8, 8, 1), "float32"))
        assert marker.exists()
    finally:
        marker.unlink(missing_ok=True)


def test_keras_floor_is_3_11():
    check_keras_version("3.11.0")
    check_keras_version("3.15.1")
    for old in ("3.8.0", "3.9.2", "3.10.0"):
        with pytest.raises(ValueError, match="CVE-2025-9906"):
            check_keras_version(old)
