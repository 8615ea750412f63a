"""What the CLI and its subcommand modules (`rank.cli`, `report.cli`, ...) share, without a
subcommand importing the CLI itself: the CLI's error type and the device check."""

from __future__ import annotations

from counterfactual.errors import UserError


class CLIError(UserError):
    """A bad option: printed as one line naming it, exit code 2."""


def require_device(device: str | None, where: str) -> None:
    """CLIError naming `where` (an option or config key) when `device` is CUDA but absent."""
    if not device or not device.startswith("cuda"):
        return
    import torch

    if not torch.cuda.is_available():
        raise CLIError(
            f"{where} {device}: CUDA is not available on this machine "
            "(torch.cuda.is_available() is False); use cpu"
        )
    index = device.partition(":")[2]
    if index and int(index) >= torch.cuda.device_count():
        raise CLIError(f"{where} {device}: only {torch.cuda.device_count()} CUDA device(s) exist")
