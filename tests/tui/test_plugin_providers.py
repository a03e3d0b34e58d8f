"""A provider from another package (tests/data/certify-tui-example-plugin, installed by `make install`) is
offered by the editor like ours: driven by keys and widget ids only."""

from __future__ import annotations

from textual.widgets import Label, OptionList, Select
from tui_helpers import add_account, fresh_core, wait_until

EXAMPLE_ID = "example-zonefile"


def offered(select: Select[str]) -> list[str]:
    """The option prompts a person sees when the Select opens (its overlay is an OptionList)."""
    overlay = select.query_one(OptionList)
    return [str(overlay.get_option_at_index(i).prompt) for i in range(overlay.option_count)]


async def test_the_example_plugin_is_offered_for_dns01(make_app) -> None:
    core = fresh_core("editor-plugin-provider")
    add_account()
    app = make_app(core)
    async with app.run_test(size=(100, 30)) as pilot:
        app.open_editor(None)
        await wait_until(pilot, lambda: bool(app.screen.query("#rule-challenge")))
        await pilot.pause()
        screen = app.screen
        await pilot.press("ctrl+right")  # Domains -> Validation
        await pilot.pause()
        challenge = screen.query_one("#rule-challenge", Select)
        challenge.focus()
        await pilot.pause()
        await pilot.press("enter", "down", "enter")  # http-01 -> dns-01
        provider = screen.query_one("#rule-provider", Select)
        # Ours still come first: the default provider for dns-01 is unchanged.
        await wait_until(pilot, lambda: challenge.value == "dns-01" and provider.value == "manual")

        prompts = offered(provider)
        ids = [prompt.split()[0] for prompt in prompts if prompt.strip() and prompt != "none"]
        assert f"{EXAMPLE_ID}  Example plug-in: TXT records in a JSON file" in prompts
        # After our own providers, before the ~90 DNS-API ones.
        assert ids.index(EXAMPLE_ID) == ids.index("script") + 1
        assert ids[ids.index(EXAMPLE_ID) + 1].startswith("lexicon-")

        provider.focus()
        await pilot.press("enter")
        await pilot.pause()
        overlay = provider.query_one(OptionList)
        target = next(i for i, prompt in enumerate(prompts) if prompt.startswith(EXAMPLE_ID))
        await pilot.press(*["down"] * (target - (overlay.highlighted or 0)), "enter")
        await wait_until(pilot, lambda: provider.value == EXAMPLE_ID)
        # Its declared parameters become the form, as for any provider.
        await wait_until(pilot, lambda: bool(screen.query("#label-records_file")))
        description = str(screen.query_one("#provider-description", Label).render())
        assert "Keeps TXT records in a JSON file" in description
