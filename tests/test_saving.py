import os
import shutil

import keras
import numpy as np
import pytest

from betavae_tf import BetaVAE, load_vae, save_vae


@pytest.fixture
def saved(tmp_path):
    model = BetaVAE(input_dim=6, encoding_dim=2, beta=1.5)
    paths = {ext: save_vae(model, str(tmp_path / f"model.{ext}")) for ext in ("h5", "keras")}
    return model, paths


def test_save_then_load_gives_the_same_model(saved):
    model, paths = saved
    x = np.random.rand(4, 6).astype("float32")
    for path in paths.values():
        reloaded = load_vae(path)
        assert isinstance(reloaded, BetaVAE) and reloaded.beta == 1.5
        np.testing.assert_array_equal(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="No model file at .*nothing.h5'; check the path"):
        load_vae(tmp_path / "nothing.h5")


def test_folder_and_unknown_extension(tmp_path):
    with pytest.raises(ValueError, match="is a folder, not a model file"):
        load_vae(tmp_path)
    (tmp_path / "model.pt").write_bytes(b"x")
    with pytest.raises(ValueError, match="path must end in .h5 or .keras"):
        load_vae(tmp_path / "model.pt")


@pytest.mark.parametrize("extension", ["h5", "keras"])
def test_garbage_and_truncated_files_give_one_line_errors(saved, tmp_path, extension):
    _, paths = saved
    garbage = tmp_path / f"garbage.{extension}"
    garbage.write_bytes(os.urandom(2048))
    truncated = tmp_path / f"truncated.{extension}"
    data = open(paths[extension], "rb").read()
    truncated.write_bytes(data[: len(data) // 2])
    for path in (garbage, truncated):
        with pytest.raises(ValueError, match="corrupt or truncated|Could not load a model") as error:
            load_vae(path)
        assert "\n" not in str(error.value)


def test_a_file_of_another_model_is_refused(tmp_path):
    inputs = keras.Input((3,))
    other = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    path = str(tmp_path / "other.keras")
    other.save(path)
    with pytest.raises(ValueError, match="holds a Functional, not a betavae_tf BetaVAE"):
        load_vae(path)


def test_lambda_layers_are_refused_in_safe_mode(tmp_path):
    encoder_in = keras.Input((4,))
    h = keras.layers.Lambda(lambda t: t * 2.0)(encoder_in)
    encoder = keras.Model(encoder_in, [keras.layers.Dense(2)(h), keras.layers.Dense(2)(h)])
    z = keras.Input((2,))
    decoder = keras.Model(z, keras.layers.Dense(4)(z))
    path = str(tmp_path / "lambda.keras")
    BetaVAE(encoder=encoder, decoder=decoder).save(path)
    with pytest.raises(ValueError, match="Could not load a model .*(Lambda|safe_mode)"):
        load_vae(path)
    assert isinstance(load_vae(path, safe_mode=False), BetaVAE)  # explicit opt-in


def test_save_replaces_atomically_and_leaves_no_temporary_file(saved, tmp_path):
    model, paths = saved
    model.beta = 9.0
    save_vae(model, paths["h5"])
    assert load_vae(paths["h5"]).beta == 9.0
    assert sorted(os.listdir(tmp_path)) == ["model.h5", "model.keras"]


def test_failed_save_keeps_the_previous_file(saved, tmp_path):
    model, paths = saved
    before = open(paths["keras"], "rb").read()
    model.beta = 5.0
    blocker = tmp_path / f".model.partial-{os.getpid()}.keras"
    blocker.mkdir()  # the temporary file cannot be created: the save fails midway
    with pytest.raises(OSError):
        save_vae(model, paths["keras"])
    shutil.rmtree(blocker)
    assert open(paths["keras"], "rb").read() == before
    assert load_vae(paths["keras"]).beta == 1.5


def test_write_atomically_keeps_the_old_file_when_the_write_fails(tmp_path):
    from betavae_tf.saving import write_atomically

    path = tmp_path / "state.weights.h5"
    path.write_text("old")

    def broken(temporary):
        assert temporary.endswith(".weights.h5")  # Keras picks the format from it
        with open(temporary, "w") as file:
            file.write("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(path, broken)
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["state.weights.h5"]
    write_atomically(path, lambda temporary: open(temporary, "w").write("new"))
    assert path.read_text() == "new" and os.listdir(tmp_path) == ["state.weights.h5"]


def test_room_checks_use_the_existing_file_or_the_model_size(tmp_path):
    from betavae_tf.saving import check_room_for, checkpoint_size_estimate

    model = BetaVAE(input_dim=8, encoding_dim=2, seed=0)
    values = sum(int(np.prod(w.shape)) for w in model.weights)
    assert checkpoint_size_estimate(model) == 4 * 3 * values + 256 * 1024  # Adam's two slots
    path = tmp_path / "m.h5"
    path.write_bytes(b"x" * 1000)
    assert checkpoint_size_estimate(model, str(path)) == 1000
    check_room_for(str(path), 1000)
    with pytest.raises(OSError, match="free in .*a checkpoint needs about"):
        check_room_for(str(path), 10**18)


def test_ensure_writable_folder_creates_or_explains(tmp_path):
    from betavae_tf.validation import ensure_writable_folder

    assert ensure_writable_folder(str(tmp_path / "a" / "b"), "output folder", "pass --x") == str(tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b").is_dir()
    (tmp_path / "file").write_text("")
    with pytest.raises(OSError, match=r"Cannot create the output folder .*file/sub.*; pass --x\.$"):
        ensure_writable_folder(str(tmp_path / "file" / "sub"), "output folder", "pass --x")


def test_a_keras_file_saved_after_an_h5_one_keeps_the_optimizer(tmp_path):
    from betavae_tf import FusedAdam

    model = BetaVAE(input_dim=6, encoding_dim=2)
    model.compile(optimizer=FusedAdam(2e-3, beta_1=0.8))
    model.fit(np.random.rand(8, 6).astype("float32"), verbose=0)
    save_vae(model, tmp_path / "first.h5")  # Keras's .h5 writer dropped the optimizer config
    reloaded = load_vae(save_vae(model, tmp_path / "then.keras"))
    assert type(reloaded.optimizer) is FusedAdam
    assert reloaded.optimizer.beta_1 == pytest.approx(0.8)
