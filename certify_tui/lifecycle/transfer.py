"""The use cases that move certificates in and out of an installation: certbot lineages, certificates issued
elsewhere, CSV files, encrypted bundles. A part of `Core` (its base class), kept apart to keep each file small."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from certify_tui.lifecycle import certificates, csv_export, csv_import, settings
from certify_tui.lifecycle.csv_export import CsvExport
from certify_tui.lifecycle.csv_import import CsvImport
from certify_tui.paths import DataDir
from certify_tui.store.models import ManagedCertificate

if TYPE_CHECKING:
    from certify_tui.lifecycle.bundle_plan import BundlePlan
    from certify_tui.lifecycle.cert_import import CertificateBundle
    from certify_tui.lifecycle.import_certbot import CertbotImport


class TransferUseCases:
    data: DataDir  # set by Core

    # -- encrypted bundles: a whole installation moved to another data folder ---------------------------
    def export_bundle(self, target: str, passphrase: str) -> dict[str, Any]:
        """Write everything (accounts with keys, credentials with secrets, certificates with settings, tasks
        and current files, settings) to `target`, encrypted with the passphrase; a summary."""
        from certify_tui.lifecycle.bundle_export import export_bundle

        return export_bundle(self.data, target, passphrase)

    def plan_bundle_import(self, source: str, passphrase: str, *, replace: bool = False) -> BundlePlan:
        """What importing the bundle would do, item by item (new, changed, conflict...); nothing is written."""
        from certify_tui.lifecycle.bundle_plan import plan_import

        return plan_import(source, passphrase, replace=replace)

    def import_bundle(self, plan: BundlePlan) -> dict[str, Any]:
        """Apply a plan from `plan_bundle_import` in one transaction, whole or not at all."""
        from certify_tui.lifecycle.bundle_apply import apply_import

        return apply_import(self.data, plan)

    # -- CSV bulk import and export ------------------------------------------------------------------
    def import_csv(self, text: str, *, dry_run: bool = False, skip_invalid: bool = False,
                   replace: bool = False) -> CsvImport:
        """Every row validated as `cert add` does, then the valid ones stored in one transaction (none when a
        row is invalid, unless `skip_invalid`); names already managed are skipped unless `replace`."""
        return csv_import.import_csv(text, dry_run=dry_run, skip_invalid=skip_invalid, replace=replace)

    def export_csv(self, tags: list[str] | None = None) -> CsvExport:
        """The certificates (those with all of `tags`) in the columns `import_csv` reads, and what is left out."""
        return csv_export.export_csv(certificates.list_certificates(tags or ()), settings.get_default_rule())

    def import_certbot(self, config_dir: str | None = None, *, dry_run: bool = False, ca_bundle: str | None = None,
                       allow_internal_names: bool = False) -> CertbotImport:
        """certbot's lineages (and their accounts) taken over; with `dry_run`, only what each would become."""
        from certify_tui.lifecycle.import_certbot import run_import

        return run_import(self.data, config_dir, dry_run=dry_run, ca_bundle=ca_bundle,
                          allow_internal_names=allow_internal_names)

    def import_certificate(self, name: str, bundle: CertificateBundle, **kwargs: Any) -> ManagedCertificate:
        """A certificate issued elsewhere (read with lifecycle.cert_import.from_pem/from_pfx) made a managed
        one, its files the current version; keywords: account, challenge, provider, options, credential."""
        from certify_tui.lifecycle.cert_import import import_certificate

        return import_certificate(self.data, name, bundle, **kwargs)
