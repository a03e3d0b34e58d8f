"""Reading a CSV file into rows (no database): line numbers as an editor shows them, the header's checks, and
the tag rules every face shares."""

from __future__ import annotations

import pytest

from certify_tui.errors import UsageError
from certify_tui.lifecycle.csv_import import read_rows, spec_from_row
from certify_tui.lifecycle.tags import changed_tags, check_tags, has_tags


def test_csv_rows_carry_the_line_they_start_on() -> None:
    text = ("\ufeffName, DOMAINS ,tags\r\n"  # Excel's BOM and CRLF, any case, spaces around names
            "a,a.example.test,x\r\n"
            "\r\n"
            '"b","b.example.test;\nc.example.test",y\r\n'  # a quoted cell over two lines
            "c,c.example.test\r\n")  # a short row: the missing cells are empty
    rows = read_rows(text)
    assert [line for line, _ in rows] == [2, 4, 6]
    assert rows[1][1] == {"name": "b", "domains": "b.example.test;\nc.example.test", "tags": "y"}
    assert rows[2][1] == {"name": "c", "domains": "c.example.test"}


@pytest.mark.parametrize(("text", "message"), [
    ("", "The file is empty"),
    ("\n\n", "The file is empty"),
    ("name,domains,primary,tgas\n", "Unknown columns 'primary' (did you mean 'primary_domain'?), 'tgas' (did you "
                                    "mean 'tags'?) in the header (line 1)"),
    ("\nname,,domains\n", "Column 2 has no name in the header (line 2)"),
    ("name,domains,Name\n", "The header names 'name' more than once."),
    ("domains,tags\n", "The header has no 'name' column"),
])
def test_csv_header_problems_are_one_clear_error(text: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        read_rows(text)
    assert message in caught.value.message


def test_csv_row_with_too_many_cells_is_that_rows_problem() -> None:
    rows = read_rows("name,domains,,\na,a.example.test,,\nb,b.example.test,oops\n")  # trailing commas: fine
    assert rows[0][1] == {"name": "a", "domains": "a.example.test"}  # trailing empty cells: fine
    with pytest.raises(UsageError, match="3 cells, the header names 2 columns \\('oops' beyond the last\\)"):
        spec_from_row(rows[1][1])


def test_csv_row_settings_become_the_spec_cert_add_builds() -> None:
    spec = spec_from_row({"name": " web ", "domains": "www.example.test; example.test;", "primary_domain":
                          "example.test", "renew_percent": "70%", "auto_renew": "No", "deploy": "single",
                          "site": "nginx:/etc/nginx/sites-enabled/web:1", "tags": "b;a;B", "key_type": "rsa2048"})
    assert (spec.name, spec.domains) == ("web", ["example.test", "www.example.test"])
    assert (spec.renewal and spec.renewal.value, spec.auto_renew, spec.tags) == (70, False, ["a", "b"])
    assert (spec.deployment_mode, spec.deployment_site, spec.key_type) == (
        "single", "nginx:/etc/nginx/sites-enabled/web:1", "rsa2048")
    with pytest.raises(UsageError) as caught:
        spec_from_row({"name": "web", "domains": "example.test", "auto_renew": "maybe"})
    assert caught.value.field == "auto_renew"
    with pytest.raises(UsageError) as caught:
        spec_from_row({"name": "", "domains": "example.test"})
    assert caught.value.field == "name"
    with pytest.raises(UsageError) as caught:
        spec_from_row({"name": "web", "domains": " ; "})
    assert caught.value.field == "domains"


def test_tags_are_checked_sorted_and_kept_once() -> None:
    assert check_tags([" prod", "EU-west", "prod", "Prod", "team:ops/a.b"]) == ["EU-west", "prod", "team:ops/a.b"]
    for bad in ("", "two words", "=cmd()", "-flag", "a;b", "x" * 65, "_x"):
        with pytest.raises(UsageError) as caught:
            check_tags([bad])
        assert caught.value.field == "tags"
    with pytest.raises(UsageError, match="at most 50 tags"):
        check_tags([f"t{i}" for i in range(51)])


def test_tag_changes_replace_add_and_remove() -> None:
    assert changed_tags(["a", "b"], add=["c"], remove=["A"]) == ["b", "c"]
    assert changed_tags(["a", "b"], replace=[]) == []
    assert changed_tags(["a"], replace=["z"], add=["y"]) == ["y", "z"]
    with pytest.raises(UsageError, match="'nope' is not one of this certificate's tags \\(a\\)"):
        changed_tags(["a"], remove=["nope"])
    assert has_tags(["Prod", "web"], ["prod"]) and has_tags(["a"], []) and not has_tags(None, ["a"])
