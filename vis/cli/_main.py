"""`main`: parse the arguments, run the command, report errors in one line."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence

from vis.cli._errors import ArgumentError, UsageError, clean_message, fail, report_warnings
from vis.cli._parser import build_parser

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the `vis` command line.

    Args:
        argv: The arguments (without the program name). Defaults to `None` (`sys.argv[1:]`).

    Returns:
        The exit status: 0 on success, 2 for a usage or input error, 1 for an unexpected error.

    Raises:
        SystemExit: For `--help`, `--version` and argument syntax errors (status 0 or 2), as
            argparse does.

    Example:
        >>> main(["demo", "--fast", "--out", "demo_out"])  # doctest: +SKIP
        0
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("MPLBACKEND", "Agg")
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            status = args.run(args)
        report_warnings(caught)
        return status
    except ArgumentError as err:
        return fail(str(err), 2, err.parser)
    except UsageError as err:
        return fail(str(err), 2)
    except FileNotFoundError as err:
        return fail(str(err), 2)
    except KeyboardInterrupt:
        return fail("interrupted", 130)
    except Exception as err:
        if args.traceback:
            raise
        from vis.errors import backend_error

        # TensorFlow's own text ("Graph execution error", ...); an error vis already translated
        # (with the model's layer names) is kept as it is
        translated = err if hasattr(err, "backend_exception") else backend_error(err)
        message = (str(translated) if translated is not None
                   else f"{type(err).__name__}: {clean_message(str(err))}")
        return fail(f"{message} (run `vis --traceback ...` for details)", 1)


if __name__ == "__main__":
    sys.exit(main())
