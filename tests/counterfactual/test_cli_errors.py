"""Every failure the user can act on is one "error: ..." line naming the file, key or option,
with exit code 2 for bad input (counterfactual.errors); no tracebacks."""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest
import torch
from PIL import Image

from counterfactual import errors
from counterfactual.cli import main
from helpers import sweep_fakes as fakes
from helpers.paths import subprocess_pythonpath

pytestmark = pytest.mark.usefixtures("sweep_fakes")


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def _run(capsys, argv: list[str], code: int = errors.EXIT_BAD_INPUT) -> str:
    assert main(argv) == code
    return _one_error_line(capsys)


def _folder(path, n: int = 6, size: int = 8):
    path.mkdir()
    for i in range(n):
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (size, size, 3), np.uint8)).save(
            path / f"{i:02d}.png"
        )
    return path


def test_config_path_that_is_a_directory(tmp_path, capsys):
    line = _run(capsys, ["sweep", str(tmp_path), "--out", str(tmp_path / "run")])
    assert str(tmp_path) in line and "is a directory" in line


def test_config_that_is_not_utf8(tmp_path, capsys):
    cfg = tmp_path / "latin.toml"
    cfg.write_bytes(fakes.CONFIG.replace("fake sweep", "café").encode("latin-1"))
    line = _run(capsys, ["sweep", str(cfg), "--out", str(tmp_path / "run")])
    assert "latin.toml" in line and "UTF-8" in line


@pytest.mark.parametrize(
    "change,key",
    [
        (("count = 24", "count = 1e11"), "seeds"),
        (('scorers = ["bright", "red"]', 'scorers = ["bright", "nope"]'), "verification.scorers"),
        (('name = "fakeblur:top"', 'name = "fakeblur:top"\nid = ".."'), "interventions[1].id"),
    ],
)
def test_bad_config_values_are_one_line_naming_the_key(tmp_path, capsys, change, key):
    cfg = tmp_path / "sweep.toml"
    cfg.write_text(fakes.CONFIG.replace(*change))
    line = _run(capsys, ["sweep", str(cfg), "--out", str(tmp_path / "run"), "--no-progress"])
    assert f"'{key}'" in line and str(cfg) in line
    assert not (tmp_path / "run").exists()


def test_folder_generator_with_latent_edit_refused_before_running(tmp_path, capsys):
    folder = _folder(tmp_path / "imgs", n=24)
    cfg = tmp_path / "sweep.toml"
    cfg.write_text(fakes.CONFIG.replace('generator = "fake-gen"', f'generator = "folder:{folder}"'))
    line = _run(capsys, ["sweep", str(cfg), "--out", str(tmp_path / "run"), "--no-progress"])
    assert "'interventions'" in line and "fake_latent" in line and "sample folder" in line
    assert not (tmp_path / "run").exists()


def test_out_pointing_at_a_file(tmp_path, capsys):
    cfg = fakes.write_config(tmp_path / "sweep.toml")
    target = tmp_path / "taken.txt"
    target.write_text("not a run")
    line = _run(capsys, ["sweep", str(cfg), "--out", str(target), "--no-progress"])
    assert str(target) in line and "not a directory" in line
    line = _run(capsys, ["sweep", str(cfg), "--out", str(target / "sub"), "--no-progress"])
    assert str(target) in line
    assert target.read_text() == "not a run"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_device_without_cuda(tmp_path, capsys):
    cfg = fakes.write_config(tmp_path / "sweep.toml")
    line = _run(capsys, ["sweep", str(cfg), "--out", str(tmp_path / "run"), "--device", "cuda"])
    assert "--device cuda" in line and "CUDA is not available" in line
    line = _run(capsys, ["fd", "fake-gen", "fake-gen", "--space", "fake-a", "--device", "cuda:1"])
    assert "--device cuda:1" in line
    cfg.write_text(
        fakes.CONFIG.replace('name = "fake sweep"', 'name = "fake sweep"\ndevice = "cuda"')
    )
    line = _run(capsys, ["sweep", str(cfg), "--out", str(tmp_path / "run"), "--no-progress"])
    assert "key 'device'" in line and str(cfg) in line


