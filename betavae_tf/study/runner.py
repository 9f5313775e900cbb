"""Runs a study: every run in its own process, `jobs` at a time, resumable.

`run_study(spec, output_dir)` holds a lock on `output_dir` (one study per
folder), writes `study.json`, and starts `python -m betavae_tf.study.run` for
every run that has no finished record, at most `jobs` at once, each with
`threads_per_job` TensorFlow threads. A failed run is recorded with its
error and the others go on. A study that is killed and started again skips
the finished runs and redoes the others (a run whose runner died stops
itself). Then `report.write_report` aggregates everything.

Layout of `output_dir`: `study.json`, `runs/<run name>/` (run.json,
model.keras, udr.npz, record.json, log.txt), `results.csv`, `summary.md`,
the figures and `report.html`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable

from betavae_tf.atomic import write_json
from betavae_tf.run_lock import folder_lock
from betavae_tf.study.run import RECORD, SPEC, read_record
from betavae_tf.study.spec import StudySpec

STUDY_FILE = "study.json"


MAX_DEFAULT_JOBS = 8  # each run holds a TensorFlow process (~0.8 GB at the default counts)


def default_jobs() -> int:
    """Parallel runs when none is asked for: one per CPU (at most `MAX_DEFAULT_JOBS`),
    each with one thread. On the 2-core benchmark machine a study with 2 jobs took
    0.63× the time of 1 job with 2 threads (docs/speed.md, "Runs that share a machine")."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_JOBS))


def _threads(jobs: int, threads_per_job: int | None) -> int:
    if threads_per_job is not None:
        return threads_per_job
    return max(1, (os.cpu_count() or 1) // jobs)


def _check_folder(spec: StudySpec, output_dir: str) -> None:
    path = os.path.join(output_dir, STUDY_FILE)
    if os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as handle:
                saved = json.load(handle)
        except (OSError, ValueError):
            saved = None
        if saved != spec.to_dict():
            raise ValueError(
                f"{output_dir!r} holds another study ({path} differs from this one); "
                "pass a new output folder, or the same study to resume it."
            )
    else:
        write_json(path, spec.to_dict())


def run_study(
    spec: StudySpec,
    output_dir: str | os.PathLike,
    jobs: int | None = None,
    threads_per_job: int | None = None,
    log: Callable[[str], None] = print,
    poll_seconds: float = 0.5,
) -> list[dict]:
    """Runs (or resumes) the study in `output_dir` and writes its report.

    Args:
        spec: the `StudySpec` (see `betavae_tf.study.spec`).
        output_dir: the study's folder (created if missing).
        jobs: runs at once, >= 1. Defaults to `default_jobs()`.
        threads_per_job: TensorFlow intra-op threads of each run. Defaults
            to the CPU count divided by `jobs` (at least 1).
        log: where progress lines go. Defaults to `print`.
        poll_seconds: how often progress is read.

    Returns:
        Every run's record (finished or failed).
    """
    from betavae_tf.study.report import write_report

    output_dir = os.path.abspath(os.fspath(output_dir))
    jobs = jobs or default_jobs()
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1. Received: jobs={jobs!r}")
    threads = _threads(jobs, threads_per_job)
    os.makedirs(output_dir, exist_ok=True)
    with folder_lock(output_dir, "study folder"):
        _check_folder(spec, output_dir)
        runs = spec.runs()
        todo = []
        for run in runs:
            run_dir = os.path.join(output_dir, "runs", run.name)
            _wait_for_earlier_process(run_dir, log)
            record = read_record(run_dir)
            if record is not None and record["status"] == "finished":
                continue
            os.makedirs(run_dir, exist_ok=True)
            if os.path.exists(os.path.join(run_dir, RECORD)):
                os.remove(os.path.join(run_dir, RECORD))  # failed before: run it again
            write_json(os.path.join(run_dir, SPEC), {
                "study": spec.to_dict(), "run": _run_dict(run), "threads": threads,
            })
            todo.append((run, run_dir))
        done = len(runs) - len(todo)
        log(f"Study in {output_dir}: {len(runs)} runs, {done} already finished, {len(todo)} to run "
            f"({jobs} at a time, {threads} thread{'s' * (threads > 1)} each).")
        _run_all(todo, jobs, threads, len(runs), done, log, poll_seconds)
        records = [read_record(os.path.join(output_dir, "runs", run.name)) for run in runs]
        records = [r for r in records if r is not None]
        failed = [r for r in records if r["status"] == "failed"]
        log(f"{len(records) - len(failed)} of {len(runs)} runs finished, {len(failed)} failed.")
        files = write_report(output_dir, spec)
        for name, path in files.items():
            log(f"Wrote {name}: {path}")
        return records


def _wait_for_earlier_process(run_dir: str, log) -> None:
    """Waits while a run of a killed earlier study still works in `run_dir`
    (it stops at its next epoch, or writes its record)."""
    from betavae_tf.run_lock import FolderInUseError

    if not os.path.isdir(run_dir):
        return
    told = False
    while True:
        try:
            with folder_lock(run_dir, "run folder"):
                return
        except FolderInUseError:
            if not told:
                log(f"Waiting for an earlier process still working in {run_dir} ...")
                told = True
            time.sleep(0.5)


def _run_dict(run) -> dict:
    return {"setting": run.setting, "objective": run.objective, "beta": run.beta,
            "arguments": dict(run.arguments), "seed": run.seed}


class _Running:
    def __init__(self, run, run_dir: str, threads: int):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
               "OMP_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"}
        self.run, self.run_dir = run, run_dir
        self.log_file = open(os.path.join(run_dir, "log.txt"), "w", encoding="utf-8")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "betavae_tf.study.run", run_dir], stdout=subprocess.PIPE,
            stderr=self.log_file, env=env, text=True, bufsize=1,
        )
        os.set_blocking(self.process.stdout.fileno(), False)
        self.state = "starting"
        self.started = time.time()

    def read(self) -> list[dict]:
        events = []
        while True:
            try:
                line = self.process.stdout.readline()
            except (OSError, ValueError):
                break
            if not line:
                break
            try:
                event = json.loads(line)
            except ValueError:
                event = None
            if isinstance(event, dict):
                events.append(event)
            else:  # anything else the run printed goes to its log
                self.log_file.write(line)
        return events

    def close(self) -> None:
        self.process.stdout.close()
        self.log_file.close()


