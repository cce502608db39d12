"""``python -m fastsync``: where the extension API is installed.

``--cmake-dir`` prints the folder of fastsync's CMake package (pass it as ``fastsync_DIR``
to ``find_package(fastsync CONFIG)``), ``--include-dir`` the headers' root and
``--lib-dir`` the folder of libfastsync. docs/extensions.md shows a whole project.
"""

import argparse
import pathlib
import sys

from . import _core


def _root() -> pathlib.Path:
    # The installed files sit beside the compiled module (an editable install keeps
    # the Python sources elsewhere, so fastsync.__file__ would not do).
    return pathlib.Path(_core.__file__).resolve().parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fastsync", description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--cmake-dir", action="store_true", help="folder of fastsyncConfig.cmake")
    group.add_argument("--include-dir", action="store_true", help="root of the public headers")
    group.add_argument("--lib-dir", action="store_true", help="folder of libfastsync")
    args = parser.parse_args(argv)
    root = _root()
    if args.cmake_dir:
        path = root / "share" / "cmake" / "fastsync"
    elif args.include_dir:
        path = root / "include"
    else:
        path = root / "lib"
    if not path.is_dir():
        print(
            f"fastsync: {path} does not exist: this fastsync was not installed with its "
            "extension API (build it with pip install, not a bare CMake build)",
            file=sys.stderr,
        )
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
