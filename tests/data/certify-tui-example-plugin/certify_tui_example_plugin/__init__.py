"""An example dns-01 provider shipped as its own package: TXT records kept in a JSON file.

It shows what a third-party plug-in needs: a DnsProvider subclass with an id, a title and its declared
parameters, `create_txt`/`delete_txt`, and an entry point in the group `certify_tui.challenge_providers`.
The shared dns-01 machinery (record names, CNAME delegation, propagation checks) comes with the base class.
"""

from __future__ import annotations

import json
from pathlib import Path

from certify_tui.challenges.dns.base import PROPAGATION_PARAMS, DnsProvider, TxtRecord
from certify_tui.plugins import Param, StepLogger


class ZoneFileDnsProvider(DnsProvider):
    id = "example-zonefile"
    title = "Example plug-in: TXT records in a JSON file"
    description = "Keeps TXT records in a JSON file (a test plug-in, installed from tests/data)."
    params = (
        Param("records_file", "Records file", type="path", required=True,
              help="The JSON file holding the records ({name: [values]})."),
        *PROPAGATION_PARAMS,
    )

    def describe(self) -> str:
        return f"TXT records in {self.options['records_file']}"

    def create_txt(self, record: TxtRecord, log: StepLogger) -> None:
        records = self._read()
        records.setdefault(record.fqdn, []).append(record.value)
        self._write(records)
        log.info(f"example plug-in: added TXT {record.fqdn}", record.identifier)

    def delete_txt(self, record: TxtRecord, log: StepLogger) -> None:
        records = self._read()
        values = [v for v in records.get(record.fqdn, []) if v != record.value]
        if values:
            records[record.fqdn] = values
        else:
            records.pop(record.fqdn, None)
        self._write(records)

    def _read(self) -> dict[str, list[str]]:
        path = Path(self.options["records_file"]).expanduser()
        return json.loads(path.read_text()) if path.exists() else {}

    def _write(self, records: dict[str, list[str]]) -> None:
        Path(self.options["records_file"]).expanduser().write_text(json.dumps(records, indent=1))
