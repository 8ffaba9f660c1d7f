"""The `vis` command: `vis demo`, `vis saliency`, `vis cam`, `vis sanity`, `vis evaluate`,
`vis methods`.

One module per command (`demo`, `saliency` for both `vis saliency` and `vis cam`, `sanity`,
`evaluate`, `methods`), each with a `run(args)` doing the work; the arguments are defined in `_parser`.
Every method a command uses comes from the `vis.methods` registry: `--method` takes any
registered name or alias, and `vis --import MODULE ...` imports a module that registers more
(`vis methods` lists them all).

Errors a user can act on (a missing file, an image that cannot be decoded, an output path that
cannot be written, an unknown layer or method, a class out of range...) print one line
`vis: error: ...` and exit with status 2, without a traceback; a message from the library is
prefixed with the argument its value came from (`--method gradcam: ...`), never reworded. An
unexpected failure inside a method exits with status 1 and one line; `vis --traceback COMMAND
...` shows the full traceback.

Every file argument is checked before TensorFlow is imported, so mistakes are reported in a
fraction of a second, and `vis --help` is instant. TensorFlow's start-up banner is hidden (set
`VIS_VERBOSE_TF=1`, or use `--traceback`, to see it).

Example:
    >>> from vis.cli import main
    >>> main(["methods"])  # doctest: +SKIP
    0
"""

from vis.cli._errors import UsageError, clean_message
from vis.cli._main import main
from vis.cli._parser import build_parser
from vis.cli._paths import FILE_FORMATS

__all__ = ["main", "build_parser", "FILE_FORMATS", "UsageError", "clean_message"]
