"""Files of hub datasets, fetched as alpaca_eval fetches its own (``huggingface_hub.hf_hub_download``, dataset
repo, env ``DATASETS_TOKEN``): the HF cache first, and one line at once on an offline machine. Shared by the
families that read hub data (alpaca_eval's eval set and LC inputs, arena-hard-auto v2.0's questions)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from harness.types import HarnessError

ALPACA_EVAL_REPO = "tatsu-lab/alpaca_eval"


def _hub_reachable(timeout: float = 3.0) -> str | None:
    """None when the hub's host answers a TCP connect within ``timeout``, else why not (one short phrase)."""
    from urllib.parse import urlsplit

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set"
    url = urlsplit(constants.ENDPOINT)
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        return f"{host} unreachable: {exc.strerror or type(exc).__name__}"
    return None


def hub_file(filename: str, *, cache_dir: str | Path | None = None, repo: str = ALPACA_EVAL_REPO) -> Path:
    """One file of a hub dataset repo (default ``tatsu-lab/alpaca_eval``, as alpaca_eval downloads it): the HF cache first;
    otherwise downloaded, unless the hub cannot be reached (checked in at most 3 s, so that an offline machine
    gets one line at once instead of huggingface_hub's 25 s of retries)."""
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    cached = try_to_load_from_cache(repo, filename, cache_dir=cache_dir, repo_type="dataset")
    if isinstance(cached, str):
        return Path(cached)
    why = _hub_reachable()
    if why is not None:
        raise HarnessError(
            f"cannot fetch {filename} from the {repo} hub dataset ({why}); pass a local copy of {filename}"
        )
    try:
        return Path(
            hf_hub_download(
                repo_id=repo,
                filename=filename,
                repo_type="dataset",
                token=os.environ.get("DATASETS_TOKEN"),
                cache_dir=cache_dir,
            )
        )
    except Exception as exc:  # any hub failure (auth, missing file) is one user-facing error
        raise HarnessError(
            f"cannot fetch {filename} from the {repo} hub dataset ({type(exc).__name__}); "
            f"pass a local copy of {filename} instead"
        ) from exc
