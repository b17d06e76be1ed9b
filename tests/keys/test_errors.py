"""The error tree: fixed messages, operator attributes, and survival across processes."""

from __future__ import annotations

import pickle

import pytest

from keys import errors


@pytest.mark.parametrize(
    "error",
    [
        errors.ManifestError("the manifest has no instanceID"),
        errors.MissingFile("a.jpg.enc"),
        errors.DecryptionFailed("payload", "a.jpg.enc"),
        errors.DecryptionFailed("unwrap"),
        errors.UnsealFailed(),
        errors.KeyImportError("not a PEM private key"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_errors_pickle_with_their_attributes(error: errors.KeysError) -> None:
    back = pickle.loads(pickle.dumps(error))  # noqa: S301 (our own bytes, just made)
    assert type(back) is type(error)
    assert str(back) == str(error)
    assert vars(back) == vars(error)
    assert isinstance(back, errors.KeysError)


def test_decryption_failed_message_is_fixed() -> None:
    for error in (errors.DecryptionFailed("unwrap"), errors.DecryptionFailed("payload", "x.enc")):
        assert str(error) == "submission could not be decrypted"
        assert "x.enc" not in str(error)
        assert error.args == ("submission could not be decrypted",)


def test_manifest_error_is_a_value_error() -> None:
    assert issubclass(errors.ManifestError, ValueError)
    assert not issubclass(errors.DecryptionFailed, ValueError)


def test_tree_is_drawn_in_the_docstring() -> None:
    assert errors.__doc__ is not None
    for name in errors.__all__:
        assert name in errors.__doc__
