"""OData problems, with ODK Central's codes so that its clients recognise them.

CollectorError
 ├─ InvalidInput
 │   ├─ BadOption            400.11  a query option that is not of its type ($top=abc)
 │   ├─ UnparseableFilter    400.18  a $filter that does not parse
 │   ├─ PropertyNotFound     400.23  a $select or $filter property the table does not have
 │   └─ UnsupportedSelect    400.24  a $select of a field inside a repeat
 └─ ODataNotImplemented      501.x   an OData feature this server does not offer

Messages never repeat literal values from a filter: a filter may name a person, and 5xx
problems are logged.
"""

from __future__ import annotations

from collector.errors import CollectorError, InvalidInput


class BadOption(InvalidInput):
    code = 400.11


class UnparseableFilter(InvalidInput):
    code = 400.18

    def __init__(self, reason: str, at: int) -> None:
        super().__init__(
            f"The OData filter expression you provided could not be parsed: {reason} "
            f"(at character {at})",
            reason=reason,
            at=at,
        )


class PropertyNotFound(InvalidInput):
    code = 400.23

    def __init__(self, prop: str) -> None:
        shown = prop[:100]
        super().__init__(f"Could not find a property named '{shown}'", property=shown)


class UnsupportedSelect(InvalidInput):
    code = 400.24

    def __init__(self, prop: str) -> None:
        shown = prop[:100]
        super().__init__(
            f"The given OData select property '{shown}' uses features not supported by this "
            "server.",
            property=shown,
        )


class ODataNotImplemented(CollectorError):
    """501.1 (a feature), 501.4 (a filter construct), 501.6 ($expand), 501.11 ($select+$expand)."""

    code = 501.1
    default_message = "The requested feature is not supported by this server."
