"""mig.urls: a password is masked whatever else is wrong with the URL."""

from __future__ import annotations

import pytest
from mig import ConfigError
from mig.urls import malformed_url, mask_url, unencoded_in_password


@pytest.mark.parametrize(("url", "shown"), [
    # well formed
    ("postgresql://u:pw@h:5432/db", "postgresql://u:***@h:5432/db"),
    ("postgresql://u:p%40w@h/db?schema=s", "postgresql://u:***@h/db?schema=s"),
    ("postgresql://u@h/db", "postgresql://u@h/db"),
    ("postgresql://h/db", "postgresql://h/db"),
    ("postgresql:///db", "postgresql:///db"),
    ("mysql://u:@h/db", "mysql://u:@h/db"),
    ("postgresql://:pw@h/db", "postgresql://:***@h/db"),
    ("postgresql://u:pw@[::1]:5432/db", "postgresql://u:***@[::1]:5432/db"),
    ("sqlite:///app.db", "sqlite:///app.db"),
    # a password holding what ends the user part early
    ("postgresql://u:p/a#s?s@h/db", "postgresql://u:***@h/db"),
    ("postgresql://u:p/w@h/db", "postgresql://u:***@h/db"),
    ("postgresql://u:p#w@h/db", "postgresql://u:***@h/db"),
    ("postgresql://u:p?w@h/db", "postgresql://u:***@h/db"),
    ("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"),
    ("mysql://u:a@b/c?d#e@h:3306/db?charset=x", "mysql://u:***@h:3306/db?charset=x"),
    ("postgresql://u:p:w@h/db", "postgresql://u:***@h/db"),
    # other faults as well
    ("postgresql://u:pw@[::1/db", "postgresql://u:***@[::1/db"),
    ("postgresql://u:pw@h:port/db", "postgresql://u:***@h:port/db"),
    ("postgresql://u:pw@h/%zz", "postgresql://u:***@h/%zz"),
    ("nonsense://u:pw@", "nonsense://u:***@"),
    # password parameters, alone or with a user-part password
    ("postgresql://h/db?sslmode=require&password=pw",
     "postgresql://h/db?sslmode=require&password=***"),
    ("postgresql://h/db?PASSWORD=pw#x&a=1", "postgresql://h/db?PASSWORD=***&a=1"),
    ("postgresql://u:pw@h/db?password=q", "postgresql://u:***@h/db?password=***"),
    ("postgresql://h:5432/db?password=a@b", "postgresql://h:***"),
    # a libpq keyword string
    ("host=h password=secret dbname=x", "host=h password=*** dbname=x"),
    ("host=h password='a b' dbname=x", "host=h password=*** dbname=x"),
])
def test_mask_url(url: str, shown: str) -> None:
    assert mask_url(url) == shown


@pytest.mark.parametrize("secret", ["p/a#s?s", "p@ss", "s3cr/t", "a?b", "x#y", "p@s/s", "::::"])
def test_no_shape_of_password_shows(secret: str) -> None:
    for url in (f"postgresql://u:{secret}@h/db", f"mysql://u:{secret}@h:1/db?charset=utf8",
                f"postgresql://u:{secret}@[::1/db", f"postgresql://u:{secret}@h:x/a/b#c"):
        assert secret not in mask_url(url)
        assert "***" in mask_url(url)


def test_an_at_in_a_query_masks_too_much_never_too_little() -> None:
    # The user part might run to the last '@': when it does not, more is hidden than needed.
    assert mask_url("postgresql://u:pw@h/db?application_name=me@there") == (
        "postgresql://u:***@there"
    )


@pytest.mark.parametrize(("url", "found"), [
    ("postgresql://u:p/a#s?s@h/db", "/?#"),
    ("postgresql://u:p@ss@h/db", "@"),
    ("postgresql://u:pw@h/db", ""),
    ("postgresql://u@h/db", ""),
    ("postgresql://h/db", ""),
])
def test_unencoded_in_password(url: str, found: str) -> None:
    assert unencoded_in_password(url) == found


def test_malformed_url_blames_the_password_without_showing_it() -> None:
    error = malformed_url("postgresql", "postgresql://u:p/a#s?s@h/db", "the port must be a number")
    assert isinstance(error, ConfigError) and error.exit_code == 2
    text = str(error)
    assert "p/a#s?s" not in text and "'postgresql://u:***@h/db'" in text
    assert "percent-encode" in text and "%2F" in text
    plain = malformed_url("postgresql", "postgresql://u:pw@h:x/db", "the port must be a number")
    assert str(plain).endswith(": the port must be a number")
    kept = malformed_url("mysql", "postgresql://u:p/w@h/db", "expected mysql://", hint=False)
    assert str(kept).endswith(": expected mysql://") and "p/w" not in str(kept)
