"""Where ``chaosflow serve`` takes its bearer token from: ``--token``, ``--token-file`` or
``$CHAOSFLOW_TOKEN``, in that order.

A token on the command line is visible to every local user (``ps``); a file (readable by its
owner only, say) or the environment is not. The file holds the token on its first line.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

TOKEN_ENV = "CHAOSFLOW_TOKEN"
MAX_TOKEN_FILE_BYTES = 4096


class TokenError(Exception):
    """The token file cannot be read, or holds no token."""


def add_token_arguments(parser: argparse.ArgumentParser) -> None:
    """``--token`` and ``--token-file`` on ``serve``."""
    parser.add_argument(
        "--token",
        help=f"bearer token (visible in ps: prefer --token-file or ${TOKEN_ENV}); required "
        "when not bound to loopback",
    )
    parser.add_argument(
        "--token-file", metavar="FILE", help="read the bearer token from FILE (its first line)"
    )


def resolve_token(args: argparse.Namespace, environ: dict[str, str] | None = None) -> str | None:
    """The token to serve with, or None for none at all."""
    if args.token is not None and args.token_file is not None:
        raise TokenError("--token and --token-file both given; pass one.")
    if args.token is not None:
        return str(args.token)
    if args.token_file is not None:
        path = Path(args.token_file)
        try:
            if path.stat().st_size > MAX_TOKEN_FILE_BYTES:
                raise TokenError(
                    f"--token-file={str(path)!r} is over {MAX_TOKEN_FILE_BYTES} bytes; it "
                    "must hold the token on its first line."
                )
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise TokenError(f"--token-file={str(path)!r} cannot be read ({error}).") from None
        token = lines[0].strip() if lines else ""
        if not token:
            raise TokenError(f"--token-file={str(path)!r} holds no token on its first line.")
        return token
    value = (environ if environ is not None else os.environ).get(TOKEN_ENV)
    return value if value else None
