"""`certify-tui import ...` and `certify-tui export ...`: bringing certificates in and moving installations.

Each source has its own module registering its sub-command here (certbot, csv, bundle)."""

from __future__ import annotations

from certify_tui.cli import import_certbot, import_csv, transfer_bundle
from certify_tui.cli.parser import Subcommands


def register(sub: Subcommands) -> None:
    importing = sub.add_parser("import", help="bring certificates in: from certbot, a CSV file or a bundle")
    sources = importing.add_subparsers(dest="source", metavar="SOURCE", required=True)
    import_certbot.register_import(sources)
    import_csv.register_import(sources)
    transfer_bundle.register_import(sources)

    exporting = sub.add_parser("export", help="write the certificates to a CSV file or a whole installation "
                                              "to an encrypted bundle")
    targets = exporting.add_subparsers(dest="target", metavar="TARGET", required=True)
    import_csv.register_export(targets)
    transfer_bundle.register_export(targets)
