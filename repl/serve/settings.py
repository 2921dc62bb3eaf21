"""The settings of `seq2seq-serve` in one table, LibreTranslate-style: each one's name, default,
type, help text and environment variable. The command-line options, their help, the environment
variables (`SEQ2SEQ_SERVE_<NAME>`, read when the option is not given) and the defaults of
`repl.serve.limits.Limits` are all made from it."""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from repl.console import UsageError, at_least

ENV_PREFIX = "SEQ2SEQ_SERVE_"


def number_in(low: float, high: float, unit: str = ""):
    """An argparse type: a number from `low` to `high`, refused at parse time with the range named."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, not {text!r}") from None
        if not (math.isfinite(value) and low <= value <= high):
            raise argparse.ArgumentTypeError(f"must be from {low:g} to {high:g}{unit}, not {text}")
        return value

    return parse


def port_number(text: str) -> int:
    value = at_least(0)(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be from 0 to 65535, not {value}")
    return value


def origins(text: str) -> list[str]:
    """--cors-origins: '*' or a comma-separated list of origins (scheme://host[:port])."""
    found = [o.strip().rstrip("/") for o in text.split(",") if o.strip()]
    for origin in found:
        if origin != "*" and (origin.count("://") != 1 or not origin.split("://")[1] or "/" in origin.split("://")[1]):
            raise argparse.ArgumentTypeError(f"{origin!r} is not an origin (like http://localhost:8080, or *)")
    if not found:
        raise argparse.ArgumentTypeError("give '*' or origins separated by commas")
    return found


def host_names(text: str) -> list[str]:
    """--allowed-hosts: '*' or names (or addresses) separated by commas."""
    found = [name.strip() for name in text.split(",") if name.strip()]
    if not found or any(any(c in name for c in "/ @") for name in found):
        raise argparse.ArgumentTypeError(f"give '*' or host names separated by commas, not {text!r}")
    return found


@dataclass(frozen=True)
class Setting:
    name: str  # the option without its dashes: --char-limit, $SEQ2SEQ_SERVE_CHAR_LIMIT, Limits.char_limit
    default: Any
    parse: Callable[[str], Any] | None  # text → value, refusing what is out of range (None: the text itself)
    help: str
    shown: str | None = None  # the default as the help text says it (else the default itself)
    group: str | None = None  # "limits": listed under "limits on clients"
    metavar: str | None = None

    @property
    def flag(self) -> str:
        return f"--{self.name}"

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper().replace("-", "_")

    def argparse_options(self) -> dict:
        shown = self.shown if self.shown is not None else f"{self.default:g}" if isinstance(self.default, float) else self.default
        options = dict(default=self.default, help=f"{self.help} (default: {shown}; ${self.env})")
        if self.parse is not None:
            options["type"] = self.parse
        if self.metavar:
            options["metavar"] = self.metavar
        return options


SECONDS = number_in(0.1, 3600, " s")
SETTINGS = (
    Setting("host", "127.0.0.1", None, "address to bind", "127.0.0.1, this machine only"),
    Setting("port", 5000, port_number, "port, 0–65535", "5000; 0 picks a free one"),
    Setting("model", None, None, "run folder: serve only it", "the shipped model of each direction, else the newest run"),
    Setting("api-keys", None, None, "require one of these keys (one a line) as api_key", "none", metavar="FILE"),
    Setting("char-limit", 5000, at_least(1), "most characters of q in one request"),
    Setting("batch-limit", 64, at_least(1), "most strings in a list q"),
    Setting("req-limit", 0, at_least(0), "requests a minute per client address", "0, no limit"),
    Setting("queue-size", 256, at_least(1), "requests waiting for the decoder before 503"),
    Setting("batch-window-ms", 5.0, number_in(0, 1000, " ms"), "how long the decoder waits to gather requests, 0–1000"),
    Setting("max-body-bytes", 1_000_000, at_least(1024), "largest request body; more is answered 413 before it is read", group="limits"),
    Setting("max-connections", 1000, at_least(1), "open connections at once; beyond it the oldest idle one is closed, else 503",
            "1000, fewer where the open-files limit is lower", group="limits"),
    Setting("header-timeout", 10.0, SECONDS, "seconds for a request's headers to arrive, else 408", group="limits"),
    Setting("body-timeout", 30.0, SECONDS, "seconds for a request's body to arrive, else 408", group="limits"),
    Setting("keep-alive", 5.0, SECONDS, "seconds an idle connection stays open", group="limits"),
    Setting("shutdown-timeout", 30.0, SECONDS, "seconds SIGTERM waits for requests in flight before it stops anyway", group="limits"),
    Setting("cors-origins", None, origins, "let pages of these origins call the API: '*' or a comma-separated list", "none",
            group="limits", metavar="ORIGINS"),
    Setting("allowed-hosts", [], host_names, "more names this server answers to in the Host header, comma-separated, or '*' for any",
            "localhost, 127.0.0.1, ::1 and the --host address", group="limits", metavar="NAMES"),
    Setting("file-lines", 10_000, at_least(1), "most lines (or texts between tags, or cues) of a file at /file", group="limits"),
    Setting("file-timeout", 300.0, number_in(1, 86400, " s"), "seconds a file at /file may take, reading to writing back; then 503 and the server goes on",
            group="limits"),
)
DEFAULTS = {s.name.replace("-", "_"): s.default for s in SETTINGS}


def from_environment(environ=os.environ) -> dict:
    """{dest: value} of the settings given as environment variables; a bad value is a UsageError
    naming the variable."""
    found = {}
    for setting in SETTINGS:
        text = environ.get(setting.env)
        if text is None:
            continue
        try:
            found[setting.name.replace("-", "_")] = setting.parse(text) if setting.parse else text
        except argparse.ArgumentTypeError as err:
            raise UsageError(f"${setting.env}: {err}") from None
    return found
