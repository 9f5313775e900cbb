"""Security guarantees: loading files never runs code, no unsafe calls in the
sources, nothing is written outside the chosen output folder, downloads and
given data files are checked against their SHA-256.

See docs/reliability.md ("Security") for the guarantee each test proves.
"""

import functools
import hashlib
import io
import json
import os
import pathlib
import re
import tokenize
import zipfile

import keras
import numpy as np
import pytest

from betavae_tf import BetaVAE, load_vae, save_vae
from betavae_tf.datasets import load_array_file, load_dsprites, load_mnist
from betavae_tf.datasets.checksums import sha256_of, verify_sha256
from betavae_tf.datasets.mnist import MNIST_NPZ_SHA256
from betavae_tf.validation import check_inside

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "betavae_tf"


# ------------------------------------------------------ (1) malicious models
def _model_with_code() -> BetaVAE:
    """A BetaVAE whose encoder has a Lambda layer that writes `marker` when run.

    Keras stores the lambda's bytecode in the file; rebuilding the encoder
    while loading would call it, which is the attack `safe_mode` stops.
    """
    inputs = keras.Input((4,))
    # Writing the file named by $BETAVAE_TEST_MARKER stands in for any code;
    # the lambda's bytecode is stored in the file.
    hidden = keras.layers.Lambda(
        lambda t: (open(__import__("os").environ["BETAVAE_TEST_MARKER"], "w").write("pwned"), t)[1]
    )(inputs)
    encoder = keras.Model(inputs, [keras.layers.Dense(2)(hidden), keras.layers.Dense(2)(hidden)])
    z = keras.Input((2,))
    decoder = keras.Model(z, keras.layers.Dense(4)(z))
    return BetaVAE(encoder=encoder, decoder=decoder)


@pytest.fixture(params=["keras", "h5"])
def malicious_file(request, tmp_path, monkeypatch):
    marker = tmp_path / "marker.txt"
    monkeypatch.setenv("BETAVAE_TEST_MARKER", str(marker))
    path = save_vae(_model_with_code(), str(tmp_path / f"shared_model.{request.param}"))
    if marker.exists():  # building the model ran the lambda once; reset
        marker.unlink()
    return pathlib.Path(path), marker


def test_a_model_file_with_code_is_refused_and_the_code_never_runs(malicious_file):
    path, marker = malicious_file
    with pytest.raises(ValueError, match=r"Could not load a model from .*(Lambda|safe_mode)") as error:
        load_vae(path)
    assert "\n" not in str(error.value)
    assert "safe_mode=False" in str(error.value)  # the message names the opt-out
    assert not marker.exists()


def test_safe_mode_false_is_the_explicit_opt_out_for_trusted_files(malicious_file):
    path, marker = malicious_file
    model = load_vae(path, safe_mode=False)
    assert isinstance(model, BetaVAE)
    # Proof the file really carried code: with the opt-out, it ran.
    assert marker.read_text() == "pwned"


def test_global_unsafe_deserialization_does_not_switch_off_load_vaes_check(malicious_file):
    from keras.src.backend.common import global_state

    path, marker = malicious_file
    previous = global_state.get_global_attribute("safe_mode_saving")
    keras.config.enable_unsafe_deserialization()
    try:
        with pytest.raises(ValueError, match="Could not load a model"):
            load_vae(path)
    finally:
        global_state.set_global_attribute("safe_mode_saving", previous)
    assert not marker.exists()


def _rewrite_encoder(source: str, target: str, encoder: dict) -> str:
    """Copies the `.keras` file `source` with its config's encoder replaced."""
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    config["config"]["encoder"] = encoder
    config["config"]["decoder"] = encoder
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return target


@pytest.mark.parametrize(
    "encoder",
    [
        # a Python callable outside Keras, named in the config
        {"module": "os", "class_name": "system", "config": {"command": "touch {marker}"},
         "registered_name": None},
        {"module": "builtins", "class_name": "function", "config": "exec", "registered_name": None},
        # the Keras switch that would turn the check off (CVE-2025-1550's first step)
        {"module": "keras.config", "class_name": "enable_unsafe_deserialization",
         "config": {}, "registered_name": None},
        # raw marshalled bytecode
        {"class_name": "__lambda__", "config": {"code": "", "defaults": None, "closure": None}},
    ],
    ids=["os.system", "builtins.exec", "enable_unsafe_deserialization", "raw-bytecode"],
)
def test_crafted_configs_naming_code_are_refused(tmp_path, encoder):
    marker = tmp_path / "marker.txt"
    encoder = json.loads(json.dumps(encoder).replace("{marker}", str(marker)))
    good = save_vae(BetaVAE(input_dim=4, encoding_dim=2), str(tmp_path / "good.keras"))
    path = _rewrite_encoder(good, str(tmp_path / "crafted.keras"), encoder)
    with pytest.raises(ValueError, match="Could not load a model from") as error:
        load_vae(path)
    assert "\n" not in str(error.value)
    assert not marker.exists()
    from keras.src.saving import serialization_lib

    assert serialization_lib.in_safe_mode() is not False  # still safe afterwards