@pytest.mark.parametrize(
    "extra,needle",
    [
        (["--seed-start", "-3"], "--seed-start -3"),
        (["--seed-start-b", "-1"], "--seed-start-b -1"),
        (["--n", "0"], "--n 0"),
        (["--n", "1"], "--n 1"),
        (["--batch-size", "0"], "--batch-size 0"),
    ],
)
def test_fd_bad_numbers(capsys, extra, needle):
    line = _run(
        capsys, ["fd", "fake-gen", "fake-gen", "--space", "fake-a", "--no-progress", *extra]
    )
    assert needle in line


def test_fd_skip_bad_and_min_size(tmp_path, capsys):
    a = _folder(tmp_path / "a")
    b = _folder(tmp_path / "b")
    (a / "03b.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    args = ["fd", str(a), str(b), "--space", "fake-a", "--no-progress", "--json"]
    line = _run(capsys, args)
    assert "03b.png" in line
    assert main(args + ["--skip-bad"]) == 0
    capsys.readouterr()
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(b / "00a.png")
    args = [
        "fd",
        str(b),
        str(b),
        "--seed-start-b",
        "3",
        "--space",
        "fake-a",
        "--no-progress",
        "--json",
    ]
    line = _run(capsys, args)
    assert "00a.png" in line and "min_size 8" in line
    assert main(args + ["--skip-bad"]) == 0
    capsys.readouterr()
    with pytest.warns(UserWarning, match="upscaled"):
        assert main(args + ["--min-size", "1"]) == 0


def test_message_names_the_file_of_an_oserror_or_the_context():
    full = OSError(errno.ENOSPC, "No space left on device")
    assert errors.message(full, "runs/x") == "No space left on device: runs/x"
    named = OSError(errno.ENOSPC, "No space left on device", "runs/x/sets/base/images.npy")
    assert errors.message(named, "runs/x") == "No space left on device: runs/x/sets/base/images.npy"
    assert errors.exit_code(full) == errors.EXIT_FAILURE
    assert errors.exit_code(errors.UserError("x")) == errors.EXIT_BAD_INPUT
    assert errors.exit_code(RuntimeError("bug")) is None


def test_a_warning_is_one_line_without_python_source(tmp_path):
    """What a user sees in a terminal (a fresh process: pytest records warnings itself)."""
    import subprocess
    import sys

    folder = _folder(tmp_path / "imgs", n=4)
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(folder / "small.png")
    code = (
        "import sys; import helpers.sweep_fakes as f; "
        "f.register(); from counterfactual.cli import main; "
        "sys.exit(main(['fd', sys.argv[1], sys.argv[1], '--seed-start-b', '1', "
        "'--space', 'fake-a', '--n', '3', '--min-size', '1', '--no-progress', '--json']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(folder)],
        env={**os.environ, "PYTHONPATH": subprocess_pythonpath()},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    warned = [line for line in done.stderr.splitlines() if "upscaled" in line]
    assert len(warned) == 1 and warned[0].startswith("warning: 1 of 5 images"), done.stderr
    assert "UpscaleWarning" not in done.stderr and "warnings.warn" not in done.stderr
    assert "FolderGenerator(" not in done.stderr and ".py:" not in done.stderr, done.stderr


@pytest.mark.parametrize(
    "make,needle",
    [
        (lambda p: p.mkdir(), "no images"),
        (lambda p: None, "sample folder not found"),
    ],
)
def test_empty_or_missing_folder_is_bad_input(tmp_path, capsys, make, needle):
    path = tmp_path / "imgs"
    make(path)
    line = _run(capsys, ["fd", f"folder:{path}", "fake-gen", "--space", "fake-a", "--no-progress"])
    assert needle in line and str(path) in line


def test_a_path_that_is_no_folder_says_how_to_name_one(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    line = _run(capsys, ["fd", str(missing), "fake-gen", "--space", "fake-a", "--no-progress"])
    assert f"unknown generator '{missing}'" in line and f"'folder:{missing}'" in line
    cfg = tmp_path / "sweep.toml"
    cfg.write_text(fakes.CONFIG.replace('generator = "fake-gen"', f'generator = "{missing}"'))
    line = _run(capsys, ["sweep", str(cfg), "--out", str(tmp_path / "run"), "--no-progress"])
    assert "key 'generator" in line and f"'folder:{missing}'" in line
    folder = _folder(tmp_path / "imgs")  # an existing folder needs no prefix in `fd`
    assert (
        main(
            [
                "fd",
                str(folder),
                "fake-gen",
                "--space",
                "fake-a",
                "--n",
                "4",
                "--no-progress",
                "--json",
            ]
        )
        == 0
    )