def _run_all(todo, jobs: int, threads: int, total: int, done: int, log, poll_seconds: float) -> None:
    waiting, running = list(todo), []
    try:
        while waiting or running:
            while waiting and len(running) < jobs:
                run, run_dir = waiting.pop(0)
                running.append(_Running(run, run_dir, threads))
                log(f"Starting {run.setting} seed={run.seed} ({done + len(running)} of {total} "
                    "started or done)")
            time.sleep(poll_seconds)
            for job in list(running):
                for event in job.read():
                    if event.get("event") == "progress":
                        log(f"  {job.run.setting} seed={job.run.seed}: step {event['step']} of "
                            f"{event['steps']} (loss {event['loss']:.3g})")
                    elif event.get("event") == "evaluating":
                        log(f"  {job.run.setting} seed={job.run.seed}: evaluating the metrics")
                if job.process.poll() is None:
                    continue
                job.read()
                job.close()
                running.remove(job)
                done += 1
                record = read_record(job.run_dir)
                if record is None:  # it died without a word (killed, out of memory, ...)
                    write_json(os.path.join(job.run_dir, RECORD), {
                        "status": "failed", "name": os.path.basename(job.run_dir),
                        **_run_dict(job.run),
                        "error": f"the run's process ended with code {job.process.returncode} "
                                 f"(see {os.path.join(job.run_dir, 'log.txt')})",
                    })
                    record = read_record(job.run_dir)
                what = "finished" if record["status"] == "finished" else f"FAILED: {record['error']}"
                log(f"[{done}/{total}] {job.run.setting} seed={job.run.seed} {what} "
                    f"({time.time() - job.started:.0f} s); {total - done} to go")
    finally:
        for job in running:  # interrupted: stop the runs, they stay unfinished
            job.process.terminate()
        for job in running:
            try:
                job.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                job.process.kill()
            job.close()