# ----------------------------------------------------- (2) pickled .npz / .npy
class _Payload:
    """Unpickling calls `open(marker, "w")`: code that must never run."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("extension", ["npz", "npy"])
def test_pickled_object_arrays_are_refused_and_never_unpickled(tmp_path, extension):
    marker = tmp_path / "marker.txt"
    payload = np.array([_Payload(str(marker))], dtype=object)
    path = tmp_path / f"data.{extension}"
    if extension == "npz":
        np.savez(path, x=payload)
    else:
        np.save(path, payload, allow_pickle=True)
    assert not marker.exists()
    with pytest.raises(ValueError, match=r"holds pickled Python objects, which are never loaded") as error:
        load_array_file(path)
    assert "\n" not in str(error.value)
    assert not marker.exists()
    # The payload is real: NumPy with pickles allowed runs it.
    if extension == "npy":
        np.load(path, allow_pickle=True)
        assert marker.exists()


def test_pickled_entries_of_a_dsprites_file_are_never_unpickled(tmp_path):
    marker = tmp_path / "marker.txt"
    path = tmp_path / "dsprites.npz"
    np.savez(path, imgs=np.zeros((1, 4, 4), np.uint8), latents_values=np.zeros((1, 6)),
             latents_classes=np.array([[0] * 6]), metadata=np.array([_Payload(str(marker))], dtype=object))
    load_dsprites(path)  # reads the three arrays; metadata is skipped
    assert not marker.exists()
    np.savez(path, imgs=np.array([_Payload(str(marker))], dtype=object), latents_values=np.zeros((1, 6)),
             latents_classes=np.array([[0] * 6]))
    with pytest.raises(ValueError, match="pickled Python objects"):
        load_dsprites(path)
    assert not marker.exists()


# ------------------------------------------------------- (3) unsafe calls grep
SOURCES = sorted(PACKAGE.rglob("*.py"))
FORBIDDEN = {
    "eval(": re.compile(r"(?<![\w.])eval\s*\("),
    "exec(": re.compile(r"(?<![\w.])exec\s*\("),
    # joblib's Parallel pickles only our own functions to its workers: allowed; its load is not
    "pickle module": re.compile(r"\b(import\s+(c?pickle|dill|marshal|shelve|joblib)\b|"
                                r"from\s+(c?pickle|dill|marshal|shelve)\s+import|"
                                r"from\s+joblib\s+import\b.*\bload\b|"
                                r"\b(c?pickle|dill|marshal|joblib)\.(loads?|Unpickler)\b)"),
    "allow_pickle=True": re.compile(r"allow_pickle\s*=\s*True"),
    "safe_mode=False": re.compile(r"safe_mode\s*=\s*False"),
    "unsafe deserialization": re.compile(r"enable_unsafe_deserialization"),
    "shell=True": re.compile(r"shell\s*=\s*True"),
    "os.system": re.compile(r"\bos\.(system|popen)\s*\("),
    "yaml.load": re.compile(r"\byaml\.(unsafe_)?load\s*\("),
    "__import__": re.compile(r"__import__\s*\("),
}


def _code_lines(text: str):
    """(number, code) of Python source, without comments and string literals.

    Tokens are joined without spaces, so `np . load (` reads `np.load(`.
    """
    lines = {}
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type in (tokenize.NAME, tokenize.OP, tokenize.NUMBER):
            lines.setdefault(token.start[0], []).append(token.string)
    for number, tokens in sorted(lines.items()):
        code = ""
        for item in tokens:  # keep a space between words: "import pickle"
            code += (" " if code and code[-1].isalnum() and item[0].isalnum() else "") + item
        yield number, code


def _forbidden(text: str):
    return [
        (number, name)
        for number, line in _code_lines(text)
        for name, pattern in FORBIDDEN.items()
        if pattern.search(line)
    ]


def test_the_detector_finds_code_and_ignores_strings_and_comments():
    planted = (
        "import pickle\nx = eval('1')\nnp.load(path, allow_pickle=True)\n"
        "load_model(p, safe_mode=False)\nmessage = 'never eval( or exec( here'  # exec(\n"
        "from joblib import Parallel, delayed\nfrom joblib import delayed, load\n"
    )
    assert _forbidden(planted) == [
        (1, "pickle module"), (2, "eval("), (3, "allow_pickle=True"), (4, "safe_mode=False"),
        (7, "pickle module")]


def test_the_sources_have_no_eval_exec_pickle_or_unsafe_loading():
    assert len(SOURCES) > 20
    found = [
        f"{path.relative_to(PACKAGE.parent)}:{number}: {name}"
        for path in SOURCES
        for number, name in _forbidden(path.read_text())
    ]
    assert found == []


def _calls(text: str, function: str):
    """The argument text of every call `function(...)` in `text`."""
    for match in re.finditer(re.escape(function) + r"\s*\(", text):
        depth, start = 1, match.end()
        for index in range(start, len(text)):
            depth += {"(": 1, ")": -1}.get(text[index], 0)
            if depth == 0:
                yield text[start:index]
                break


def test_every_np_load_refuses_pickles_and_every_model_load_is_safe():
    np_loads = model_loads = 0
    for path in SOURCES:
        text = path.read_text()
        for arguments in _calls(text, "np.load"):
            np_loads += 1
            assert "allow_pickle=False" in arguments, f"{path.name}: np.load({arguments})"
        for arguments in _calls(text, "keras.models.load_model"):
            if "custom_objects=betavae_tf" in arguments:  # a docstring example
                continue
            model_loads += 1
            assert "safe_mode=safe_mode" in arguments, f"{path.name}: load_model({arguments})"
    assert np_loads >= 2 and model_loads == 1
    import inspect

    assert inspect.signature(load_vae).parameters["safe_mode"].default is True


# --------------------------------------------- (4) writes stay in their folder
@pytest.mark.parametrize("name", ["images", "a/b", ".", "x/../y"])
def test_check_inside_accepts_names_inside_the_folder(tmp_path, name):
    assert check_inside(tmp_path, name) == os.path.join(str(tmp_path), name)


@pytest.mark.parametrize("name", ["..", "../x", "a/../../x", "/etc", "/tmp/elsewhere"])
def test_check_inside_refuses_names_that_escape(tmp_path, name):
    with pytest.raises(ValueError, match=r"would write outside the output folder") as error:
        check_inside(tmp_path / "out", name, "--images-dir")
    assert "\n" not in str(error.value) and "--images-dir" in str(error.value)


def test_check_inside_refuses_a_symbolic_link_out_of_the_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(ValueError, match="would write outside"):
        check_inside(out, "link/file.png")


@pytest.mark.parametrize("beta", [0.0, 5e-324, 1e-300, 0.1, 1.0, 4.0, 1e300])
def test_sweep_run_folders_are_plain_names_inside_the_output_folder(tmp_path, beta):
    from betavae_tf.sweep import run_folder

    name = run_folder(beta)
    assert re.fullmatch(r"beta_[0-9.e+-]+", name) and os.sep not in name and ".." not in name
    check_inside(tmp_path, name)


def test_sweep_refuses_betas_that_would_share_a_folder_before_writing_anything(digits, tmp_path):
    from betavae_tf import beta_sweep

    x_train, x_val = digits
    out = tmp_path / "sweep"
    with pytest.raises(ValueError, match=r"same run folder\(s\) \['beta_1'\]") as error:
        beta_sweep(lambda beta: BetaVAE(input_dim=64, encoding_dim=2, beta=beta),
                   [1.0, 1.0000001], x_train[:16], x_val[:4], out, epochs=1)
    assert "\n" not in str(error.value)
    assert not out.exists()


def test_individual_sample_files_are_named_by_index_only(tmp_path):
    from betavae_tf import plot_samples

    model = BetaVAE(input_dim=4, encoding_dim=2, seed=0)
    folder = tmp_path / "samples"
    plot_samples(model, n=3, save_path=None, individual_dir=str(folder), image_shape=(2, 2, 1))
    names = sorted(os.listdir(folder))
    assert len(names) == 3 and all(re.fullmatch(r"sample_\d+\.png", name) for name in names)
    assert sorted(os.listdir(tmp_path)) == ["samples"]


@pytest.mark.parametrize("images_dir", ["../escaped", "ABSOLUTE"])
def test_cli_generate_keeps_images_dir_inside_output_dir(tmp_path, capsys, images_dir):
    from betavae_tf.cli import main

    model_path = save_vae(BetaVAE(input_dim=64, encoding_dim=2, seed=0), str(tmp_path / "m.h5"))
    out = tmp_path / "out"
    target = tmp_path / "escaped"
    images_dir = str(target) if images_dir == "ABSOLUTE" else images_dir
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "--model-path", model_path, "--data", "digits", "--n", "2",
              "--output-dir", str(out), "--images-dir", images_dir])
    assert exit_info.value.code == 2
    assert "would write outside the output folder" in capsys.readouterr().err
    assert not target.exists()


def test_a_tampered_backup_state_cannot_read_or_delete_files_outside_the_backup(tmp_path):
    from betavae_tf.callbacks import TrainingBackup

    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    model = BetaVAE(input_dim=4, encoding_dim=2, seed=0)
    model.compile(optimizer="adam")
    model.fit(x, epochs=1, verbose=0)
    victim = tmp_path / "victim.weights.h5"
    model.save_weights(str(victim))
    backup = tmp_path / "backup"
    backup.mkdir()
    (backup / "state.json").write_text(json.dumps({
        "epoch": 1, "finished": False, "weights": "../victim.weights.h5", "best_weights": None,
        "history": {}, "callbacks": [],
    }))
    try:
        with pytest.raises(ValueError, match="outside"):
            model.fit(x, epochs=2, verbose=0, callbacks=[TrainingBackup(str(backup))])
    finally:
        victim_survived = victim.exists()
    assert victim_survived


# ------------------------------------------------------- (5) download hashes
def test_keras_mnist_download_is_pinned_to_the_documented_sha256():
    import inspect

    import keras.src.datasets.mnist as keras_mnist

    assert MNIST_NPZ_SHA256 in inspect.getsource(keras_mnist.load_data)
    assert "allow_pickle=False" in inspect.getsource(keras_mnist.load_data)


def test_a_tampered_mnist_download_is_refused(tmp_path, monkeypatch):
    """load_mnist without a folder downloads through Keras; a download whose
    bytes differ from the pinned hash raises instead of being used."""
    import keras.src.datasets.mnist as keras_mnist
    from keras.src.utils import file_utils

    def fake_download(url, target, *args):
        assert url.endswith("mnist.npz")
        np.savez(target if target.endswith(".npz") else target + ".npz", x_train=np.zeros((1, 28, 28)))
        if not target.endswith(".npz"):
            os.replace(target + ".npz", target)

    monkeypatch.setattr(file_utils, "urlretrieve", fake_download)
    monkeypatch.setattr(keras_mnist, "get_file", functools.partial(file_utils.get_file, cache_dir=str(tmp_path)))
    monkeypatch.delenv("BETAVAE_DATA_DIR", raising=False)
    with pytest.raises(ValueError, match="file hash does not match"):
        load_mnist()


def test_verify_sha256_accepts_the_right_hash_and_refuses_another(tmp_path):
    path = tmp_path / "data.npz"
    path.write_bytes(b"official bytes")
    right = hashlib.sha256(b"official bytes").hexdigest()
    assert sha256_of(path) == right
    assert verify_sha256(path, right.upper() + "\n") == str(path)
    wrong = hashlib.sha256(b"tampered").hexdigest()
    with pytest.raises(ValueError, match=f"has SHA-256 {right} but {wrong} was expected") as error:
        verify_sha256(path, wrong)
    assert "\n" not in str(error.value)
    assert path.exists()  # a user's own file is never deleted by default
    with pytest.raises(ValueError, match="It was deleted; download it again"):
        verify_sha256(path, wrong, remove=True)
    assert not path.exists()  # a bad download is removed


@pytest.mark.parametrize("expected", ["", "abc", "g" * 64, None, 123])
def test_verify_sha256_refuses_malformed_hashes(tmp_path, expected):
    path = tmp_path / "f"
    path.write_bytes(b"x")
    with pytest.raises(ValueError, match="expected must be a SHA-256 of 64 hex digits"):
        verify_sha256(path, expected)


def test_load_dsprites_checks_a_given_sha256_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "dsprites.npz"
    np.savez(path, imgs=np.zeros((1, 4, 4), np.uint8), latents_values=np.zeros((1, 6)),
             latents_classes=np.array([[0] * 6]))
    assert len(load_dsprites(path, sha256=sha256_of(path))) == 1

    def must_not_read(*args, **kwargs):
        raise AssertionError("the file was read despite a wrong hash")

    monkeypatch.setattr(np, "load", must_not_read)
    with pytest.raises(ValueError, match="has SHA-256 .* was expected") as error:
        load_dsprites(path, sha256="0" * 64)
    assert "\n" not in str(error.value)
    assert path.exists()
