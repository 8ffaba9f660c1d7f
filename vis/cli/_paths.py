"""Output paths: checked before any work is done, and never one of the input files."""

from __future__ import annotations

import os
from collections.abc import Sequence

from vis.cli._errors import UsageError

__all__ = ["FILE_FORMATS", "check_out_dir", "check_out_file", "check_no_overwrite",
           "check_out", "output_paths"]

FILE_FORMATS = (".png", ".jpg", ".jpeg", ".pdf", ".svg")
"""Extensions that make `--out` of `vis saliency` / `vis cam` a file (one image only)."""

# Extensions of files that `--out` cannot write: refused instead of becoming a folder name.
_NOT_WRITABLE = (".gif", ".bmp", ".tif", ".tiff", ".webp", ".eps", ".ps", ".npy", ".npz",
                 ".keras", ".h5", ".txt", ".md", ".html")
DEFAULT_FOLDER = "vis_out"


def _existing_ancestor(path: str) -> str:
    p = os.path.abspath(path)
    while not os.path.lexists(p):
        parent = os.path.dirname(p)
        if parent == p:
            break
        p = parent
    return p


def _check_creatable(folder: str, path: str, option: str) -> None:
    """`folder` exists as a writable folder or can be created."""
    ancestor = _existing_ancestor(folder)
    if not os.path.isdir(ancestor):
        raise UsageError(
            f"{option} {path!r} cannot be written: {ancestor!r} is a file, not a folder"
        )
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UsageError(
            f"{option} {path!r} cannot be written: no write permission in {ancestor!r}"
        )


def check_out_dir(path: str, option: str = "--out") -> None:
    """An output folder: an existing folder, or one that can be created.

    Args:
        path: The folder.
        option: The option it came from. Defaults to `"--out"`.

    Raises:
        UsageError: If it is a file, lies under a file or cannot be written.
    """
    if os.path.lexists(path) and not os.path.isdir(path):
        raise UsageError(
            f"{option} {path!r} is an existing file, not a folder; give a folder name (it is "
            "created if needed)"
        )
    _check_creatable(path, path, option)


def check_out_file(path: str, option: str = "--out") -> None:
    """An output file: not a folder, in a folder that exists or can be created.

    Args:
        path: The file.
        option: The option it came from. Defaults to `"--out"`.

    Raises:
        UsageError: If it is a folder, or its folder cannot be created or written.
    """
    if os.path.isdir(path):
        raise UsageError(f"{option} {path!r} is an existing folder, not a file")
    _check_creatable(os.path.dirname(os.path.abspath(path)), path, option)


def check_no_overwrite(outputs: Sequence[str], inputs: Sequence[str]) -> None:
    """Refuses an output path that is one of the input files (same path, link or hard link).

    Args:
        outputs: The files a command will write.
        inputs: The files it reads.

    Raises:
        UsageError: Naming the output and the input it would overwrite.
    """

    def key(p: str) -> str:
        return os.path.normcase(os.path.realpath(p))

    by_key = {key(p): p for p in inputs}
    for out in outputs:
        hit = by_key.get(key(out))
        if hit is None and os.path.exists(out):
            hit = next((p for p in inputs if os.path.exists(p) and os.path.samefile(out, p)),
                       None)
        if hit is not None:
            raise UsageError(
                f"--out: writing {out!r} would overwrite the input file {hit!r}; choose another "
                "--out"
            )


def check_out(images: Sequence[str], out: str | None) -> str | None:
    """Checks `--out` of `vis saliency` / `vis cam` (before the method is known).

    Args:
        images: The input image files.
        out: `--out`: a file (`FILE_FORMATS`, one image only), a folder, or `None`
            (`vis_out/`).

    Returns:
        The output file when `out` names one, else `None` (a folder).

    Raises:
        UsageError: A file name with several images, an unsupported format, a path that cannot
            be written, or an output file that is an input file.
    """
    ext = os.path.splitext(out)[1].lower() if out else ""
    is_dir = out is not None and os.path.isdir(out)
    if out is not None and not is_dir and ext in FILE_FORMATS:
        if len(images) != 1:
            raise UsageError(
                f"--out {out!r} is a single {ext} file but {len(images)} images were given; "
                "give a folder (a name without a file extension) instead"
            )
        check_out_file(out)
        check_no_overwrite([out], images)
        return out
    if out is not None and not is_dir and ext in _NOT_WRITABLE:
        raise UsageError(
            f"--out {out!r}: cannot write {ext} files; give a {', '.join(FILE_FORMATS)} file "
            "(one image) or a folder"
        )
    check_out_dir(out or DEFAULT_FOLDER)
    return None


def output_paths(images: Sequence[str], out: str | None, tag: str) -> list[str]:
    """One output figure per image: `out` itself (a file, one image) or files in a folder.

    Args:
        images: The input image files.
        out: `--out` (checked by `check_out`).
        tag: The method's part of the file names, e.g. `"gradcampp"`:
            `<folder>/<image stem>_<tag>.png`.

    Returns:
        The figure paths, one per image.
    """
    if check_out(images, out) is not None:
        return [out]
    folder = out or DEFAULT_FOLDER
    stems = [os.path.splitext(os.path.basename(p))[0] for p in images]
    names = [f"{s}_{tag}.png" for s in stems]
    if len(set(names)) != len(names):
        names = [f"{i:03d}_{s}_{tag}.png" for i, s in enumerate(stems)]
    return [os.path.join(folder, n) for n in names]
