"""`betavae-tf study`: the study format, and a tiny study run end to end with a
kill and a resume and a run that fails without stopping the others."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from betavae_tf.study import check_spec, load_spec

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}


@pytest.mark.parametrize("raw, message", [
    ({"models": [{"objective": "beta"}], "stepz": 3}, "key 'stepz': is not a study key"),
    ({"models": [{"objective": "beta"}], "dataset": "cifar"}, "key 'dataset': must be a data source"),
    ({"models": [{"objective": "beta"}], "dataset": "digits"}, "'digits' has no ground-truth factors"),
    ({"models": [{"objective": "vanilla"}]}, "models[0] objective: 'vanilla' is not one of"),
    ({"models": [{"objective": "beta", "gamma": 3}]},
     "models[0] key 'gamma': is not an argument of the 'beta' objective"),
    ({"models": [{"objective": "capacity", "gamma": [1, -2]}]}, "models[0] key 'gamma': must be >= 0"),
    ({"models": [{"objective": "factor", "discriminator_learning_rate": 0}]},
     "models[0] key 'discriminator_learning_rate': must be > 0"),
    ({"models": [{"objective": "tcvae", "estimator": "mcmc"}]},
     "models[0] key 'estimator': must be one of ['mws', 'mss'], not 'mcmc'"),
    ({"models": [{"objective": "beta"}], "seeds": [1, 1]}, "key 'seeds': lists a seed twice"),
    ({"models": [{"objective": "beta"}], "steps": 0}, "key 'steps': must be >= 1"),
    ({"models": []}, "key 'models': must list at least one model"),
    ({"dataset": "dsprites"}, "needs 'models'"),
])
def test_a_bad_study_is_refused_naming_the_key(raw, message):
    with pytest.raises(ValueError) as error:
        check_spec(raw)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_study_is_a_grid_of_models_hyper_parameters_and_seeds(tmp_path):
    path = tmp_path / "study.toml"
    path.write_text('dataset = "dsprites"\nsteps = 100\nseeds = [0, 1, 2]\n\n'
                    '[[models]]\nobjective = "beta"\nbeta = [1, 4]\n\n'
                    '[[models]]\nobjective = "capacity"\ngamma = [10, 100]\ncapacity_max = 5\n')
    spec = load_spec(path)
    runs = spec.runs()
    assert len(runs) == (2 + 2) * 3
    assert [r.setting for r in runs[::3]] == ["β-VAE β=1", "β-VAE β=4", "AnnealedVAE capacity_max=5 gamma=10",
                                               "AnnealedVAE capacity_max=5 gamma=100"]
    assert runs[-1].arguments == {"capacity_max": 5, "gamma": 100} and runs[-1].seed == 2
    assert len({r.name for r in runs}) == len(runs)
    (tmp_path / "bad.toml").write_text("steps = [\n")
    with pytest.raises(ValueError, match="Could not read the study file"):
        load_spec(tmp_path / "bad.toml")


def _records(folder):
    runs = folder / "runs"
    if not runs.is_dir():
        return {}
    return {name: json.loads((runs / name / "record.json").read_text())
            for name in sorted(os.listdir(runs)) if (runs / name / "record.json").exists()}


def test_a_tiny_study_runs_resumes_after_a_kill_and_reports(tmp_path):
    config = tmp_path / "study.json"
    config.write_text(json.dumps({
        "dataset": "synthetic", "steps": 16, "seeds": [0, 1], "batch_size": 32, "n_samples": 256,
        "encoding_dim": 3, "eval_scale": 0.02, "udr_points": 100,
        # beta = 1e38 overflows the loss: those runs fail, the others go on
        "models": [{"objective": "beta", "beta": [1, 1e38]}, {"objective": "tcvae", "beta": 2}],
    }))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "betavae_tf", "study", str(config), "--output-dir", str(out)]
    first = subprocess.Popen(command + ["--jobs", "1"], env=ENV, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 240
    while time.time() < deadline and first.poll() is None and not _records(out):
        time.sleep(0.2)
    assert first.poll() is None, first.stdout.read()[-3000:]
    first.send_signal(signal.SIGKILL)
    first.wait()
    before = _records(out)
    assert 1 <= len(before) < 6

    second = subprocess.run(command + ["--jobs", "2"], env=ENV, capture_output=True, text=True,
                            timeout=600)
    assert second.returncode == 1, second.stdout[-3000:] + second.stderr[-3000:]  # some runs failed
    assert f"{len(before)} already finished" in second.stdout or "already finished" in second.stdout
    after = _records(out)
    assert len(after) == 6
    for name, record in before.items():  # finished runs were not run again
        if record["status"] == "finished":
            assert after[name] == record
    failed = {n for n, r in after.items() if r["status"] == "failed"}
    assert failed == {n for n, r in after.items() if r["beta"] > 1e30}
    assert all("Training diverged" in after[n]["error"] for n in failed)
    finished = [r for r in after.values() if r["status"] == "finished"]
    assert len(finished) == 4 and all(0 <= r["mig"] <= 1 and r["steps"] >= 16 for r in finished)

    rows = (out / "results.csv").read_text().strip().splitlines()
    assert len(rows) == 7 and rows[0].startswith("name,setting,objective")
    udr = {line.split(",")[0]: line.split(",")[-3] for line in rows[1:]}
    assert all(udr[r["name"]] for r in finished)  # each finished setting has two seeds: a UDR score
    summary = (out / "summary.md").read_text()
    assert "| β-VAE β=1 | 2/2 |" in summary and "| β-VAE β=1e+38 | 0/2 |" in summary
    assert "How well UDR ranks the models" in summary

    page = (out / "report.html").read_text()
    for name in after:
        assert name in page
    assert page.count('src="data:image/png;base64,') >= 3
    for outside in ("http://", "https://", "<script", "<link", "src=\"/", "src='"):
        assert outside not in page
    assert "Failed runs" in page and "Training diverged" in page


def test_udr_of_a_study_skips_a_run_whose_udr_file_is_damaged(tmp_path):
    """Review: one missing or damaged `udr.npz` made the whole report fail;
    that run now has no UDR score and the other seeds of its setting keep
    theirs (three seeds: two identical codes, one damaged file)."""
    from betavae_tf.study.report import add_udr

    rng = np.random.default_rng(0)
    z = rng.normal(size=(200, 3))
    records = []
    for seed in range(3):
        folder = tmp_path / "runs" / f"beta__seed={seed}"
        folder.mkdir(parents=True)
        if seed == 2:
            (folder / "udr.npz").write_bytes(b"PK\x03\x04 not really a zip")
        else:  # the same code, its latents permuted and one sign flipped
            codes = z[:, [2, 0, 1]] * [1, -1, 1] if seed else z
            np.savez(folder / "udr.npz", z_mean=codes, kl=np.ones(3))
        records.append({"name": folder.name, "setting": "beta", "status": "finished"})
    add_udr(str(tmp_path), records)
    from betavae_tf.metrics.udr import compute_udr

    expected = compute_udr([z, z[:, [2, 0, 1]] * [1, -1, 1]], [np.ones(3)] * 2).model_scores
    assert [r["udr_spearman"] for r in records[:2]] == pytest.approx(list(expected))
    assert records[0]["udr_spearman"] > 0.85
    assert np.isnan(records[2]["udr_spearman"]) and np.isnan(records[2]["udr_lasso"])


def test_a_bad_key_given_on_the_command_line_is_named_as_written(tmp_path, capsys):
    """Fresh-clone try: `betavae-tf study --objectives factor:gama=3` listed the
    objective's keys as train flags ('--discriminator-layers'), which are not
    how a study names them."""
    from betavae_tf.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["study", "--objectives", "factor:gama=3", "--output-dir", str(tmp_path)])
    line = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and "\n" not in line
    assert "key 'gama': is not an argument of the 'factor' objective" in line
    assert "'discriminator_layers'" in line and "--discriminator" not in line


@pytest.mark.parametrize("cpus, jobs", [(2, 2), (32, 8), (None, 1)])
def test_a_study_runs_one_job_per_cpu_by_default_at_most_eight(monkeypatch, cpus, jobs):
    from betavae_tf.study import runner

    monkeypatch.setattr(runner.os, "cpu_count", lambda: cpus)
    assert runner.default_jobs() == jobs
