"""`certify-tui sites`: the nginx server blocks and Apache virtual hosts a certificate can deploy to."""

from __future__ import annotations

import argparse

from certify_tui.cli.output import print_json, print_table
from certify_tui.cli.parser import Subcommands
from certify_tui.lifecycle import Core


def register(sub: Subcommands) -> None:
    sites = sub.add_parser("sites", help="list the web server sites found in the nginx and Apache configurations",
                           description="List nginx server blocks and Apache virtual hosts. The configuration "
                                       "files default to the nginx_config / apache_config settings, else the "
                                       "installed servers' own (nginx -V, apachectl -V, the usual paths); "
                                       "'off' skips a server.")
    sites.add_argument("--json", action="store_true", help="print JSON for scripts")
    sites.add_argument("--nginx-config", metavar="PATH", help="nginx main configuration file (e.g. /etc/nginx/nginx.conf)")
    sites.add_argument("--apache-config", metavar="PATH",
                       help="Apache main configuration file (e.g. /etc/apache2/apache2.conf)")
    sites.set_defaults(run=_list)


def _list(core: Core, args: argparse.Namespace) -> int:
    found = core.discover_sites(args.nginx_config, args.apache_config)
    if args.json:
        print_json([site.to_dict() for site in found])
        return 0
    rows = [(site.id, ", ".join(site.hostnames) or "-", ", ".join(str(p) for p in site.ports),
             "yes" if site.tls else "no", site.certificate or "-", site.location)
            for site in found]
    print_table(["id (for --site)", "hostnames", "ports", "tls", "certificate", "location"], rows,
                empty="No nginx or Apache sites found (give --nginx-config or --apache-config).")
    return 0
