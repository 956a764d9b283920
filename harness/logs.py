"""Where log lines go: the terminal keeps vrft's progress bar and summary, engines write to the run.

* `quiet_libraries`: the chatty third-party loggers (numexpr's thread count, one httpx line per HTTP
  request, urllib3, filelock) are raised to WARNING, unless ``vrft -v``.
* `engine_logs_to`: vLLM's log lines (in this process and in its engine-core processes, which read
  ``VLLM_LOGGING_CONFIG_PATH`` when they start) go to ``RUN_DIR/engine.log`` instead of stdout, unless
  ``vrft -v``. Stdout then stays machine-readable.

"Verbose" is read from the logging configuration itself (`vrft -v` sets DEBUG on the root logger), so no
flag has to travel through the call chain.
"""

from __future__ import annotations

import json
import logging
import logging.config
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ENGINE_LOG = "engine.log"
NOISY = ("numexpr", "numexpr.utils", "httpx", "httpcore", "urllib3", "filelock", "PIL")


def verbose() -> bool:
    return logging.getLogger().getEffectiveLevel() <= logging.DEBUG


def quiet_libraries() -> None:
    """Third-party INFO chatter off the terminal unless verbose."""
    if verbose():
        return
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)


def engine_logging_config(log_file: Path) -> dict[str, Any]:
    """A `logging.config.dictConfig` sending the ``vllm`` logger (INFO and up) to `log_file` only."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"engine": {"format": "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"}},
        "handlers": {
            "engine_file": {
                "class": "logging.FileHandler",
                "filename": str(log_file),
                "mode": "a",
                "encoding": "utf-8",
                "formatter": "engine",
                "level": "INFO",
            }
        },
        "loggers": {"vllm": {"handlers": ["engine_file"], "level": "INFO", "propagate": False}},
    }


@contextmanager
def engine_logs_to(run_dir: Path) -> Iterator[Path | None]:
    """While an engine starts: send vLLM's logs to ``RUN_DIR/engine.log`` (yielded), unless verbose (None).
    ``VLLM_LOGGING_CONFIG_PATH`` is set for the engine processes started inside the block (restored after
    it); the ``vllm`` logger of this process keeps writing to the file."""
    quiet_libraries()
    if verbose():
        yield None
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    log_file = (run_dir / ENGINE_LOG).resolve()
    config = engine_logging_config(log_file)
    config_path = run_dir / ".engine-logging.json"
    config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    saved = {k: os.environ.get(k) for k in ("VLLM_LOGGING_CONFIG_PATH", "VLLM_CONFIGURE_LOGGING")}
    os.environ["VLLM_LOGGING_CONFIG_PATH"] = str(config_path.resolve())
    os.environ["VLLM_CONFIGURE_LOGGING"] = "1"
    if "vllm" in sys.modules:
        logging.config.dictConfig(config)
    try:
        yield log_file
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
