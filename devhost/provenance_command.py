"""`donatello provenance verify FILE`: is this image ours, and does the log agree?

Reads the image's Content Credentials and the local log in place, through the same
service as `POST /api/v1/provenance/verify`, and prints its JSON report. Exit 0 only
for an authentic image; 1 for any other verdict (no credentials, tampered, not ours,
the log disagrees); 2 when the file cannot be read as a PNG, JPEG or WebP image.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from services.provenance import verify_image


def add_provenance_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    provenance = commands.add_parser(
        "provenance", help="check an image's Content Credentials against the log"
    )
    actions = provenance.add_subparsers(dest="provenance_command", required=True)
    verify = actions.add_parser("verify", help="exit 0 only if the image is ours and untouched")
    verify.add_argument("file", type=Path)
    verify.set_defaults(run=_verify)


def _verify(args: argparse.Namespace) -> int:
    from bootstrap import platform

    try:
        report = verify_image(platform(), args.file.read_bytes())
    except (OSError, ValueError) as error:
        print(f"cannot verify {args.file}: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report.as_json(), indent=2))
    return 0 if report.ok else 1
