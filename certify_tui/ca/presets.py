"""Well-known ACME CAs, so users type a name instead of a directory URL."""

from __future__ import annotations

from dataclasses import dataclass

from certify_tui.errors import UsageError


@dataclass(frozen=True)
class CAPreset:
    name: str
    title: str
    directory_url: str
    needs_eab: bool = False
    staging: bool = False


PRESETS: dict[str, CAPreset] = {
    p.name: p
    for p in (
        CAPreset("letsencrypt", "Let's Encrypt", "https://acme-v02.api.letsencrypt.org/directory"),
        CAPreset(
            "letsencrypt-staging",
            "Let's Encrypt (staging)",
            "https://acme-staging-v02.api.letsencrypt.org/directory",
            staging=True,
        ),
        CAPreset("zerossl", "ZeroSSL", "https://acme.zerossl.com/v2/DV90", needs_eab=True),
        CAPreset("buypass", "Buypass Go SSL", "https://api.buypass.com/acme/directory"),
        CAPreset(
            "buypass-test", "Buypass Go SSL (test)", "https://api.test4.buypass.no/acme/directory", staging=True
        ),
        CAPreset("google", "Google Trust Services", "https://dv.acme-v02.api.pki.goog/directory", needs_eab=True),
        CAPreset(
            "google-staging",
            "Google Trust Services (staging)",
            "https://dv.acme-v02.test-api.pki.goog/directory",
            needs_eab=True,
            staging=True,
        ),
    )
}


def resolve_ca(name_or_url: str) -> tuple[str, str]:
    """(preset name or '', directory URL) for a preset name or an https:// directory URL."""
    value = name_or_url.strip()
    preset = PRESETS.get(value.lower())
    if preset:
        return preset.name, preset.directory_url
    if value.startswith("https://") or value.startswith("http://"):
        for p in PRESETS.values():
            if p.directory_url == value:
                return p.name, value
        return "", value
    raise UsageError(
        f"Unknown CA '{value}': use one of {', '.join(PRESETS)} or a directory URL starting with https://."
    )
