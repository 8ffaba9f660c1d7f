"""How the `vis` command reports problems: `UsageError`, clean one-line messages, warnings.

Also the quiet TensorFlow import: TensorFlow's start-up banner never reaches the user.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["UsageError", "ArgumentError", "clean_message", "user_input", "fail",
           "report_warnings", "import_tensorflow"]


class UsageError(Exception):
    """A problem with the user's arguments or files: reported in one line, exit status 2.

    Example:
        >>> raise UsageError("--class 12 is out of range")  # doctest: +SKIP
    """


class ArgumentError(UsageError):
    """A bad argument value found after parsing (e.g. an unknown `--method`).

    Reported like argparse's own errors: the command's usage line, then `vis: error: ...`.

    Args:
        message: The error message.
        parser: The (sub)parser whose usage line is printed. Defaults to `None` (no usage).

    Example:
        >>> raise ArgumentError("--method: unknown", args.parser)  # doctest: +SKIP
    """

    def __init__(self, message: str, parser: argparse.ArgumentParser | None = None):
        super().__init__(message)
        self.parser = parser


def user_input(fn: Callable[..., Any], *args, option: str | None = None,
               params: Mapping[str, str] | None = None, **kwargs) -> Any:
    """Calls `fn`, reporting its `ValueError`/`TypeError`/`FileNotFoundError` as a `UsageError`.

    The library's message is kept as it is (only TensorFlow's traceback wrapper is removed by
    `clean_message`), prefixed with the command-line argument the value came from. Library
    messages name the parameter they are about in backticks (`` `layer`: ... ``); when that
    parameter's value came from a command-line option (`params`), the option is added to the
    prefix.

    Args:
        fn: The library function.
        *args: Its positional arguments.
        option: The argument the failing call is about, e.g. `"--class"`, `"IMAGE"` or
            `"--method gradcam"`. Defaults to `None` (no prefix: the message names its file).
        params: `fn`'s parameters that command-line options give, e.g. `{"layer":
            "--penultimate-layer"}`. Defaults to `None`.
        **kwargs: Its keyword arguments.

    Returns:
        What `fn` returns.

    Raises:
        UsageError: `option[, --the-option-of-the-named-parameter]: <library message>`.

    Example:
        >>> user_input(io.read_image, "bad.png", option="IMAGE")  # doctest: +SKIP
        UsageError: IMAGE: Cannot decode 'bad.png' ...
    """
    try:
        return fn(*args, **kwargs)
    except (ValueError, TypeError, FileNotFoundError) as err:
        message = clean_message(str(err))
        named = [params[p] for p in re.findall(r"`(\w+)`", message) if p in (params or {})]
        prefix = ", ".join(dict.fromkeys([o for o in (option, *named[:1]) if o]))
        raise UsageError(f"{prefix}: {message}" if prefix else message) from None


_ERROR_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*(?:Error|Exception)): (.*)$")


def clean_message(message: str) -> str:
    """The user-facing part of an error message, without TensorFlow's traceback wrapper.

    Errors raised inside a `tf.function` come back as `in user code: File "...", line ...
    ValueError: <message>`; only the last `...Error: <message>` is kept (with the exception
    name dropped). Other messages are returned unchanged, whitespace collapsed to one line.

    Args:
        message: An exception's text.

    Returns:
        One line of text.

    Example:
        >>> clean_message('in user code:\\n  File "x.py", line 3\\n  ValueError: Bad layer.')
        'Bad layer.'
    """
    text = str(message)
    if "in user code:" in text or "Traceback (most recent call last)" in text:
        lines = text.splitlines()
        for i in range(len(lines) - 1, -1, -1):
            match = _ERROR_LINE.match(lines[i])
            if match:
                text = "\n".join([match.group(2), *lines[i + 1:]])
                break
    # Keras' wrapper: "Exception encountered when calling X.call().\n\n<message>\n\n
    # Arguments received by X.call(): ..."
    wrapped = re.search(r"Exception encountered when calling [^\n]*\n\s*\n(.*?)"
                        r"(?:\n\s*\nArguments received by .*)?$", text, flags=re.S)
    if wrapped:
        text = wrapped.group(1)
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # terminal colours
    return " ".join(text.split())


def fail(message: str, status: int, parser: argparse.ArgumentParser | None = None) -> int:
    """Prints `vis: error: <message>` (after the usage line of `parser`, if any).

    Args:
        message: The error message (cleaned to one line).
        status: The exit status to return.
        parser: A parser whose usage line comes first. Defaults to `None`.

    Returns:
        `status`.
    """
    if parser is not None:
        parser.print_usage(sys.stderr)
    print(f"vis: error: {clean_message(message)}", file=sys.stderr)
    return status


def report_warnings(caught) -> None:
    """Prints each distinct warning raised from inside vis as one `vis: warning: ...` line.

    Args:
        caught: The warnings recorded by `warnings.catch_warnings(record=True)`.
    """
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    seen = set()
    for w in caught:
        if not os.path.abspath(w.filename).startswith(package):
            continue
        text = clean_message(str(w.message))
        if text not in seen:
            seen.add(text)
            print(f"vis: warning: {text}", file=sys.stderr)


def import_tensorflow(args: argparse.Namespace) -> None:
    """Imports TensorFlow and Keras, hiding TensorFlow's start-up banner on stderr.

    The absl/oneDNN lines are written by C++ straight to file descriptor 2, before
    `TF_CPP_MIN_LOG_LEVEL` is honoured; fd 2 is pointed at /dev/null during the import only.
    Kept visible with `--traceback` or `VIS_VERBOSE_TF=1`.

    Args:
        args: The parsed arguments (for `--traceback`).

    Raises:
        UsageError: If TensorFlow or Keras cannot be imported.
    """
    if sys.modules.get("tensorflow") is not None:
        return
    quiet = not getattr(args, "traceback", False) and os.environ.get("VIS_VERBOSE_TF") != "1"
    saved = devnull = None
    if quiet:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
        except (OSError, AttributeError, ValueError):
            saved = None
    try:
        import keras

        if keras.backend.backend() == "tensorflow":  # JAX / PyTorch backends: no TensorFlow
            import tensorflow  # noqa: F401
    except ImportError as err:
        raise UsageError(
            f"TensorFlow / Keras cannot be imported ({err}); install TensorFlow >= 2.16, e.g. "
            "`pip install tensorflow-cpu` (see the README's install section)"
        ) from None
    finally:
        if saved is not None:
            os.dup2(saved, 2)
            os.close(saved)
        if devnull is not None:
            os.close(devnull)
