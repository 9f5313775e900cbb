"""Smoke tests of the speed and memory benchmarks (tiny settings, no timing assertions)."""

import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
HAS_TORCH = importlib.util.find_spec("torch") is not None


def run_script(name: str, *args: str) -> dict:
    """Runs `benchmarks/<name>` and returns the JSON line it prints."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    completed = subprocess.run(
        [sys.executable, str(BENCHMARKS / name), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1, completed.stdout
    return json.loads(lines[0])


def assert_positive(result: dict, keys) -> None:
    for key in keys:
        assert key in result, key
        value = result[key]
        values = value if isinstance(value, list) else [value]
        assert values and all(isinstance(v, (int, float)) and v > 0 for v in values), (key, value)


TRAIN_KEYS = (
    "tf_examples_per_second", "tf_median_epoch_seconds", "tf_epoch_seconds",
    "flops_per_example", "peak_flops", "tf_percent_of_peak", "peak_rss_mb", "n_examples",
    "steps_per_execution",
)
TORCH_KEYS = ("torch_examples_per_second", "torch_epoch_seconds", "torch_percent_of_peak",
              "ratio_tf_over_torch")


def test_bench_train_dense_with_levers():
    result = run_script(
        "bench_train.py", "--model", "dense", "--epochs", "2", "--n-examples", "256",
        "--jit-compile", "on", "--steps-per-execution", "2", "--input", "dataset",
        "--peak-size", "256", "--endless-loop", "off",
    )
    assert_positive(result, TRAIN_KEYS)
    assert result["model"] == "dense" and result["batch_size"] == 64
    assert result["endless_loop"] is False
    assert result["jit_compile"] is True and result["steps_per_execution"] == 2
    assert result["fused_adam"] is True  # train_vae's default
    assert len(result["tf_epoch_seconds"]) == 2
    if HAS_TORCH:
        assert_positive(result, TORCH_KEYS)


def test_bench_train_conv_mnist_without_torch():
    result = run_script(
        "bench_train.py", "--model", "conv-mnist", "--epochs", "2", "--n-examples", "256",
        "--batch-size", "128", "--jit-compile", "off", "--no-torch", "--peak-size", "256",
        "--fused-adam", "off", "--executor", "single-threaded",
    )
    assert_positive(result, TRAIN_KEYS)
    assert result["flops_per_example"] == 3 * result["forward_flops_per_example"]
    assert result["jit_compile"] is False
    assert result["fused_adam"] is False and result["endless_loop"] is True
    assert result["executor"] == "single-threaded"
    assert "torch_examples_per_second" not in result and result["peak_flops_torch"] is None


def test_bench_train_the_spatial_broadcast_network():
    result = run_script(
        "bench_train.py", "--model", "sbd", "--epochs", "2", "--n-examples", "96",
        "--peak-size", "256", "--torch-sbd-split",
    )
    assert_positive(result, TRAIN_KEYS)
    assert result["model"] == "sbd" and result["batch_size"] == 64 and result["steps_per_epoch"] == 2
    # MLP 4096→256→256→2×10; per pixel (64×64) 12→32→32→1
    forward = 2 * (4096 * 256 + 256 * 256 + 2 * 256 * 10 + 64 * 64 * (12 * 32 + 32 * 32 + 32))
    assert result["forward_flops_per_example"] == forward
    if HAS_TORCH:
        assert_positive(result, TORCH_KEYS)
        assert result["torch_sbd_split_first_layer"] is True


def test_bench_image_folder():
    result = run_script(
        "bench_image_folder.py", "--n-images", "300", "--first", "100", "--batch-size", "32",
    )
    assert result["n_images"] == 300 and result["generated"] is True
    assert_positive(result, ("rss_mb_after_first", "rss_mb_after_all", "peak_rss_mb",
                             "images_per_second", "folder_mb"))
    assert 0 <= result["mean_pixel"] <= 1


def test_forward_flops_of_the_mnist_preset():
    sys.path.insert(0, str(BENCHMARKS))
    from bench_train import forward_flops

    from betavae_tf.presets import build_conv_beta_vae

    # conv 1→32 and 32→64 (3×3, out 14² and 7²), dense 3136→256→2×32; decoder
    # dense 32→256→3136, transposed convs 64→32 and 32→1 (3×3, in 7² and 14²)
    expected = 2 * (9 * 1 * 32 * 14 * 14 + 9 * 32 * 64 * 7 * 7 + 3136 * 256 + 2 * 256 * 32
                    + 32 * 256 + 256 * 3136 + 9 * 64 * 32 * 7 * 7 + 9 * 32 * 1 * 14 * 14)
    assert forward_flops(build_conv_beta_vae("mnist")) == expected


@pytest.mark.parametrize("name", ["dense", "mnist", "dsprites"])
def test_torch_twin_computes_what_the_keras_model_computes(name):
    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(BENCHMARKS))
    import keras
    import torch_reference

    from betavae_tf import BetaVAE
    from betavae_tf.presets import build_conv_beta_vae, conv_preset

    rng = np.random.default_rng(0)
    if name == "dense":
        model = BetaVAE(input_dim=64, encoding_dim=16)
        twin = torch_reference.build_twin("dense")
    else:
        model = build_conv_beta_vae(name)
        twin = torch_reference.build_twin(name, conv_preset(name), exact_padding=True)
    for layer in model.encoder.layers + model.decoder.layers:  # non-trivial BN statistics
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32")
                               for w in layer.get_weights()])
    torch_reference.copy_keras_weights(model, twin)
    twin.eval()
    x = rng.random((3, *model.feature_shape), dtype=np.float32)
    z = rng.standard_normal((3, model.encoding_dim)).astype("float32")
    with torch.no_grad():
        z_mean, z_log_var = twin.encode(torch_reference.to_torch_layout(x))
        decoded = twin.decode(torch.from_numpy(z)).numpy()
    if decoded.ndim == 4:
        decoded = decoded.transpose(0, 2, 3, 1)
    keras_mean, keras_log_var = model.encoder(x, training=False)
    np.testing.assert_allclose(z_mean.numpy(), np.asarray(keras_mean), atol=1e-4)
    np.testing.assert_allclose(z_log_var.numpy(), np.asarray(keras_log_var), atol=1e-4)
    np.testing.assert_allclose(decoded, np.asarray(model.decoder(z, training=False)), atol=1e-4)
    n_keras = sum(int(np.prod(w.shape)) for w in model.encoder.weights + model.decoder.weights)
    n_torch = sum(p.numel() for p in twin.parameters()) + sum(
        b.numel() for b in twin.buffers() if b.dtype == torch.float32)
    assert n_keras == n_torch


@pytest.mark.parametrize("split_first_layer", [False, True])
def test_the_spatial_broadcast_twin_computes_the_keras_model_and_its_tcvae_loss(split_first_layer):
    """The sbd twin: same encoder and decoder outputs from the copied weights, and the
    same β-TCVAE (MSS) loss of a batch given the same reparameterisation noise."""
    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(BENCHMARKS))
    import bench_train
    import keras
    import torch_reference

    from betavae_tf.losses import kl_divergence
    from betavae_tf.objectives import Posterior

    n = 50
    model = bench_train.build_sbd_beta_vae(bench_train.parse_args(["--model", "sbd", "--no-torch"]), n)
    twin = torch_reference.build_twin(
        "sbd", dataset_size=n, alpha=model.alpha, gamma_dw=model.gamma_dw,
        split_first_layer=split_first_layer)
    torch_reference.copy_keras_weights(model, twin)
    rng = np.random.default_rng(0)
    x = (rng.random((5, 64, 64, 1)) > 0.8).astype("float32")
    z = rng.standard_normal((5, 10)).astype("float32")
    with torch.no_grad():
        z_mean, z_log_var = twin.encode(torch_reference.to_torch_layout(x))
        decoded = twin.decode(torch.from_numpy(z)).numpy().transpose(0, 2, 3, 1)
    keras_mean, keras_log_var = model.encoder(x)
    np.testing.assert_allclose(z_mean.numpy(), np.asarray(keras_mean), atol=1e-4)
    np.testing.assert_allclose(z_log_var.numpy(), np.asarray(keras_log_var), atol=1e-4)
    np.testing.assert_allclose(decoded, np.asarray(model.decoder(z)), atol=1e-4)
    n_keras = sum(int(np.prod(w.shape)) for w in model.encoder.weights + model.decoder.weights)
    assert n_keras == sum(p.numel() for p in twin.parameters())

    noise = rng.standard_normal((5, 10)).astype("float32")
    with torch.no_grad():
        total, reconstruction, kl = torch_reference.losses(
            twin, torch_reference.to_torch_layout(x), model.beta, noise=torch.from_numpy(noise))
    mean, log_var = (np.asarray(t) for t in model.encoder(x))
    sample = mean + np.exp(0.5 * log_var) * noise
    keras_reconstruction = keras.ops.mean(model.negative_log_likelihood(x, model.decoder(sample)))
    keras_kl = keras.ops.mean(kl_divergence(mean, log_var))
    terms = model.objective.regulariser(Posterior(sample, mean, log_var, keras_kl), model.beta_variable)
    np.testing.assert_allclose(float(reconstruction), float(keras_reconstruction), rtol=1e-5)
    np.testing.assert_allclose(float(kl), float(keras_kl), rtol=1e-5)
    np.testing.assert_allclose(float(total), float(keras_reconstruction + terms["regulariser"]),
                               rtol=1e-5)


def test_the_torch_mss_decomposition_is_the_library_one():
    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(BENCHMARKS))
    import torch_reference

    from betavae_tf.losses import tcvae_decomposition

    rng = np.random.default_rng(1)
    z, mean, log_var = (rng.standard_normal((7, 4)).astype("float32") for _ in range(3))
    expected = tcvae_decomposition(z, mean, log_var, 1000, estimator="mss")
    got = torch_reference.tcvae_mss_decomposition(
        *(torch.from_numpy(a) for a in (z, mean, log_var)), 1000)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g.numpy(), np.asarray(e), rtol=1e-5, atol=1e-5)


def test_mini_study_tables_show_the_last_study_and_compare_with_beta_1(tmp_path):
    """`mini_study.py --table` prints the guide's tables from the results file:
    only the last study's runs, and per setting whether its medians of MIG and
    the FactorVAE score are both above β-VAE β=1's."""
    spec = importlib.util.spec_from_file_location("mini_study", BENCHMARKS / "mini_study.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    machine = {"cpu": "x86_64", "cpu_count": 2, "python": "3.11"}

    def run(setting, seed, mig, score):
        return {"setting": setting, "seed": seed, "steps": 100, "mig": mig, "factor_vae_score": score,
                "jobs": 2, "threads_per_job": 1, "machine": machine}

    closing = {"udr_rank_correlations": {"udr_spearman": {"mig": 0.5}, "udr_lasso": {"mig": -0.25}},
               "wall_seconds": 600, "steps": 90, "machine": machine}
    old = [run("β-VAE β=1", 0, 0.987, 0.987), closing]
    new = [run("β-VAE β=1", 0, 0.1, 0.5), run("β-VAE β=1", 1, 0.3, 0.7),
           run("FactorVAE γ=20", 0, 0.4, 0.8), run("FactorVAE γ=20", 1, 0.6, 0.9),
           run("DIP-VAE-I", 0, 0.5, 0.1), run("DIP-VAE-I", 1, 0.5, 0.2), closing]
    results = tmp_path / "results.jsonl"
    results.write_text("".join(json.dumps(line) + "\n" for line in old + new))
    text = module.markdown_tables(str(results))
    assert text.startswith("6 runs, 90 steps asked (each run: 100 steps")
    assert "| β-VAE β=1 | 0.200 | 0.600 | — |" in text
    assert "| FactorVAE γ=20 | 0.500 | 0.850 | yes |" in text
    assert "| DIP-VAE-I | 0.500 | 0.150 | no |" in text
    assert "| udr_lasso | -0.25 |" in text and "0.987" not in text
