"""``--config FILE.yaml`` for `vrft eval` and `vrft train`: every flag as a key, the command line on top.

A config file is a YAML mapping whose keys are the command's long options (``data_root`` or ``data-root``;
``task_arg`` / ``model_arg`` as a list of ``KEY=VALUE`` strings or a mapping). It is turned into flags placed
before the command line's own, so argparse checks types, choices and required options exactly as for typed
flags, and a flag given on the command line wins (repeatable flags such as ``--task-arg`` add to the file's).
An unknown key is an error naming the key, the file and the accepted keys.

`resolved_config` is the other direction: the parsed options as such a mapping, written into a run directory
(``config.yaml``) so that ``vrft eval --config RUN_DIR/config.yaml`` repeats the run.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

CONFIG_FLAG = "--config"
_NOT_KEYS = {"help", "config", "func", "verbose", "version"}


def add_config_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        CONFIG_FLAG,
        metavar="FILE.yaml",
        help="options from a YAML file (keys: the long flags, e.g. model, tasks, data_root, task_arg); flags "
        "given on the command line override it",
    )


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """dest -> action, for the parser's long options that a file may set."""
    return {
        a.dest: a
        for a in parser._actions
        if a.option_strings and a.dest not in _NOT_KEYS and any(s.startswith("--") for s in a.option_strings)
    }


def _flag(action: argparse.Action) -> str:
    return next(s for s in action.option_strings if s.startswith("--"))


def _item(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The YAML mapping of a config file; a clear error for a missing, unparsable or non-mapping file."""
    path = Path(path)
    try:
        body = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ValueError(f"--config {path}: cannot read it ({err.strerror or type(err).__name__})") from None
    except yaml.YAMLError as err:
        raise ValueError(f"--config {path}: not valid YAML ({' '.join(str(err).split())})") from None
    if body is None:
        return {}
    if not isinstance(body, dict) or not all(isinstance(k, str) for k in body):
        raise ValueError(f"--config {path}: expected a mapping of option names to values, e.g. 'model: ckpt/'")
    return body


def config_to_flags(parser: argparse.ArgumentParser, config: Mapping[str, Any], source: str) -> list[str]:
    """The command-line flags that say what `config` says (see the module docstring)."""
    options = _options(parser)
    flags: list[str] = []
    for key, value in config.items():
        dest = key.strip().lstrip("-").replace("-", "_")
        action = options.get(dest)
        if action is None:
            accepted = ", ".join(sorted(options))
            raise ValueError(f"{source}: unknown key {key!r}; accepted keys: {accepted}")
        flags += _action_flags(action, value, f"{source}: {key}")
    return flags


def _action_flags(action: argparse.Action, value: Any, where: str) -> list[str]:
    flag = _flag(action)
    if value is None:
        return []
    if isinstance(action, argparse.BooleanOptionalAction):
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true or false, got {value!r}")
        return [flag if value else "--no-" + flag[2:]]
    if action.nargs == 0:  # store_true / store_false
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true or false, got {value!r}")
        return [flag] if value != action.default else []
    if isinstance(action, argparse._AppendAction):
        if isinstance(value, Mapping):
            items = [f"{k}={_item(v)}" for k, v in value.items()]
        else:
            items = [_item(v) for v in (value if isinstance(value, list) else [value])]
        return [f"{flag}={v}" for v in items]
    if action.nargs in ("+", "*"):
        values = value if isinstance(value, list) else [value]
        return [flag, *(_item(v) for v in values)] if values else []
    if isinstance(value, (list, dict)):
        raise ValueError(f"{where}: expected one value, got {value!r}")
    return [f"{flag}={_item(value)}"]


def with_config_file(parser: argparse.ArgumentParser, argv: Sequence[str], at: int = 0) -> list[str]:
    """`argv` with the flags of its ``--config FILE`` (if any, after position `at`) inserted at `at`, so that
    the command line's own flags come later and win."""
    argv = list(argv)
    path = None
    for i, token in enumerate(argv[at:], at):
        if token == CONFIG_FLAG and i + 1 < len(argv):
            path = argv[i + 1]
        elif token.startswith(CONFIG_FLAG + "="):
            path = token.split("=", 1)[1]
    if path is None:
        return argv
    flags = config_to_flags(parser, read_config_file(path), path)
    return argv[:at] + flags + argv[at:]


def resolved_config(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, Any]:
    """The parsed options as a config file mapping (options at None or off are left out)."""
    out: dict[str, Any] = {}
    for dest, action in _options(parser).items():
        value = getattr(args, dest, None)
        if value is None or value == [] or (action.nargs == 0 and value == action.default):
            continue
        out[dest] = str(value) if isinstance(value, Path) else value
    return out


def dump_config(config: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True)
