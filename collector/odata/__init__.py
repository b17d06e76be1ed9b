"""OData on pseudonymised data, as ODK Central serves it (pyodk, Excel, Power BI).

A form's records are published as a service document, a CSDL ``$metadata`` document and one
entity set per table (``Submissions`` and ``Submissions.<repeat>``), with ``$top``, ``$skip``,
``$count``, ``$filter``, ``$select``, ``$expand=*``, ``$wkt``, ``$orderby`` and
``@odata.nextLink`` paging.
Rows are built from the dataset renderer, so readers see pseudonyms and generalised values, and
sensitive values only when their role allows; no original ever leaves through OData.

    edm.py      the data model: names, types, CSDL, service document
    values.py   rendered text -> typed JSON values (numbers, GeoJSON, WKT)
    rows.py     records -> rows shaped as Central's
    filter.py   the $filter subset: parse, SQL for metadata, Python for the rest
    kinds.py    reading values and literals as a property's kind (number, date, …)
    query.py    query options, resource paths, $select, filter names, $skiptoken
    service.py  rows, counts and next links over streamed records, as streamed JSON
    errors.py   the problems, with Central's codes
"""

from __future__ import annotations

from collector.odata.service import dumps, metadata, open_schema, read, service_document

JSON_TYPE = "application/json;odata.metadata=minimal"

__all__ = ["JSON_TYPE", "dumps", "metadata", "open_schema", "read", "service_document"]
